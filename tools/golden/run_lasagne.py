"""Lasagne's own update rules (lasagne.updates.adam / adadelta, the PyPI release 0.1)
on Theano 0.9.0, floatX=float32, CPU, fed exact gradients: the rules take the
gradients themselves (loss_or_grads = a list of placeholders), so each step is one
theano.function call with the trace's gradient.  Run in the Keras 2.0.4 Theano
environment (keras2/setup.sh installs Lasagne there)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "keras2"))
import compat  # noqa: E402,F401  (Python 3.11 shims)

import numpy as np  # noqa: E402
import theano  # noqa: E402
import theano.tensor as T  # noqa: E402


def _import_lasagne_updates():
    """Lasagne 0.1's package __init__ imports its layers, which need Theano 0.7's
    theano.tensor.signal.downsample; its update rules (updates.py, utils.py) do not.
    Load just those two modules of the installed package, unchanged."""
    import importlib.util
    import types
    spec = importlib.util.find_spec("lasagne")
    pkg = types.ModuleType("lasagne")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["lasagne"] = pkg
    import lasagne.utils  # noqa: F401
    import lasagne.updates  # noqa: F401
    from importlib.metadata import version
    pkg.__version__ = version("Lasagne")
    return pkg


lasagne = _import_lasagne_updates()

from common import CHECKPOINTS, STEPS, TENSORS, Recorder, Unavailable, runner_main  # noqa: E402


def framework_info():
    import platform
    return {"name": "lasagne", "version": lasagne.__version__, "theano": theano.__version__,
            "python": platform.python_version(), "numpy": np.__version__,
            "cxxflags": theano.config.gcc.cxxflags,
            "THEANO_FLAGS": ",".join(f for f in os.environ.get("THEANO_FLAGS", "").split(",")
                                     if not f.startswith("base_compiledir="))}


def run_job(job, inputs):
    opt, hp = job["optimizer"], job["hparams"]
    params = [theano.shared(inputs[n][0].copy(), name="p_" + n) for n, _ in TENSORS]
    grads = [T.TensorType("float32", (False,) * inputs[n][0].ndim)("G_" + n) for n, _ in TENSORS]
    if opt == "adam":
        ups = lasagne.updates.adam(grads, params, learning_rate=hp["lr"], beta1=hp["beta1"],
                                   beta2=hp["beta2"], epsilon=hp["eps"])
        call = "lasagne.updates.adam(grads, params, learning_rate, beta1, beta2, epsilon)"
        names = ("m", "v")
    elif opt == "adadelta":
        ups = lasagne.updates.adadelta(grads, params, learning_rate=hp["lr"], rho=hp["rho"],
                                       epsilon=hp["eps"])
        call = "lasagne.updates.adadelta(grads, params, learning_rate, rho, epsilon)"
        names = ("accum_grad", "accum_update")
    else:
        raise Unavailable("only Adam and Adadelta are traced for Lasagne")
    # The state variables, in the order the rule creates them per parameter.
    state = {q: [] for q in names}
    keys = [k for k in ups.keys() if all(k is not p for p in params) and k.ndim > 0]
    for i in range(len(params)):
        for j, q in enumerate(names):
            state[q].append(keys[2 * i + j])
    step = theano.function(grads, [], updates=ups)
    rec = Recorder()
    for t in range(1, STEPS + 1):
        step(*[inputs[n][1][t - 1] for n, _ in TENSORS])
        if t in CHECKPOINTS:
            for i, (n, _) in enumerate(TENSORS):
                rec.add("param", n, params[i].get_value())
                for q in names:
                    rec.add(q, n, state[q][i].get_value())
    states, counters = rec.finish()
    return states, counters, {"call": call, "state_names": {q: q for q in names}}


if __name__ == "__main__":
    runner_main(run_job, framework_info)
