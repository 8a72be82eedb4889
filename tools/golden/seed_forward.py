"""The seed model's forward pass, loss and gradients in real Keras (3, TensorFlow
backend, CPU), from fixed weights and inputs, for tests/test_seed_keras.cpp.

Writes tests/data/seed_keras/*.npy (float32):
  x.npy [4, 24, 24, 3] pixels in [0, 255); y.npy [4, 8] labels in [-40, 40)
  w_<name>.npy the weights by Parity's state-dict name ("0.kernel", ...: Keras'
               HWIO kernels and [in, out] Dense kernels are Parity's NHWC layout)
  pred.npy     the model's output; loss.npy Keras' mse (a 0-d array)
  g_<name>.npy d loss / d weight (tf.GradientTape)
Run: tools/golden/.venv/bin/python tools/golden/seed_forward.py
"""
import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np
import keras
import tensorflow as tf
from keras import layers

SIZE = 24
out = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "seed_keras"
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(6)

i = keras.Input(shape=(SIZE, SIZE, 3))
x = layers.Conv2D(filters=64, kernel_size=(7, 7))(i)
x = layers.Activation("relu")(x)
x = layers.Conv2D(filters=64, kernel_size=(7, 7))(x)
x = layers.Activation("relu")(x)
x = layers.MaxPooling2D(pool_size=(4, 4))(x)
x = layers.Flatten()(x)
x = layers.Dense(64)(x)
x = layers.Activation("relu")(x)
r = layers.Dense(8)(x)
model = keras.Model(inputs=i, outputs=r)

# Parity's names for the weights, in Keras' order (kernel, bias per layer).
names = ["0.kernel", "0.bias", "2.kernel", "2.bias", "6.kernel", "6.bias", "8.kernel", "8.bias"]
weights = []
for w in model.weights:
    shape = tuple(w.shape)
    bound = np.sqrt(6.0 / (np.prod(shape[:-1]) + shape[-1])) if len(shape) > 1 else 0.1
    weights.append(rng.uniform(-bound, bound, size=shape).astype(np.float32))
model.set_weights(weights)

data = rng.integers(0, 255, size=(4, SIZE, SIZE, 3)).astype(np.float32)
labels = rng.integers(-40, 40, size=(4, 8)).astype(np.float32)
loss_fn = keras.losses.MeanSquaredError()
with tf.GradientTape() as tape:
    pred = model(data, training=True)
    loss = loss_fn(labels, pred)
grads = tape.gradient(loss, model.trainable_weights)

np.save(out / "x.npy", data)
np.save(out / "y.npy", labels)
np.save(out / "pred.npy", pred.numpy())
np.save(out / "loss.npy", np.array(loss.numpy(), dtype=np.float32))
for name, w, g in zip(names, weights, grads):
    np.save(out / f"w_{name}.npy", w)
    np.save(out / f"g_{name}.npy", g.numpy())
print("keras", keras.__version__, "tensorflow", tf.__version__, "loss", float(loss), "->", out)
