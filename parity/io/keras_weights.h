// Keras' HDF5 weight files, and Keras' weights on a Parity model.
//
// Two formats:
//   - Keras 2 `model.save_weights("w.h5")` (keras/engine/topology.py,
//     save_weights_to_hdf5_group, 2.0.4): root attributes `layer_names` (every
//     layer, in the model's order), `backend` ("tensorflow", "theano") and
//     `keras_version`; one group per layer with the attribute `weight_names`
//     (Keras' variable names, "conv2d_1/kernel:0"; an empty list for a layer
//     without weights) and one dataset per name, at that path inside the group.
//   - Keras 3 `model.save_weights("w.weights.h5")` (keras/src/saving/saving_lib.py,
//     H5IOStore): `layers/<layer name>/vars/0`, `1`, ... (a nested model's
//     layers under `layers/<model>/layers/...`). The file records neither the
//     layers' order nor a backend: Keras 3 itself loads by layer name, its
//     kernels are the same on every backend (TensorFlow's convention).
//
// Reading needs Parity built with HDF5 (PARITY_HDF5, on when libhdf5 is
// found; io::have_hdf5()); without it these functions throw. The mapping onto
// a model does not.
//
// The reader treats the file as hostile: a parity::Error naming the file and
// the problem for a missing or ill-typed attribute, a dataset that is not
// float32 or float64 (IEEE, either byte order), more than 8 dims, a byte size
// that overflows int64 or exceeds what the file stores for it, data kept in
// external files, external links. HDF5 itself parses the file's structures.
//
// On a model (keras_state_dict), Keras 2's rules (load_weights_from_hdf5_group):
// the model's layers that have weights, in order, take the file's layers that
// have weights, in order, each layer's weights in order; then
// preprocess_weights_for_loading's conversion when the saving backend differs
// from the model's: conv kernels flipped in both spatial dims (Theano's conv2d
// is a true convolution, TensorFlow's a cross-correlation). Parity's model
// says which backend's computation it runs by its conv mode
// (ConvMode::Convolution: Theano's), per layer. On top of that, what Keras
// does not need but Parity's layouts do: Keras' kernels are HWIO whatever the
// backend, an NCHW model's are OIHW; and the first Dense after a Flatten of an
// image takes its rows in the model's flatten order ((h, w, c) for NHWC,
// (c, h, w) for NCHW) from the saving model's (`KerasOptions::keras_layout`).
// The Theano configuration of tools/seed/seed.h is NCHW + ConvMode::Convolution:
// a TensorFlow-saved file gets exactly seed::theano_weights' conversion.
// Every conversion is a permutation: no rounding; a float64 file is converted
// to the model's dtype by load_state_dict.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "parity/nn/module.h"
#include "parity/tensor/tensor.h"
#include "parity/tensor/window.h"

namespace parity::io {

enum class KerasFormat { Keras2, Keras3 };

struct KerasLayerWeights {
  // Keras 2: the layer's group ("conv2d_1"). Keras 3: the path under `layers/`
  // without the `vars` ("conv2d", a nested model's "sequential/layers/dense").
  std::string name;
  // Keras 2: weight_names ("conv2d_1/kernel:0"). Keras 3: "0", "1", ...
  std::vector<std::string> weight_names;
  std::vector<Tensor> weights;  // CPU float32 or float64 tensors, as stored; Keras' layouts (HWIO kernels)
};

struct KerasWeights {
  KerasFormat format = KerasFormat::Keras2;
  std::string backend;        // "tensorflow", "theano", ...; empty when the file does not say (Keras 3 never does)
  std::string keras_version;  // "2.0.4"; empty when the file does not say
  // Keras 2: every layer of layer_names, in that order, with or without
  // weights. Keras 3: the layers under `layers/` by name (the file's order).
  std::vector<KerasLayerWeights> layers;
};

// Whether this build reads and writes HDF5 files.
bool have_hdf5();

// Throw parity::Error naming the file and the problem.
KerasWeights load_keras2_weights(const std::string& path);
KerasWeights load_keras3_weights(const std::string& path);

// Writes a Keras 2 save_weights file (format Keras2 only) that Keras 2.0.4's
// load_weights reads: the attributes as fixed-length ASCII strings (what h5py
// 2 wrote for Keras' byte strings), an empty weight_names as Keras' empty
// float64 array, IEEE little-endian datasets. Names must be unique and
// non-empty, layer names without '/'. Written atomically (parity/io/atomic_file.h).
void save_keras2_weights(const std::string& path, const KerasWeights& weights);

struct KerasOptions {
  // The image layout of the Keras model (its data_format): the file does not
  // record it. Keras' default, channels_last, is NHWC.
  Layout keras_layout = Layout::NHWC;
  // keras_state_dict only: the file's layers for the model's layers that have
  // weights, in order. When empty: Keras 2 by order (as Keras 2 loads),
  // Keras 3 by the names a fresh Keras 3 model gives its layers ("conv2d",
  // "conv2d_1", "dense", ...: Keras 3 loads by name), every one of the file's
  // layers with weights used.
  std::vector<std::string> layer_names;
};

// The model's state dict from a file's weights, converted for the model's
// layouts and conv modes. The model must be built. Throws parity::Error
// naming the model's layer and the file's when counts or shapes differ, and
// for a Keras 1 file (keras_version 1.x, or none in a Keras 2 file), whose
// layouts Parity does not convert.
nn::StateDict keras_state_dict(const nn::Module& model, const KerasWeights& weights, const KerasOptions& options = {});
// model.load_state_dict(keras_state_dict(model, weights, options)).
void load_keras_weights(nn::Module& model, const KerasWeights& weights, const KerasOptions& options = {});

// A built model's weights as Keras 2 on the backend of the model's conv mode
// (Convolution: "theano", else "tensorflow") holds them: HWIO kernels (those
// of layers in the other mode flipped), the Dense after a Flatten in
// keras_layout's row order; every layer named (the model's names: Sequential
// gives Keras 2's "conv2d_1"), weights "<layer>/<param>:0", keras_version
// "2.0.4" (the format's).
KerasWeights keras2_weights_of(const nn::Module& model, const KerasOptions& options = {});

}  // namespace parity::io
