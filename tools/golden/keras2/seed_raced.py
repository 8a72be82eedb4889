"""Raced runs of the seed's script on the real Keras 2.0.4 + TensorFlow (graph mode):
the session as Keras makes it (TF's default thread pools), so one training step's ops
run unordered and a variable's read may follow its update in the same step
(keras-team/keras#6694; parity/train/race.h).  Same weights and data as seed_run.py (run that first: it
writes tests/data/seed_keras2/weight.h5, x.npy, y.npy).

    KERAS_BACKEND=tensorflow .venv-tf/bin/python seed_raced.py [runs]
    TF_RESOURCE_VARIABLES=1 KERAS_BACKEND=tensorflow .venv-tf/bin/python seed_raced.py [runs]

The second makes Keras' variables resource variables (copy-on-write assigns: a
read sees a whole update or none of it) and writes raced_resource_*; the first
keeps TF 1.x's reference variables, assigned in place, as the seed's TF 1.2 had.

Writes tests/data/seed_keras2/raced_<opt>_losses.npy: float32 [runs, batches], each
run's batch losses; raced_<opt>_sums.npy: float64 [runs, batches, weights, 2], the
sum and the sum of squares of every weight after each batch (in Keras' get_weights
order), which locate the tensor where a run parts from every schedule; and
raced.json (how many distinct runs there were)."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compat  # noqa: E402

import numpy  # noqa: E402

keras, K = compat.import_keras2()
assert compat.backend() == "tensorflow"
import tensorflow as tf  # noqa: E402
from keras.optimizers import SGD, Adam  # noqa: E402

sys.argv += [] if len(sys.argv) > 1 else ["12"]
RUNS = int(sys.argv[1])
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "tests", "data", "seed_keras2")
sys.path.insert(0, HERE)
import seed_run_model as sm  # noqa: E402

x = numpy.load(os.path.join(OUT, "x.npy"))
y = numpy.load(os.path.join(OUT, "y.npy"))
PREFIX = "raced_resource" if compat.resource_variables() else "raced"
facts = {"runs": RUNS, "variables": "resource" if compat.resource_variables() else "reference (TF 1.x)", "cpu": compat.cpu_model(), "tensorflow": tf.__version__, "keras": keras.__version__,
         "session": "Keras' default (TF's default intra/inter-op thread pools)", "optimizers": {}}
for name, make in {"sgd": lambda: SGD(lr=1e-7), "adam": lambda: Adam()}.items():
    rows, all_sums = [], []
    for run in range(RUNS):
        K.clear_session()
        m = sm.build(x.shape[1])
        m.load_weights(os.path.join(OUT, "weight.h5"))
        m.compile(optimizer=make(), loss="mse")
        losses, sums = [], []

        def on_batch_end(b, logs, m=m, losses=losses, sums=sums):
            losses.append(numpy.float32(logs["loss"]))
            sums.append([[float(numpy.sum(w, dtype=numpy.float64)),
                          float(numpy.sum(numpy.square(w, dtype=numpy.float64)))] for w in m.get_weights()])

        cb = keras.callbacks.LambdaCallback(on_batch_end=on_batch_end)
        m.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False, callbacks=[cb])
        rows.append(losses)
        all_sums.append(sums)
    arr = numpy.array(rows, numpy.float32)
    numpy.save(os.path.join(OUT, "%s_%s_losses.npy" % (PREFIX, name)), arr)
    numpy.save(os.path.join(OUT, "%s_%s_sums.npy" % (PREFIX, name)), numpy.array(all_sums, numpy.float64))
    distinct = len({tuple(r.tolist()) for r in arr})
    facts["optimizers"][name] = {"distinct_runs": distinct, "losses": arr.tolist()}
    print(name, "distinct runs:", distinct, "of", RUNS)
    for r in arr:
        print("  ", r)
with open(os.path.join(OUT, PREFIX + ".json"), "w") as f:
    json.dump(facts, f, indent=1)
