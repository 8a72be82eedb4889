"""The seed's model in Keras 2.0.4 (keras-team/keras#6694), for images of size x size."""
from keras.engine import Model
from keras.layers import Activation, Conv2D, Dense, Flatten, Input, MaxPooling2D


def build(size):
    i = Input(shape=(size, size, 3))
    x = Conv2D(filters=64, kernel_size=(7, 7))(i)
    x = Activation("relu")(x)
    x = Conv2D(filters=64, kernel_size=(7, 7))(x)
    x = Activation("relu")(x)
    x = MaxPooling2D(pool_size=(4, 4))(x)
    x = Flatten()(x)
    x = Dense(64)(x)
    x = Activation("relu")(x)
    return Model(inputs=i, outputs=Dense(8)(x))
