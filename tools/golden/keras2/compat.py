"""Makes Keras 2.0.4 (2017) import on CPython 3.11 with today's NumPy, h5py and TF 2.

Import this before keras.  Keras' own code is unchanged except one line patched by
setup.sh (keras/utils/conv_utils.py indexes with a list of slices).  On the
TensorFlow backend, import_keras2() runs Keras 2.0.4's TF1 code on TF 2's graph
mode (tf.compat.v1)."""
import collections
import collections.abc
import inspect
import os
import platform
import sys
import types

# inspect.getargspec: removed in Python 3.11 (Keras' generic_utils calls it).
if not hasattr(inspect, "getargspec"):
    _ArgSpec = collections.namedtuple("ArgSpec", "args varargs keywords defaults")

    def getargspec(func):
        s = inspect.getfullargspec(func)
        return _ArgSpec(s.args, s.varargs, s.varkw, s.defaults)

    inspect.getargspec = getargspec

# collections.Iterable & co.: the ABC aliases were removed in Python 3.10.
for _name in collections.abc.__all__:
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))


def _patch_h5py():
    """h5py 3 returns str for string attributes; Keras 2.0.4 calls .decode('utf8')."""
    try:
        import h5py
        import numpy as np
    except ImportError:
        return
    orig = h5py.AttributeManager.__getitem__
    if getattr(orig, "_parity_patched", False):
        return

    def getitem(self, name):
        v = orig(self, name)
        if isinstance(v, str):
            return v.encode("utf8")
        if isinstance(v, np.ndarray) and v.dtype.kind in "OU":
            return np.array([x.encode("utf8") if isinstance(x, str) else x for x in v.tolist()],
                            dtype=object)
        return v

    getitem._parity_patched = True
    h5py.AttributeManager.__getitem__ = getitem


_patch_h5py()


def backend():
    return os.environ.get("KERAS_BACKEND", "theano")


def resource_variables():
    return os.environ.get("TF_RESOURCE_VARIABLES") == "1"


def import_keras2():
    """Imports keras (2.0.4) for KERAS_BACKEND and returns (keras, K)."""
    if backend() == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
        # oneDNN's CPU convolutions change the seed model's losses (0.09% at batch 2).
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        import tensorflow as tf
        tf.compat.v1.disable_v2_behavior()
        # TF 1.x's reference variables (the seed's): an assign writes the buffer in
        # place while other ops may be reading it. TF_RESOURCE_VARIABLES=1 makes
        # Keras' variables resource variables, whose assign copies a buffer that is
        # being read (copy-on-write): a read sees all of an update or none of it.
        if resource_variables():
            tf.compat.v1.enable_resource_variables()
        # tensorflow.contrib (TF 1.x only): Keras' TensorBoard callback imports it.
        for name in ("tensorflow.contrib", "tensorflow.contrib.tensorboard",
                     "tensorflow.contrib.tensorboard.plugins",
                     "tensorflow.contrib.tensorboard.plugins.projector"):
            sys.modules.setdefault(name, types.ModuleType(name))
        import keras
        from keras import backend as K
        # Keras 2.0.4 calls TF 1.x names (tf.placeholder, tf.Session, ...).
        for mod in list(sys.modules.values()):
            if mod is not None and getattr(mod, "__name__", "").startswith("keras") and \
                    getattr(mod, "tf", None) is tf:
                mod.tf = tf.compat.v1
        return keras, K
    import keras
    from keras import backend as K
    return keras, K


def framework_info(K):
    import platform
    import numpy as np
    info = {"name": "keras", "version": __import__("keras").__version__, "backend": backend(),
            "python": platform.python_version(), "numpy": np.__version__}
    if backend() == "tensorflow":
        import tensorflow as tf
        info["tensorflow"] = tf.__version__
        info["mode"] = "graph (tf.compat.v1, disable_v2_behavior)"
        info["variables"] = "resource" if resource_variables() else "reference (TF 1.x)"
        info["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    else:
        import theano
        info["theano"] = theano.__version__
        # Not base_compiledir: a path of the recording machine.
        info["THEANO_FLAGS"] = ",".join(f for f in os.environ.get("THEANO_FLAGS", "").split(",")
                                        if not f.startswith("base_compiledir="))
        info["cxxflags"] = theano.config.gcc.cxxflags
        info["cxx"] = os.path.basename(theano.config.cxx)
    return info


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()
