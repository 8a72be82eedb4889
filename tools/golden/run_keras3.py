"""Keras 3 runner; the backend comes from KERAS_BACKEND (set per subprocess).

Presets:
  keras3_tf        TensorFlow backend, step inside tf.function (as model.fit runs it on a
                   CPU-only machine: jit_compile='auto' means no XLA without a GPU)
  keras3_tf_eager  TensorFlow backend, optimizer.apply called eagerly (diagnostic)
  keras3_jax       JAX backend, jax.jit(optimizer.stateless_apply) (as model.fit runs it)
  keras3_jax_eager JAX backend, optimizer.apply eagerly, op by op (diagnostic)
  keras3_torch     torch backend (its own foreach formula, reference sec. 4.5), eager
"""
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import keras  # noqa: E402

from common import CHECKPOINTS, STEPS, TENSORS, Recorder, runner_main  # noqa: E402

BACKEND = keras.backend.backend()
if BACKEND == "tensorflow":
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
elif BACKEND == "torch":
    import torch
    torch.set_num_threads(1)
elif BACKEND == "jax":
    import jax


def framework_info():
    info = {"name": "keras", "version": keras.__version__, "backend": BACKEND,
            "python": platform.python_version(), "numpy": np.__version__}
    if BACKEND == "tensorflow":
        info["tensorflow"] = tf.__version__
    elif BACKEND == "torch":
        info["torch"] = torch.__version__
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    elif BACKEND == "jax":
        import jaxlib
        info["jax"] = jax.__version__
        info["jaxlib"] = jaxlib.__version__
    return info


def slots(opt, opt_name, hp):
    if opt_name == "adam":
        return {"m": opt._momentums, "v": opt._velocities}
    if opt_name == "adadelta":
        return {"accum_grad": opt._accumulated_grads,
                "accum_update": opt._accumulated_delta_vars}
    return {"momentum": opt.momentums} if hp["momentum"] else {}


SLOT_NAMES = {"m": "_momentums", "v": "_velocities", "accum_grad": "_accumulated_grads",
              "accum_update": "_accumulated_delta_vars", "momentum": "momentums"}


def to_np(x):
    if BACKEND == "torch":
        return x.value.detach().cpu().numpy().copy()
    return np.array(keras.ops.convert_to_numpy(x.value)).copy()


def bias_pow_table(preset, hp):
    """beta^t for t = 1..STEPS as Keras computes it in update_step:
    ops.power(ops.cast(beta, float32), ops.cast(iterations + 1, float32)), on the same
    backend and in the same mode (XLA-jitted for keras3_jax)."""
    ops = keras.ops

    def one(beta, t):
        return ops.power(ops.cast(beta, "float32"), ops.cast(t, "float32"))
    if preset == "keras3_jax":
        f = jax.jit(one, static_argnums=0)
        vals = [[np.asarray(f(b, np.int32(t))) for b in (hp["beta1"], hp["beta2"])]
                for t in range(1, STEPS + 1)]
    else:
        vals = [[np.asarray(ops.convert_to_numpy(one(b, t))) for b in (hp["beta1"], hp["beta2"])]
                for t in range(1, STEPS + 1)]
    return np.array(vals, dtype=np.float32)


def run_job(job, inputs):
    preset, opt_name, hp = job["preset"], job["optimizer"], job["hparams"]
    variables = [keras.Variable(inputs[n][0].copy(), dtype="float32", name="p_" + n)
                 for n, _ in TENSORS]
    if opt_name == "adam":
        opt = keras.optimizers.Adam(learning_rate=hp["lr"], beta_1=hp["beta1"],
                                    beta_2=hp["beta2"], epsilon=hp["eps"])
    elif opt_name == "adadelta":
        opt = keras.optimizers.Adadelta(learning_rate=hp["lr"], rho=hp["rho"], epsilon=hp["eps"])
    else:
        opt = keras.optimizers.SGD(learning_rate=hp["lr"], momentum=hp["momentum"],
                                   nesterov=hp["nesterov"])
    opt.build(variables)
    sl = slots(opt, opt_name, hp)

    if preset == "keras3_tf":
        @tf.function(jit_compile=False)
        def step(grads):
            opt.apply(grads, variables)
        how = "tf.function(jit_compile=False)(optimizer.apply)"
    elif preset == "keras3_jax":
        jitted = jax.jit(opt.stateless_apply)

        def step(grads):
            opt_vals = [v.value for v in opt.variables]
            tr_vals = [v.value for v in variables]
            new_tr, new_opt = jitted(opt_vals, grads, tr_vals)
            for v, x in zip(variables, new_tr):
                v.assign(x)
            for v, x in zip(opt.variables, new_opt):
                v.assign(x)
        how = "jax.jit(optimizer.stateless_apply)"
    else:
        def step(grads):
            opt.apply(grads, variables)
        how = "optimizer.apply (eager)"

    rec = Recorder()
    for t in range(1, STEPS + 1):
        grads = [inputs[n][1][t - 1].copy() for n, _ in TENSORS]
        if BACKEND == "tensorflow":
            grads = [tf.constant(g) for g in grads]
        elif BACKEND == "torch":
            grads = [torch.from_numpy(g) for g in grads]
        else:
            grads = [jax.numpy.asarray(g) for g in grads]
        step(grads)
        if t in CHECKPOINTS:
            for i, (n, _) in enumerate(TENSORS):
                rec.add("param", n, to_np(variables[i]))
                for q, lst in sl.items():
                    rec.add(q, n, to_np(lst[i]))
            it = to_np(opt.iterations)
            rec.add_counter("iterations", it, it.dtype)
    states, counters = rec.finish()
    aux = {}
    if opt_name == "adam":
        aux["bias_pow"] = bias_pow_table(preset, hp)
    meta = {"_aux": aux, "call": "keras.optimizers.%s; %s" % (type(opt).__name__, how),
            "state_names": dict({q: SLOT_NAMES[q] for q in sl}, iterations="optimizer.iterations")}
    return states, counters, meta


if __name__ == "__main__":
    runner_main(run_job, framework_info)
