"""Weight files written by the real libraries, for Parity's readers (tests/test_io_weights.cpp).

    /work/venvs/tf/bin/python tools/golden/make_weight_fixtures.py   # keras 3.15.1, TF 2.21, safetensors 0.8

Needs keras 3 (any backend; TensorFlow's is used), numpy and `safetensors`
(pip install safetensors: it is not in requirements.txt). Writes tests/data/weights/:

  seed.weights.h5       the seed model at 24x24 in Keras 3 (Sequential: Conv2D, Activation, Conv2D,
                        Activation, MaxPooling2D, Flatten, Dense, Activation, Dense; Keras 3's default
                        layer names) holding the weights of tests/data/seed_keras2/w0_<k>.npy (Keras 2.0.4
                        on TensorFlow, get_weights order), saved by model.save_weights (only the weights:
                        no optimizer, no config)
  seed.safetensors      the same eight arrays by safetensors.numpy.save_file, named as Parity's Sequential
                        names them ("0.kernel", "0.bias", "2.kernel", ..., "8.bias"), with __metadata__
                        (one key)
  dtypes.safetensors    one small tensor per dtype Parity reads (F32, F64, I32, I64, U8, BOOL), a scalar
                        and an empty tensor
  float16.safetensors   one F16 tensor: Parity refuses it by name

Deterministic: the same files every run (safetensors sorts its header; HDF5 files hold no time stamps
unless asked)."""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "tests", "data", "seed_keras2")
OUT = os.path.join(ROOT, "tests", "data", "weights")
SIZE = 24
NAMES = ["0.kernel", "0.bias", "2.kernel", "2.bias", "6.kernel", "6.bias", "8.kernel", "8.bias"]


def seed_weights():
    return [np.load(os.path.join(SRC, "w0_%d.npy" % k)) for k in range(8)]


def keras3_fixture(weights):
    import keras
    from keras import layers

    model = keras.Sequential([
        keras.Input(shape=(SIZE, SIZE, 3)),
        layers.Conv2D(64, (7, 7)), layers.Activation("relu"),
        layers.Conv2D(64, (7, 7)), layers.Activation("relu"),
        layers.MaxPooling2D((4, 4)), layers.Flatten(),
        layers.Dense(64), layers.Activation("relu"),
        layers.Dense(8),
    ])
    model.set_weights(weights)
    for got, want in zip(model.get_weights(), weights):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    path = os.path.join(OUT, "seed.weights.h5")
    model.save_weights(path)
    # Read back with Keras itself into a fresh model: the file is what Keras 3 loads.
    again = keras.models.clone_model(model)
    again.load_weights(path)
    for got, want in zip(again.get_weights(), weights):
        assert np.array_equal(got, want)
    return {"keras": keras.__version__, "backend": keras.backend.backend(),
            "layers": [layer.name for layer in model.layers]}


def safetensors_fixtures(weights):
    import safetensors
    from safetensors.numpy import load_file, save_file

    seed = dict(zip(NAMES, weights))
    path = os.path.join(OUT, "seed.safetensors")
    # One metadata key: the library keeps them in a hash map, so two keys come out in either order.
    save_file(seed, path, metadata={"source": "tests/data/seed_keras2/w0_<k>.npy (Keras 2.0.4, NHWC, HWIO)"})
    back = load_file(path)
    assert all(np.array_equal(back[k], v) for k, v in seed.items())

    dtypes = {
        "f32": np.array([[1.5, -0.0, np.inf], [np.nan, 1e-45, -3.25]], np.float32),
        "f64": np.array([np.pi, -1e-310, 2.0**60], np.float64),
        "i32": np.array([[-2**31, 0], [7, 2**31 - 1]], np.int32),
        "i64": np.array([-2**63, -1, 2**63 - 1], np.int64),
        "u8": np.arange(0, 256, 51, dtype=np.uint8).reshape(2, 3),
        "bool": np.array([True, False, False, True, True]),
        "scalar": np.array(42.0, np.float32),
        "empty": np.zeros((0, 3), np.float32),
    }
    save_file(dtypes, os.path.join(OUT, "dtypes.safetensors"))
    save_file({"half": np.array([1.0, -2.0], np.float16)}, os.path.join(OUT, "float16.safetensors"))
    return {"safetensors": safetensors.__version__}


def main():
    os.makedirs(OUT, exist_ok=True)
    weights = seed_weights()
    facts = {"python": sys.version.split()[0], "numpy": np.__version__}
    facts.update(keras3_fixture(weights))
    facts.update(safetensors_fixtures(weights))
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump(facts, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps(facts, sort_keys=True))


if __name__ == "__main__":
    main()
