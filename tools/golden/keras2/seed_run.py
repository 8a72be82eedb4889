"""The seed's script (keras-team/keras#6694) in the real Keras 2.0.4, at a small size,
the seed's way: TensorFlow saves the weights (Keras' own HDF5 `save_weights`), both
backends load that file (Keras flips the kernels for Theano on load), shuffle off,
batch 64, one epoch; SGD (lr 1e-7, "really low"), Adam and Adadelta with Keras'
defaults.  Run once per backend, TensorFlow first (it writes the weight file):

    KERAS_BACKEND=tensorflow .venv-tf/bin/python seed_run.py
    KERAS_BACKEND=theano THEANO_FLAGS=floatX=float32,device=cpu,blas.ldflags=-lopenblas \\
        .venv-theano/bin/python seed_run.py

Writes tests/data/seed_keras2/: x.npy (uint8 NHWC images), y.npy (float32 labels),
weight.h5 (the TF-saved weights), w0_<i>.npy (the same weights as Keras 2 holds them
on TensorFlow: HWIO kernels, [in, out] Dense), and per backend and optimizer
<backend>_<opt>_losses.npy (each batch's loss as fit's callback reports it),
<backend>_<opt>_w1_<i>.npy (every weight after the first step, in TF's layout: the
Theano side converts back), <backend>_<opt>_pred.npy (predict(x[0:2]) after the
epoch), and run.json (versions, CPU, whether two runs agree bit for bit).

On TensorFlow the session has one intra- and one inter-op thread: two runs then
agree; Adam's read of `iterations` may still race its increment."""
import json
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compat  # noqa: E402

import numpy  # noqa: E402

SIZE, N, BATCH = 24, 256, 64
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "tests", "data", "seed_keras2")
os.makedirs(OUT, exist_ok=True)

numpy.random.seed(6)
keras, K = compat.import_keras2()
backend = compat.backend()


def fresh_session():
    """TensorFlow: a new graph and a session with one intra- and one inter-op thread."""
    if backend != "tensorflow":
        return
    import tensorflow as tf
    K.clear_session()
    cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    K.set_session(tf.compat.v1.Session(config=cfg))


fresh_session()
import seed_run_model  # noqa: E402
from keras.optimizers import SGD, Adam, Adadelta  # noqa: E402

data = numpy.random.randint(0, 255, (N, SIZE, SIZE, 3), dtype="uint8")
labels = numpy.random.randint(-40, 40, (N, 8))


def build():
    return seed_run_model.build(SIZE)


def tf_layout(weights):
    """Keras 2 weights of this backend as TensorFlow holds them (kernels unflipped)."""
    if backend == "tensorflow":
        return weights
    from keras.utils.conv_utils import convert_kernel
    return [convert_kernel(w) if w.ndim == 4 else w for w in weights]


class Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.losses, self.w1 = [], None

    def on_batch_end(self, batch, logs=None):
        self.losses.append(numpy.float32(logs["loss"]))
        if self.w1 is None:
            self.w1 = tf_layout(self.model.get_weights())


weight_file = os.path.join(OUT, "weight.h5")
if backend == "tensorflow":
    m = build()
    m.save_weights(weight_file)
    numpy.save(os.path.join(OUT, "x.npy"), data)
    numpy.save(os.path.join(OUT, "y.npy"), labels.astype(numpy.float32))
    for k, w in enumerate(m.get_weights()):
        numpy.save(os.path.join(OUT, "w0_%d.npy" % k), w)

OPTIMIZERS = {"sgd": lambda: SGD(lr=1e-7), "adam": lambda: Adam(), "adadelta": lambda: Adadelta()}
facts = {"keras": keras.__version__, "backend": backend, "python": platform.python_version(),
         "numpy": numpy.__version__, "size": SIZE, "samples": N, "batch_size": BATCH,
         "cpu": compat.cpu_model(), "runs": {}}
facts.update({k: v for k, v in compat.framework_info(K).items() if k in ("tensorflow", "theano", "cxxflags")})
for name, make in OPTIMIZERS.items():
    results = []
    for run in range(2):  # twice: is the run repeatable?
        fresh_session()
        m = build()
        m.load_weights(weight_file)
        m.compile(optimizer=make(), loss="mse")
        rec = Record()
        m.fit(data, labels, batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=[rec])
        results.append((numpy.array(rec.losses, numpy.float32), rec.w1,
                        m.predict(data[0:2]).astype(numpy.float32)))
    losses, w1, pred = results[0]
    same = bool(numpy.array_equal(losses, results[1][0]) and numpy.array_equal(pred, results[1][2]))
    prefix = os.path.join(OUT, "%s_%s" % (backend, name))
    numpy.save(prefix + "_losses.npy", losses)
    numpy.save(prefix + "_pred.npy", pred)
    for k, w in enumerate(w1):
        numpy.save(prefix + "_w1_%d.npy" % k, w.astype(numpy.float32))
    facts["runs"][name] = {"losses": [float(x) for x in losses], "repeatable": same,
                           "second_run_losses": [float(x) for x in results[1][0]]}
    print(backend, name, losses, "repeatable" if same else "NOT repeatable")
with open(os.path.join(OUT, "run_%s.json" % backend), "w") as f:
    json.dump(facts, f, indent=1, sort_keys=True)
