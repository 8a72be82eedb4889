#!/usr/bin/env python3
"""Generate the golden optimizer traces under tests/data/golden/.

Run with the venv's python (see README.md):
    tools/golden/.venv/bin/python tools/golden/make_traces.py [--groups g1,g2,...]

Each framework runs in its own subprocess (KERAS_BACKEND differs per process; PyTorch
1.13 runs under Debian's /usr/bin/python3).  Emulated presets run here, in NumPy.
With --groups only those groups are regenerated; the other manifest entries are kept.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import numerics  # noqa: E402
from common import CHECKPOINTS, OUT, TENSORS  # noqa: E402

HERE = common.HERE
VENV_PY = sys.executable
DEBIAN_PY = "/usr/bin/python3"
# Keras 2.0.4's two environments (tools/golden/keras2/setup.sh makes them).
KERAS2_VENVS = os.environ.get("KERAS2_VENVS", os.path.join(HERE, "keras2"))
THEANO_PY = os.path.join(KERAS2_VENVS, ".venv-theano", "bin", "python")
THEANO_105_PY = os.path.join(KERAS2_VENVS, ".venv-theano-1.0.5", "bin", "python")
KERAS2_TF_PY = os.path.join(KERAS2_VENVS, ".venv-tf", "bin", "python")
# Theano compiles its fused loops with g++ -O3 -march=native; a fresh compile
# directory per run keeps an old cache (another Theano, another CPU) out.
THEANO_ENV = {"KERAS_BACKEND": "theano",
              "THEANO_FLAGS": "floatX=float32,device=cpu,blas.ldflags=-lopenblas,"
                              "base_compiledir=%s" % os.path.join(tempfile.gettempdir(), "parity-theano")}

OPTIMIZERS = ["adam", "adadelta", "sgd", "sgd_momentum", "sgd_nesterov"]

# group -> (python, script, env, presets, optimizers, diagnostic presets)
GROUPS = {
    "torch": (VENV_PY, "run_torch.py", {}, ["pytorch", "pytorch_foreach", "pytorch_fused"],
              OPTIMIZERS, []),
    "torch113": (DEBIAN_PY, "run_torch.py", {}, ["pytorch_1_13", "pytorch_1_13_foreach"],
                 OPTIMIZERS, []),
    "tf": (VENV_PY, "run_tf.py", {}, ["tf_raw"], OPTIMIZERS, []),
    "keras3_tf": (VENV_PY, "run_keras3.py", {"KERAS_BACKEND": "tensorflow"},
                  ["keras3_tf", "keras3_tf_eager"], OPTIMIZERS, ["keras3_tf_eager"]),
    "keras3_jax": (VENV_PY, "run_keras3.py", {"KERAS_BACKEND": "jax"},
                   ["keras3_jax", "keras3_jax_eager"], OPTIMIZERS, ["keras3_jax_eager"]),
    "keras3_torch": (VENV_PY, "run_keras3.py", {"KERAS_BACKEND": "torch"},
                     ["keras3_torch"], OPTIMIZERS, []),
    "optax": (VENV_PY, "run_optax.py", {}, ["optax", "optax_nojit"], OPTIMIZERS, ["optax_nojit"]),
    "keras2_theano": (THEANO_PY, "run_keras2.py", THEANO_ENV, ["keras2_theano"], OPTIMIZERS, []),
    "keras2_theano_1_0_5": (THEANO_105_PY, "run_keras2.py", THEANO_ENV, ["keras2_theano_1_0_5"],
                            OPTIMIZERS, []),
    "lasagne": (THEANO_PY, "run_lasagne.py", THEANO_ENV, ["lasagne_0_1"], ["adam", "adadelta"], []),
    "keras2_tf": (KERAS2_TF_PY, "run_keras2.py", {"KERAS_BACKEND": "tensorflow"},
                  ["keras2_tensorflow", "keras2_tensorflow_raced"], OPTIMIZERS,
                  ["keras2_tensorflow_raced"]),
    "emulated": (None, None, {}, list(numerics.EMULATED), OPTIMIZERS, []),
}

PRESET_DOC = {
    "tf_raw": "TensorFlow raw CPU kernels ResourceApplyAdam / ResourceApplyAdadelta / "
              "ResourceApplyGradientDescent / ResourceApplyKerasMomentum, eager, beta powers "
              "kept as TF1 AdamOptimizer does (float32 running product)",
    "keras3_tf": "Keras 3, TensorFlow backend, step in tf.function (no XLA: CPU-only machine)",
    "keras3_tf_eager": "Keras 3, TensorFlow backend, eager optimizer.apply (diagnostic)",
    "keras3_jax": "Keras 3, JAX backend, jax.jit(optimizer.stateless_apply) (XLA:CPU)",
    "keras3_jax_eager": "Keras 3, JAX backend, eager optimizer.apply, op by op (diagnostic)",
    "keras3_torch": "Keras 3, torch backend (torch._foreach_* formula, reference sec. 4.5)",
    "pytorch": "torch.optim, single-tensor path (foreach=False)",
    "pytorch_foreach": "torch.optim, foreach=True (on CPU: per-tensor fallbacks of _foreach_*)",
    "pytorch_fused": "torch.optim, fused=True (CPU fused kernels)",
    "pytorch_1_13": "torch.optim of PyTorch 1.13.1 (Debian python3-torch), foreach=False",
    "pytorch_1_13_foreach": "torch.optim of PyTorch 1.13.1 (Debian python3-torch), foreach=True",
    "optax": "optax, one jax.jit'ed step (update + apply_updates) on XLA:CPU",
    "optax_nojit": "optax under jax.disable_jit(), op by op (diagnostic)",
    "keras2_theano": "Keras 2.0.4 on Theano 0.9.0 (floatX=float32, CPU), Keras' own update "
                     "function, one call per step",
    "keras2_theano_1_0_5": "Keras 2.0.4 on Theano 1.0.5 (floatX=float32, CPU), as keras2_theano",
    "keras2_tensorflow": "Keras 2.0.4 on TensorFlow 2.21 graph mode (tf.compat.v1), Keras' own "
                         "update ops, its iterations increment run after each step (race-free)",
    "keras2_tensorflow_raced": "Keras 2.0.4 on TensorFlow 2.21 graph mode, Keras' update list as "
                               "it is: the iterations read races its increment (diagnostic)",
    "keras2_tensorflow_t_ahead": "EMULATED Keras 2.0.4 + TF 1.2 with the iterations race "
                                 "resolved as t = new+1",
    "lasagne": "EMULATED lasagne.updates (master), Theano floatX=float32",
    "lasagne_0_1": "Lasagne 0.1 (PyPI) lasagne.updates on Theano 0.9.0, floatX=float32, CPU",
    "flashlight": "EMULATED flashlight fl::AdamOptimizer / fl::AdadeltaOptimizer, no FMA",
    "paper": "EMULATED paper algorithms; constants and bias corrections from double, "
             "every tensor op one float32 rounding",
}

STATE_MEANING = {
    "param": "the parameter",
    "m": "Adam first moment",
    "v": "Adam second moment (raw, not bias corrected)",
    "accum_grad": "Adadelta E[g^2]",
    "accum_update": "Adadelta E[dx^2]",
    "momentum": "SGD momentum buffer, in the framework's own convention (see call)",
}


def jobs_for(presets, optimizers):
    jobs = []
    for preset in presets:
        for opt in optimizers:
            for hpset, hp, note in common.hp_sets(preset, opt):
                if preset in numerics.EMULATED and opt.startswith("sgd"):
                    if "sgd" not in numerics.EMULATED[preset]:
                        continue
                elif preset in numerics.EMULATED and opt not in numerics.EMULATED[preset]:
                    continue
                jobs.append({"preset": preset, "optimizer": opt, "hpset": hpset,
                             "hparams": hp, "hparams_note": note})
    return jobs


def run_subprocess(group, jobs, tmp):
    py, script, env_extra, _, _, _ = GROUPS[group]
    jp = os.path.join(tmp, group + "_jobs.json")
    rp = os.path.join(tmp, group + "_result.json")
    common.write_json(jp, jobs)
    env = dict(os.environ)
    env.update(env_extra)
    env.setdefault("OMP_NUM_THREADS", "1")
    if not (py and os.path.exists(py)):
        return [dict(j, status="unavailable", reason="interpreter %s not found" % py) for j in jobs]
    cmd = [py, os.path.join(HERE, script), jp, rp]
    print("+ %s" % " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=env)
    if r.returncode != 0 or not os.path.exists(rp):
        return [dict(j, status="error", reason="runner exited with %d" % r.returncode) for j in jobs]
    with open(rp) as f:
        return json.load(f)


def flat_inputs(inputs):
    init = np.concatenate([inputs[n][0].reshape(-1) for n, _ in TENSORS])
    grads = np.concatenate([inputs[n][1].reshape(common.STEPS, -1) for n, _ in TENSORS], axis=1)
    return init, grads


def split_traj(traj):
    """[STEPS, n_total] trajectory -> dict name -> [len(CHECKPOINTS), *shape] at checkpoints."""
    out, off = {}, 0
    rows = [c - 1 for c in CHECKPOINTS]
    for name, shape in TENSORS:
        k = int(np.prod(shape))
        out[name] = np.ascontiguousarray(traj[rows, off:off + k]).reshape((len(rows),) + tuple(shape))
        off += k
    return out


def emulate(job, inputs):
    preset, opt, hp = job["preset"], job["optimizer"], job["hparams"]
    init, grads = flat_inputs(inputs)
    spec = numerics.EMULATED[preset]
    if opt == "adam":
        k = spec["adam"]
        tr = numerics.adam(init, grads, hp, k)
        states = {"param": split_traj(tr["p"]), "m": split_traj(tr["m"]), "v": split_traj(tr["v"])}
    elif opt == "adadelta":
        k = spec["adadelta"]
        tr = numerics.adadelta(init, grads, hp, k)
        states = {"param": split_traj(tr["p"]), "accum_grad": split_traj(tr["a"]),
                  "accum_update": split_traj(tr["d"])}
    else:
        k = spec["sgd"]
        tr = numerics.sgd(init, grads, hp, k)
        states = {"param": split_traj(tr["p"])}
        if hp["momentum"]:
            states["momentum"] = split_traj(tr["m"])
    files, cfiles = common.write_trace(preset, opt, job["hpset"], states)
    return dict(job, status="ok", files=files, counters=cfiles,
                framework={"name": "emulated", "emulated": True, "emulates": PRESET_DOC[preset],
                           "reference": "shared/reference/optim-numerics.md " + spec["ref"],
                           "numpy": np.__version__},
                emulation_knobs=k, call="tools/golden/numerics.py %s(..., knobs)" % opt)


def entry_key(t):
    """A trace is one (id, CPU set) pair: CPU-dependent ids repeat once per CPU kind."""
    return (t["id"], t.get("cpu_set", ""))


def manifest_entry(res):
    preset = res["preset"]
    e = {
        "id": "%s/%s/%s" % (preset, res["optimizer"], res["hpset"]),
        "preset": preset,
        "optimizer": res["optimizer"],
        "hpset": res["hpset"],
        "status": res["status"],
        "kind": "emulated" if preset in numerics.EMULATED else "real",
        "diagnostic": any(preset in GROUPS[g][5] for g in GROUPS),
        "description": PRESET_DOC.get(preset, ""),
        "hparams": {k: common.hp_record(v) for k, v in res["hparams"].items()},
        "hparams_note": res.get("hparams_note", ""),
        "dtype": "float32",
    }
    if common.is_cpu_dependent(preset, res["optimizer"]):
        e["cpu_set"] = common.cpu_set()
    if preset.endswith("_raced"):
        # Not a preset: the race's outcome differs run to run (parity/train/race.h searches it).
        e["replay"] = False
    for key in ("reason", "framework", "call", "state_names", "emulation_knobs", "counter_note",
                "aux", "reproducible", "run_to_run_max_ulp"):
        if key in res:
            e[key] = res[key]
    if res["status"] == "ok":
        e["files"] = res["files"]
        e["counters"] = res.get("counters", {})
    return e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", default=",".join(GROUPS),
                    help="comma-separated subset of: " + ", ".join(GROUPS))
    args = ap.parse_args()
    groups = [g for g in args.groups.split(",") if g]
    for g in groups:
        if g not in GROUPS:
            sys.exit("unknown group %s" % g)

    case = common.make_case()
    common.write_inputs(case)
    inputs = common.load_inputs()
    for name, (init, grads, _cls) in case.items():  # the saved files round-trip exactly
        assert np.array_equal(inputs[name][1].view(np.uint32), grads.view(np.uint32))

    manifest_path = os.path.join(OUT, "manifest.json")
    old, cpu_sets = {}, {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            prev = json.load(f)
        cpu_sets = prev.get("cpu_sets", {})
        # Another CPU kind's traces are kept whatever is regenerated here.
        old = {entry_key(t): t for t in prev["traces"]
               if set(groups) != set(GROUPS) or t.get("cpu_set", common.cpu_set()) != common.cpu_set()}
    facts = common.cpu_facts()
    cpu_sets[common.cpu_set()] = dict(facts, set=common.cpu_set())

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for g in groups:
            presets, opts = GROUPS[g][3], GROUPS[g][4]
            for p in presets:  # clear stale files of regenerated presets (this CPU's set only)
                shutil.rmtree(os.path.join(OUT, p), ignore_errors=True)
                shutil.rmtree(os.path.join(OUT, "cpu", common.cpu_set(), p), ignore_errors=True)
            jobs = jobs_for(presets, opts)
            if g == "emulated":
                for j in jobs:
                    results.append(emulate(j, inputs))
                    print("%-28s %-13s %-8s ok" % (j["preset"], j["optimizer"], j["hpset"]))
            else:
                results.extend(run_subprocess(g, jobs, tmp))

    entries = dict(old)
    for r in results:
        e = manifest_entry(r)
        entries[entry_key(e)] = e
    order = [p for g in GROUPS for p in GROUPS[g][3]]
    traces = sorted(entries.values(),
                    key=lambda t: (order.index(t["preset"]) if t["preset"] in order else 99,
                                   OPTIMIZERS.index(t["optimizer"]), t["hpset"],
                                   t.get("cpu_set", "")))
    manifest = {
        "format": "parity-golden-optim/1",
        "generated_by": "tools/golden/make_traces.py",
        "seed": common.SEED,
        "steps": common.STEPS,
        "checkpoints": CHECKPOINTS,
        "layout": ("files[quantity][tensor] is a float32 .npy (format 1.0, little-endian, C order) "
                   "of shape [len(checkpoints), *tensor shape]; row i = value after step "
                   "checkpoints[i].  counters[name].file is 1-D [len(checkpoints)] in the "
                   "framework's own dtype."),
        "state_meaning": STATE_MEANING,
        "tensors": [{"name": n, "shape": list(s),
                     "init": "inputs/init_%s.npy" % n,
                     "grads": "inputs/grads_%s.npy" % n,
                     "grad_class": "inputs/class_%s.npy" % n} for n, s in TENSORS],
        "grad_classes": {str(k): v for k, v in common.CLASSES.items()},
        "presets": PRESET_DOC,
        "cpu_sets": cpu_sets,
        "cpu_dependent": sorted("%s/%s" % k for k in common.CPU_DEPENDENT),
        "traces": traces,
    }
    common.write_json(manifest_path, manifest)
    bad = [t["id"] + ": " + t["status"] + " " + t.get("reason", "") for t in traces
           if t["status"] != "ok"]
    print("%d traces, %d not ok" % (len(traces), len(bad)))
    for b in bad:
        print("  " + b)


if __name__ == "__main__":
    main()
