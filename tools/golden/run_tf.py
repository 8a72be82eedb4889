"""TensorFlow raw training kernels (tf.raw_ops.ResourceApply*), CPU, float32, eager.

The caller-side scalars follow TF1's tf.compat.v1.train.AdamOptimizer: beta1_power and
beta2_power are float32 variables initialised to fl(beta) and multiplied by fl(beta)
(one float32 multiply) after every step (reference sec. 4.1)."""
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import CHECKPOINTS, STEPS, TENSORS, Recorder, runner_main  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


def framework_info():
    return {"name": "tensorflow-cpu", "version": tf.__version__,
            "python": platform.python_version(), "numpy": np.__version__,
            "intra_op_threads": 1, "inter_op_threads": 1, "mode": "eager",
            "build": {k: str(v) for k, v in tf.sysconfig.get_build_info().items()
                      if k in ("is_cuda_build", "cpu_compiler")}}


def f32(x):
    return tf.constant(x, dtype=tf.float32)


def run_job(job, inputs):
    opt_name, hp = job["optimizer"], job["hparams"]
    with tf.device("/CPU:0"):
        var = [tf.Variable(inputs[n][0]) for n, _ in TENSORS]
        zeros = lambda: [tf.Variable(tf.zeros_like(v)) for v in var]  # noqa: E731
        rec = Recorder()
        if opt_name == "adam":
            m, v = zeros(), zeros()
            b1p, b2p = tf.Variable(f32(hp["beta1"])), tf.Variable(f32(hp["beta2"]))
            lr, b1, b2, eps = f32(hp["lr"]), f32(hp["beta1"]), f32(hp["beta2"]), f32(hp["eps"])
            state = {"m": m, "v": v}
            call = ("ResourceApplyAdam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, "
                    "epsilon, grad, use_locking=False, use_nesterov=False); then "
                    "beta_power.assign(beta_power * beta) as TF1 AdamOptimizer._finish")
        elif opt_name == "adadelta":
            acc, accu = zeros(), zeros()
            lr, rho, eps = f32(hp["lr"]), f32(hp["rho"]), f32(hp["eps"])
            state = {"accum_grad": acc, "accum_update": accu}
            call = "ResourceApplyAdadelta(var, accum, accum_update, lr, rho, epsilon, grad, use_locking=False)"
        else:
            lr = f32(hp["lr"])
            if hp["momentum"]:
                mom = zeros()
                mu = f32(hp["momentum"])
                state = {"momentum": mom}
                call = ("ResourceApplyKerasMomentum(var, accum, lr, grad, momentum, use_locking=False, "
                        "use_nesterov=%s)  (accum = accum*momentum - lr*grad; var += accum)"
                        % bool(hp["nesterov"]))
            else:
                state = {}
                call = "ResourceApplyGradientDescent(var, alpha=lr, delta=grad)"
        for t in range(1, STEPS + 1):
            for i, (n, _) in enumerate(TENSORS):
                g = tf.constant(inputs[n][1][t - 1])
                if opt_name == "adam":
                    tf.raw_ops.ResourceApplyAdam(
                        var=var[i].handle, m=m[i].handle, v=v[i].handle, beta1_power=b1p,
                        beta2_power=b2p, lr=lr, beta1=b1, beta2=b2, epsilon=eps, grad=g,
                        use_locking=False, use_nesterov=False)
                elif opt_name == "adadelta":
                    tf.raw_ops.ResourceApplyAdadelta(
                        var=var[i].handle, accum=acc[i].handle, accum_update=accu[i].handle,
                        lr=lr, rho=rho, epsilon=eps, grad=g, use_locking=False)
                elif hp["momentum"]:
                    tf.raw_ops.ResourceApplyKerasMomentum(
                        var=var[i].handle, accum=mom[i].handle, lr=lr, grad=g, momentum=mu,
                        use_locking=False, use_nesterov=bool(hp["nesterov"]))
                else:
                    tf.raw_ops.ResourceApplyGradientDescent(var=var[i].handle, alpha=lr, delta=g)
            if opt_name == "adam":
                b1p.assign(b1p * b1)
                b2p.assign(b2p * b2)
            if t in CHECKPOINTS:
                for i, (n, _) in enumerate(TENSORS):
                    rec.add("param", n, var[i].numpy())
                    for q, lst in state.items():
                        rec.add(q, n, lst[i].numpy())
                if opt_name == "adam":
                    # value that the NEXT step will read
                    rec.add_counter("beta1_power", b1p.numpy(), np.float32)
                    rec.add_counter("beta2_power", b2p.numpy(), np.float32)
    states, counters = rec.finish()
    meta = {"call": call, "state_names": {q: q for q in state}}
    if counters:
        meta["counter_note"] = ("beta1_power/beta2_power after step t hold fl-product beta^(t+1), "
                                "i.e. the value the next step reads")
    return states, counters, meta


if __name__ == "__main__":
    runner_main(run_job, framework_info)
