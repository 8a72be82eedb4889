"""Shared definitions for the golden optimizer traces.

Only depends on NumPy (it is also imported by the PyTorch 1.13 runner, which runs
under Debian's /usr/bin/python3 with NumPy 1.24).

Layout written under tests/data/golden/:
  inputs/init_<name>.npy        float32, shape = tensor shape
  inputs/grads_<name>.npy       float32, shape = [STEPS, *tensor shape]
  inputs/class_<name>.npy       int8 per element, the gradient regime (see CLASSES)
  <preset>/<optimizer>/<hpset>/<quantity>_<name>.npy
                                 float32, shape = [len(CHECKPOINTS), *tensor shape];
                                 row i holds the value after step CHECKPOINTS[i]
  <preset>/<optimizer>/<hpset>/<counter>.npy
                                 shape = [len(CHECKPOINTS)], the framework's own dtype
  manifest.json
"""
import json
import os
import struct

import numpy as np

STEPS = 1000
CHECKPOINTS = [1, 2, 10, 100, 1000]
SEED = 20170519  # date of keras-team/keras#6694

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "tests", "data", "golden")
INPUTS = os.path.join(OUT, "inputs")

# name, shape.  'e' (37 elements) exercises vector bodies plus scalar tails of
# 8-wide (AVX) and 16-wide (PyTorch 2x8) loops; 'c' (24) is a multiple of 8.
TENSORS = [
    ("a", (3,)),
    ("b", (2, 5)),
    ("c", (4, 3, 2)),
    ("d", (1,)),
    ("e", (37,)),
]

# Gradient regimes per element (stored in inputs/class_<name>.npy).
CLASSES = {
    0: "normal: N(0,1) * per-element scale in [1e-4, 1e4], 3% exact zeros, 1% -0.0",
    1: "eps: N(0,1) * 1e-8 (scale where epsilon matters), 3% zeros",
    2: "tiny: +-1e-30 .. 1e-25 (g*g underflows to 0 in float32)",
    3: "denormal: g*g is subnormal (|g| ~ 1e-20) or g itself subnormal (|g| ~ 1e-40)",
    4: "huge: +-1e17 .. 1e19 (g*g finite, up to ~1e38)",
    5: "zero: exactly 0 at every step",
    6: "sparse: 0 on 90% of the steps, N(0,1) otherwise",
    7: "overflow probe: N(0,1) except g = 1e20 at step 5 (g*g = inf in float32)",
    8: "sign flips: alternating +-s with s log-uniform in [1e-3, 1e3]",
}

# Element classes per tensor (fixed, so each tensor mixes regimes).
_CLASS_LAYOUT = {
    "a": [0, 1, 2],
    "b": [0, 0, 1, 3, 4, 5, 6, 8, 0, 1],
    "c": [0, 1, 2, 3, 4, 5, 6, 8] * 3,
    "d": [0],
    "e": [0, 0, 1, 1, 2, 3, 3, 4, 5, 6, 8, 0, 0, 1, 0, 4, 0, 3, 0, 1, 6, 0, 8, 0, 0,
          1, 2, 0, 0, 3, 0, 0, 1, 0, 4, 6, 7],
}


def make_case():
    """Deterministic inputs: dict name -> (init float32, grads float32 [STEPS, ...], class int8)."""
    rng = np.random.default_rng(SEED)
    case = {}
    for name, shape in TENSORS:
        n = int(np.prod(shape))
        cls = np.array(_CLASS_LAYOUT[name], dtype=np.int8)
        assert cls.size == n, name
        # initial parameters: scales 1e-3 .. 1e3, a few exact zeros
        pscale = 10.0 ** rng.integers(-3, 4, size=n)
        init = rng.standard_normal(n) * pscale
        init[rng.random(n) < 0.1] = 0.0
        g = np.zeros((STEPS, n), dtype=np.float64)
        for i in range(n):
            c = int(cls[i])
            z = rng.standard_normal(STEPS)
            if c == 0:
                s = 10.0 ** rng.uniform(-4, 4)
                col = z * s
                col[rng.random(STEPS) < 0.03] = 0.0
                col[rng.random(STEPS) < 0.01] = -0.0
            elif c == 1:
                col = z * 1e-8
                col[rng.random(STEPS) < 0.03] = 0.0
            elif c == 2:
                col = np.sign(z) * 10.0 ** rng.uniform(-30, -25, STEPS)
            elif c == 3:
                col = np.where(rng.random(STEPS) < 0.5,
                               np.sign(z) * 10.0 ** rng.uniform(-21, -19.5, STEPS),
                               np.sign(z) * 10.0 ** rng.uniform(-44, -38.5, STEPS))
            elif c == 4:
                col = np.sign(z) * 10.0 ** rng.uniform(17, 19, STEPS)
            elif c == 5:
                col = np.zeros(STEPS)
            elif c == 6:
                col = np.where(rng.random(STEPS) < 0.1, z, 0.0)
            elif c == 7:
                col = z.copy()
                col[4] = 1e20
            elif c == 8:
                s = 10.0 ** rng.uniform(-3, 3)
                col = s * np.where(np.arange(STEPS) % 2 == 0, 1.0, -1.0) * (1 + 0.1 * z)
            else:
                raise AssertionError(c)
            g[:, i] = col
        g32 = g.astype(np.float32)
        case[name] = (init.astype(np.float32).reshape(shape),
                      g32.reshape((STEPS,) + tuple(shape)),
                      cls.reshape(shape))
    return case


def save_npy(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arr = np.ascontiguousarray(arr)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=(1, 0), allow_pickle=False)


def load_inputs():
    """Load the saved case: dict name -> (init, grads)."""
    out = {}
    for name, shape in TENSORS:
        init = np.load(os.path.join(INPUTS, "init_%s.npy" % name))
        grads = np.load(os.path.join(INPUTS, "grads_%s.npy" % name))
        out[name] = (init, grads)
    return out


def write_inputs(case):
    for name, (init, grads, cls) in case.items():
        save_npy(os.path.join(INPUTS, "init_%s.npy" % name), init)
        save_npy(os.path.join(INPUTS, "grads_%s.npy" % name), grads)
        save_npy(os.path.join(INPUTS, "class_%s.npy" % name), cls)


def f32_hex(x):
    return "0x%08X" % struct.unpack("<I", struct.pack("<f", np.float32(x)))[0]


def hp_record(value):
    """A hyper-parameter as passed (Python float / None) and as float32."""
    if value is None:
        return {"as_passed": None}
    if isinstance(value, bool):
        return {"as_passed": value}
    f = float(value)
    return {"as_passed": repr(value), "float64": f,
            "float32": float(np.float32(f)), "float32_hex": f32_hex(f)}


# --------------------------------------------------------------------------------------
# Hyper-parameters.  "default": the framework's own defaults (where the framework has
# none, the value used is stated in 'note').  "shared": one non-default set, identical
# for every preset.
# --------------------------------------------------------------------------------------
SHARED = {
    "adam": dict(lr=1e-2, beta1=0.85, beta2=0.995, eps=1e-7),
    "adadelta": dict(lr=0.3, rho=0.95, eps=1e-7),
    "sgd": dict(lr=0.03, momentum=0.0, nesterov=False),
    "sgd_momentum": dict(lr=0.03, momentum=0.9, nesterov=False),
    "sgd_nesterov": dict(lr=0.03, momentum=0.9, nesterov=True),
}

# Keras 2's `decay` (lr / (1 + decay * iterations)), on the defaults otherwise.
DECAY = {"adam": 1e-2, "adadelta": 1e-2, "sgd": 1e-2}
DECAY_FAMILIES = ("keras2",)

# family -> optimizer -> (hparams, note)
DEFAULTS = {
    "pytorch": {
        "adam": (dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8), "torch.optim.Adam defaults"),
        "adadelta": (dict(lr=1.0, rho=0.9, eps=1e-6), "torch.optim.Adadelta defaults"),
        "sgd": (dict(lr=1e-3, momentum=0.0, nesterov=False), "torch.optim.SGD defaults (lr=1e-3 since 2.x)"),
    },
    "pytorch_1_13": {
        "adam": (dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8), "torch.optim.Adam defaults"),
        "adadelta": (dict(lr=1.0, rho=0.9, eps=1e-6), "torch.optim.Adadelta defaults"),
        "sgd": (dict(lr=1e-3, momentum=0.0, nesterov=False),
                "torch 1.13 SGD has no lr default (required); 1e-3 used as in 2.x"),
    },
    "keras3": {
        "adam": (dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7), "keras.optimizers.Adam defaults"),
        "adadelta": (dict(lr=1e-3, rho=0.95, eps=1e-7), "keras.optimizers.Adadelta defaults"),
        "sgd": (dict(lr=1e-2, momentum=0.0, nesterov=False), "keras.optimizers.SGD defaults"),
    },
    "tf_raw": {
        "adam": (dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
                 "raw kernel has no defaults: TF1 tf.compat.v1.train.AdamOptimizer defaults"),
        "adadelta": (dict(lr=1e-3, rho=0.95, eps=1e-8),
                     "raw kernel has no defaults: TF1 AdadeltaOptimizer defaults"),
        "sgd": (dict(lr=1e-2, momentum=0.0, nesterov=False),
                "raw kernel has no defaults: lr=0.01 (Keras default) used"),
    },
    "optax": {
        "adam": (dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
                 "optax.adam defaults (learning_rate is required; 1e-3 used)"),
        "adadelta": (dict(lr=None, rho=0.9, eps=1e-6),
                     "optax.adadelta defaults: learning_rate=None means NO scaling and NO sign "
                     "flip, so the parameters move along +update (gradient ascent) (reference sec. 6)"),
        "sgd": (dict(lr=1e-2, momentum=0.0, nesterov=False),
                "optax.sgd defaults (learning_rate is required; 1e-2 used)"),
    },
    "keras2": {
        "adam": (dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8), "Keras 2.0.4 Adam defaults"),
        "adadelta": (dict(lr=1.0, rho=0.95, eps=1e-8), "Keras 2.0.4 Adadelta defaults"),
        "sgd": (dict(lr=1e-2, momentum=0.0, nesterov=False), "Keras 2.0.4 SGD defaults"),
    },
    "lasagne": {
        "adam": (dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8), "lasagne.updates.adam defaults"),
        "adadelta": (dict(lr=1.0, rho=0.95, eps=1e-6), "lasagne.updates.adadelta defaults"),
    },
    "flashlight": {
        "adam": (dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
                 "fl::AdamOptimizer defaults (learningRate is required; 1e-3 used)"),
        "adadelta": (dict(lr=1.0, rho=0.9, eps=1e-8), "fl::AdadeltaOptimizer defaults"),
    },
    "paper": {
        "adam": (dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8), "Kingma & Ba Algorithm 1 defaults"),
        "adadelta": (dict(lr=1.0, rho=0.95, eps=1e-6), "Zeiler 2012: no learning rate (=1), MNIST rho/eps"),
    },
}

# preset name -> family used for defaults
PRESET_FAMILY = {
    "tf_raw": "tf_raw",
    "keras3_tf": "keras3", "keras3_tf_eager": "keras3",
    "keras3_jax": "keras3", "keras3_jax_eager": "keras3",
    "keras3_torch": "keras3",
    "pytorch": "pytorch", "pytorch_foreach": "pytorch", "pytorch_fused": "pytorch",
    "pytorch_1_13": "pytorch_1_13", "pytorch_1_13_foreach": "pytorch_1_13",
    "optax": "optax", "optax_nojit": "optax",
    "keras2_theano": "keras2", "keras2_tensorflow": "keras2",
    "keras2_tensorflow_t_ahead": "keras2", "keras2_tensorflow_raced": "keras2",
    "keras2_theano_1_0_5": "keras2", "lasagne_0_1": "lasagne",
    "lasagne": "lasagne", "flashlight": "flashlight", "paper": "paper",
}


def hp_sets(preset, optimizer):
    """List of (hpset name, hparams, note) for a preset/optimizer."""
    fam = PRESET_FAMILY[preset]
    out = []
    if optimizer in DEFAULTS.get(fam, {}):
        hp, note = DEFAULTS[fam][optimizer]
        out.append(("default", dict(hp), note))
    if optimizer in SHARED:
        # Adam/Adadelta/SGD shared set applies where the framework has the optimizer
        if optimizer in ("sgd_momentum", "sgd_nesterov") or optimizer in DEFAULTS.get(fam, {}):
            out.append(("shared", dict(SHARED[optimizer]), "shared non-default set"))
    if fam in DECAY_FAMILIES and optimizer in DECAY:
        hp, _note = DEFAULTS[fam][optimizer]
        out.append(("decay", dict(hp, decay=DECAY[optimizer]),
                    "the defaults with decay=%g" % DECAY[optimizer]))
    return out


# ------------------------------------------------------------------------------------
# Traces per CPU kind.  The x86 rsqrt estimate (rsqrtps) is each CPU's own table, and
# XLA:CPU compiles for the ISA it finds (AVX2 or AVX-512): the Adadelta traces of the
# presets that use TF's or XLA's rsqrt depend on the CPU that recorded them.  They are
# kept in one set per CPU kind, tests/data/golden/cpu/<set>/; everything else is
# CPU-independent and recorded once.
# ------------------------------------------------------------------------------------
CPU_DEPENDENT = {
    ("tf_raw", "adadelta"), ("keras3_tf", "adadelta"), ("keras3_tf_eager", "adadelta"),
    ("keras3_jax", "adadelta"), ("keras3_jax_eager", "adadelta"), ("optax", "adadelta"),
    ("optax_nojit", "adadelta"), ("keras2_tensorflow", "adadelta"),
    ("keras2_tensorflow_raced", "adadelta"),
}


def is_cpu_dependent(preset, optimizer):
    return (preset, optimizer) in CPU_DEPENDENT


def rsqrt_fingerprint():
    """FNV-1a over Eigen's AVX rsqrt (rsqrtps + one Newton step) of 16384 inputs in
    [0.25, 4): the same hash as tests/test_optim_golden.h rsqrt_fingerprint()."""
    import numerics
    xs = np.array([np.ldexp(np.float32(1.0 + k / 4096.0), e) for e in range(-2, 2)
                   for k in range(4096)], dtype=np.float32)
    r = numerics.eigen_rsqrt(xs).view(np.uint32)
    h = 1469598103934665603
    for u in r.tolist():
        h = ((h ^ u) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def cpu_facts():
    """The CPU facts that change a trace: vendor, family/model, ISA, rsqrt estimate."""
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if ":" in line:
                k, v = [x.strip() for x in line.split(":", 1)]
                info.setdefault(k, v)
            if not line.strip():
                break
    flags = set(info.get("flags", "").split())
    vendor = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(info.get("vendor_id"), "other")
    isa = "avx512" if "avx512f" in flags else ("avx2" if "avx2" in flags and "fma" in flags else "sse")
    fp = rsqrt_fingerprint()
    return {
        "set": "%s-%s-%08x" % (vendor, isa, fp >> 32),
        "vendor": info.get("vendor_id"), "cpu_family": info.get("cpu family"),
        "model": info.get("model"), "model_name": info.get("model name"),
        "isa": isa, "avx2": "avx2" in flags, "fma": "fma" in flags,
        "avx512": sorted(f for f in flags if f.startswith("avx512")),
        "rsqrt_fingerprint": "0x%016x" % fp,
    }


_CPU_SET = None


def cpu_set():
    global _CPU_SET
    if _CPU_SET is None:
        _CPU_SET = os.environ.get("GOLDEN_CPU_SET") or cpu_facts()["set"]
    return _CPU_SET


def trace_dir(preset, optimizer, hpset):
    if is_cpu_dependent(preset, optimizer):
        return os.path.join(OUT, "cpu", cpu_set(), preset, optimizer, hpset)
    return os.path.join(OUT, preset, optimizer, hpset)


def rel(path):
    return os.path.relpath(path, OUT).replace(os.sep, "/")


def write_trace(preset, optimizer, hpset, states, counters=None):
    """states: dict quantity -> dict name -> array [len(CHECKPOINTS), *shape] (float32).
    counters: dict counter name -> 1-D array [len(CHECKPOINTS)] in the framework's dtype.
    Returns (files, counter_files) for the manifest."""
    d = trace_dir(preset, optimizer, hpset)
    files = {}
    for q, per in states.items():
        files[q] = {}
        for name, _shape in TENSORS:
            arr = np.asarray(per[name])
            assert arr.dtype == np.float32, (preset, optimizer, q, arr.dtype)
            p = os.path.join(d, "%s_%s.npy" % (q, name))
            save_npy(p, arr)
            files[q][name] = rel(p)
    cfiles = {}
    for cname, arr in (counters or {}).items():
        arr = np.asarray(arr)
        p = os.path.join(d, "%s.npy" % cname)
        save_npy(p, arr)
        cfiles[cname] = {"file": rel(p), "dtype": str(arr.dtype)}
    return files, cfiles


AUX_MEANING = {
    "bias_pow": "float32 [STEPS, 2]: row t-1 = (beta1^t, beta2^t) exactly as the framework "
                "computes them on its device for step t (its own pow routine, which is not "
                "always correctly rounded); lets a replay separate the pow routine from the "
                "rest of the update",
}


def write_aux(preset, optimizer, hpset, aux):
    d = trace_dir(preset, optimizer, hpset)
    out = {}
    for name, arr in aux.items():
        arr = np.asarray(arr)
        p = os.path.join(d, "%s.npy" % name)
        save_npy(p, arr)
        out[name] = {"file": rel(p), "dtype": str(arr.dtype), "shape": list(arr.shape),
                     "meaning": AUX_MEANING.get(name, "")}
    return out


class Recorder:
    """Collects per-checkpoint snapshots during a run."""

    def __init__(self):
        self.states = {}
        self.counters = {}

    def add(self, quantity, name, value):
        self.states.setdefault(quantity, {}).setdefault(name, []).append(
            np.array(value, dtype=np.float32, copy=True))

    def add_counter(self, cname, value, dtype):
        self.counters.setdefault(cname, []).append(np.array(value).astype(dtype))

    def finish(self):
        st = {q: {n: np.stack(v) for n, v in per.items()} for q, per in self.states.items()}
        ct = {c: np.array(v) for c, v in self.counters.items()}
        return st, ct


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")


def runner_main(run_job, framework_info):
    """Entry point for a framework runner subprocess.

    argv: <jobs.json> <result.json>.  jobs: list of dicts with preset, optimizer, hpset,
    hparams.  run_job(job, inputs) returns (states, counters, meta) or raises
    Unavailable.  Writes the trace files and a result list for the manifest."""
    import sys
    import traceback
    jobs_path, result_path = sys.argv[1], sys.argv[2]
    with open(jobs_path) as f:
        jobs = json.load(f)
    inputs = load_inputs()
    results = []
    for job in jobs:
        rec = dict(job)
        rec["framework"] = framework_info()
        try:
            states, counters, meta = run_job(job, inputs)
            aux = meta.pop("_aux", {})
            files, cfiles = write_trace(job["preset"], job["optimizer"], job["hpset"],
                                        states, counters)
            rec.update(status="ok", files=files, counters=cfiles, **meta)
            if aux:
                rec["aux"] = write_aux(job["preset"], job["optimizer"], job["hpset"], aux)
        except Unavailable as e:
            rec.update(status="unavailable", reason=str(e))
        except Exception as e:  # noqa: BLE001 - report, keep going
            rec.update(status="error", reason="%s: %s" % (type(e).__name__, e),
                       traceback=traceback.format_exc())
        print("%-28s %-13s %-8s %s" % (job["preset"], job["optimizer"], job["hpset"],
                                        rec["status"]), file=sys.stderr, flush=True)
        results.append(rec)
    write_json(result_path, results)


class Unavailable(Exception):
    """The framework (version) has no such optimizer / mode on this machine."""


def state_names(optimizer, hp):
    if optimizer == "adam":
        return ["param", "m", "v"]
    if optimizer == "adadelta":
        return ["param", "accum_grad", "accum_update"]
    if optimizer.startswith("sgd"):
        return ["param", "momentum"] if hp.get("momentum") else ["param"]
    raise KeyError(optimizer)
