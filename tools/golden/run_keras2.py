"""Keras 2.0.4's own optimizers (keras/optimizers.py), on Theano or on TensorFlow's
graph mode (KERAS_BACKEND), fed exact gradients: loss = sum_i sum(p_i * G_i), so
dloss/dp_i = G_i, with G_i a placeholder fed the trace's gradient each step.

One step is one call of a K.function over the optimizer's update list, as
Model.fit makes it.  On Theano that function evaluates every update from the
pre-update values (t = old iterations + 1).  On TensorFlow one session.run
executes the step's ops unordered: Adam's read of `iterations` (for t and for
`decay`) may come before or after its increment (keras-team/keras#6694).  The
race-free form (preset keras2_tensorflow) runs Keras' own increment as a separate
call after each step, which is Theano's order; the raced form (preset
keras2_tensorflow_raced, diagnostic) runs Keras' update list as it is.

Every job is run twice and the manifest says whether the two runs agree bit for bit."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "keras2"))
import compat  # noqa: E402  (before keras)

import numpy as np  # noqa: E402

from common import CHECKPOINTS, STEPS, TENSORS, Recorder, runner_main  # noqa: E402

keras, K = compat.import_keras2()
RACE_FREE_PRESETS = ("keras2_tensorflow",)


def _tf_session():
    """One intra- and one inter-op thread: the runs are then repeatable but for the
    iterations race (which one inter-op thread does not remove)."""
    import tensorflow as tf
    cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1,
                                   allow_soft_placement=True)
    K.set_session(tf.compat.v1.Session(config=cfg))


def make_optimizer(opt_name, hp):
    decay = hp.get("decay", 0.0)
    if opt_name == "adam":
        return keras.optimizers.Adam(lr=hp["lr"], beta_1=hp["beta1"], beta_2=hp["beta2"],
                                     epsilon=hp["eps"], decay=decay)
    if opt_name == "adadelta":
        return keras.optimizers.Adadelta(lr=hp["lr"], rho=hp["rho"], epsilon=hp["eps"], decay=decay)
    return keras.optimizers.SGD(lr=hp["lr"], momentum=hp["momentum"], decay=decay,
                                nesterov=bool(hp["nesterov"]))


def run_once(job, inputs):
    opt_name, hp = job["optimizer"], job["hparams"]
    if compat.backend() == "tensorflow":
        K.clear_session()
        _tf_session()
    params = [K.variable(inputs[n][0], dtype="float32", name="p_" + n) for n, _ in TENSORS]
    grads_in = [K.placeholder(shape=inputs[n][0].shape, dtype="float32", name="G_" + n)
                for n, _ in TENSORS]
    loss = sum(K.sum(p * g) for p, g in zip(params, grads_in))
    opt = make_optimizer(opt_name, hp)
    updates = opt.get_updates(params, {}, loss)
    race_free = job["preset"] in RACE_FREE_PRESETS
    increment = None
    if race_free:
        # Keras' own `iterations += 1`, taken out of the step and run after it.
        inc = [u for u in updates if _updates_iterations(u, opt)]
        updates = [u for u in updates if not _updates_iterations(u, opt)]
        increment = K.function([], [], updates=inc) if inc else None
    step = K.function(grads_in, [], updates=updates)

    n = len(TENSORS)
    if opt_name == "adam":
        w = opt.weights  # [iterations] + ms + vs
        state = {"m": w[1:1 + n], "v": w[1 + n:1 + 2 * n]}
    elif opt_name == "adadelta":
        w = opt.weights  # accumulators + delta_accumulators
        state = {"accum_grad": w[:n], "accum_update": w[n:2 * n]}
    else:
        w = opt.weights  # [iterations] + moments
        state = {"momentum": w[1:1 + n]} if hp["momentum"] else {}
    rec = Recorder()
    for t in range(1, STEPS + 1):
        step([inputs[name][1][t - 1] for name, _ in TENSORS])
        if increment is not None:
            increment([])
        if t in CHECKPOINTS:
            for i, (name, _) in enumerate(TENSORS):
                rec.add("param", name, K.get_value(params[i]))
                for q, lst in state.items():
                    rec.add(q, name, K.get_value(lst[i]))
            rec.add_counter("iterations", K.get_value(opt.iterations), np.float32)
    return rec.finish(), race_free


def _updates_iterations(u, opt):
    """Whether update u is Keras' `K.update_add(self.iterations, 1)`."""
    if isinstance(u, tuple):  # Theano: (shared variable, new value)
        return u[0] is opt.iterations
    op = getattr(u, "op", u)  # TensorFlow: tf.assign_add(iterations, 1)
    return op.type.startswith("AssignAdd") and op.inputs[0].op.name == opt.iterations.op.name


def _max_ulp(a, b):
    a = a.view(np.int32).astype(np.int64)
    b = b.view(np.int32).astype(np.int64)
    a = np.where(a < 0, -(a & 0x7FFFFFFF), a)
    b = np.where(b < 0, -(b & 0x7FFFFFFF), b)
    return int(np.abs(a - b).max()) if a.size else 0


def run_job(job, inputs):
    (states, counters), race_free = run_once(job, inputs)
    (states2, _), _ = run_once(job, inputs)
    worst = 0
    for q, per in states.items():
        for name in per:
            worst = max(worst, _max_ulp(per[name], states2[q][name]))
    opt_name = job["optimizer"]
    cls = {"adam": "Adam", "adadelta": "Adadelta"}.get(opt_name, "SGD")
    call = ("keras.optimizers.%s(...).get_updates(params, {}, sum(K.sum(p*G))); one "
            "K.function(G, [], updates) call per step" % cls)
    if race_free:
        call += "; Keras' iterations += 1 update run as its own K.function after each step"
    meta = {"call": call, "state_names": {"param": "the Keras variable",
                                          **{q: "optimizer.weights" for q in states if q != "param"}},
            "reproducible": worst == 0,
            "run_to_run_max_ulp": worst,
            "counter_note": "iterations after step t (Keras' float32 variable)"}
    return states, counters, meta


def framework_info():
    return compat.framework_info(K)


if __name__ == "__main__":
    runner_main(run_job, framework_info)
