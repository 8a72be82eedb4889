// Keras' weights on a Parity model and back (parity/io/keras_weights.h); no HDF5 here.
#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "parity/io/keras_weights.h"
#include "parity/nn/conv2d.h"
#include "parity/nn/convert.h"
#include "parity/nn/sequential.h"
#include "parity/tensor/error.h"

namespace parity::io {

namespace {

// A layer of the model: a module without children, and its dotted prefix ("0", "3").
struct Leaf {
  std::string prefix;
  const nn::Module* module = nullptr;
  nn::NamedTensors tensors;  // parameters then buffers, named as in the state dict ("0.kernel")
};

std::string joined(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

void collect(const nn::Module& module, const std::string& prefix, const char* op, std::vector<Leaf>& out) {
  if (module.children().empty()) {
    Leaf leaf{prefix, &module, {}};
    for (auto& [name, t] : module.named_parameters()) leaf.tensors.emplace_back(joined(prefix, name), t);
    for (auto& [name, t] : module.named_buffers()) leaf.tensors.emplace_back(joined(prefix, name), t);
    out.push_back(std::move(leaf));
    return;
  }
  // A module with children and weights of its own has no Keras layer to match.
  for (const auto& [name, t] : module.named_parameters()) {
    PARITY_CHECK(name.find('.') != std::string::npos, op, ": module '", joined(prefix, ""), "' (",
                 module.type_name(), ") has children and a weight of its own, '", name,
                 "': Keras' layers are one or the other");
  }
  for (const auto& [name, child] : module.children()) collect(*child, joined(prefix, name), op, out);
}

std::vector<Leaf> leaves(const nn::Module& model, const char* op) {
  PARITY_CHECK(model.built(), op, ": the model is not built (build it for its input shape first)");
  std::vector<Leaf> out;
  collect(model, "", op, out);
  return out;
}

// The last part of a dotted name: "kernel" of "6.kernel".
std::string param_name(const std::string& full) {
  const std::size_t dot = full.rfind('.');
  return dot == std::string::npos ? full : full.substr(dot + 1);
}

std::string describe(const Leaf& leaf, std::size_t index) {
  return detail::concat("layer ", index, " ('", leaf.module->name(), "', ", leaf.module->type_name(), ")");
}

// The conv mode the file's kernels are for: Theano's conv2d is a true
// convolution, TensorFlow's (and CNTK's, and Keras 3's everywhere) a
// cross-correlation. nullopt: the file does not say, and Keras converts nothing.
std::optional<ConvMode> file_mode(const KerasWeights& weights, const char* op) {
  if (weights.format == KerasFormat::Keras3) return ConvMode::CrossCorrelation;
  if (weights.backend.empty()) return std::nullopt;
  if (weights.backend == "theano") return ConvMode::Convolution;
  if (weights.backend == "tensorflow" || weights.backend == "cntk") return ConvMode::CrossCorrelation;
  PARITY_FAIL(op, ": unknown backend '", weights.backend, "' (Keras 2's are tensorflow, theano and cntk)");
}

// The Flatten of an image just before a Dense: the feature map's shape in the
// model's layout ([h, w, c] or [c, h, w]), or nullopt.
struct FlattenTracker {
  std::optional<Shape> image;
  void see(const Leaf& leaf) {
    if (leaf.module->type_name() == "Flatten") {
      const Shape& in = leaf.module->input_shape();
      image = in.size() == 3 ? std::optional<Shape>(in) : std::nullopt;
    } else if (!leaf.tensors.empty()) {
      image.reset();  // only the first layer with weights after the Flatten
    }
  }
};

// [h, w, c] of the feature map `image` (in `layout`).
std::array<std::int64_t, 3> hwc(const Shape& image, Layout layout) {
  return layout == Layout::NHWC ? std::array<std::int64_t, 3>{image[0], image[1], image[2]}
                                : std::array<std::int64_t, 3>{image[1], image[2], image[0]};
}

// One of the file's tensors for the model's tensor `target` (shape checked by the caller).
Tensor to_model(const Leaf& leaf, const std::string& name, const Tensor& keras, std::optional<ConvMode> mode,
                const std::optional<Shape>& image, Layout keras_layout, const std::string& where, const char* op) {
  const std::string param = param_name(name);
  if (const auto* conv = dynamic_cast<const nn::Conv2D*>(leaf.module); conv && param == "kernel") {
    PARITY_CHECK(keras.dim() == 4, op, ": ", where, ": a Conv2D kernel must be 4-D ([kh, kw, in, filters]), the "
                 "file's is ", to_string(keras.shape()));
    const Conv2dOptions o = conv->conv_options();
    Tensor k = mode && *mode != o.mode ? nn::flip_kernel(keras, KernelLayout::HWIO) : keras;
    return o.kernel_layout == KernelLayout::OIHW ? nn::hwio_to_oihw(k) : k;
  }
  if (leaf.module->type_name() == "Dense" && param == "kernel" && image) {
    const Layout model_layout = leaf.module->build_options().layout;
    if (model_layout == keras_layout) return keras;
    const auto [h, w, c] = hwc(*image, model_layout);
    PARITY_CHECK(keras.dim() == 2 && keras.size(0) == h * w * c, op, ": ", where, ": the Dense kernel after the ",
                 "Flatten must have ", h * w * c, " rows, the file's is ", to_string(keras.shape()));
    return keras_layout == Layout::NHWC ? nn::dense_rows_nhwc_to_nchw(keras, h, w, c)
                                        : nn::dense_rows_nchw_to_nhwc(keras, h, w, c);
  }
  return keras;
}

// The inverse of to_model: the model's tensor as Keras holds it.
Tensor to_keras(const Leaf& leaf, const std::string& name, const Tensor& value, ConvMode mode,
                const std::optional<Shape>& image, Layout keras_layout) {
  const std::string param = param_name(name);
  if (const auto* conv = dynamic_cast<const nn::Conv2D*>(leaf.module); conv && param == "kernel") {
    const Conv2dOptions o = conv->conv_options();
    Tensor k = o.kernel_layout == KernelLayout::OIHW ? nn::oihw_to_hwio(value) : value;
    return mode != o.mode ? nn::flip_kernel(k, KernelLayout::HWIO) : k;
  }
  if (leaf.module->type_name() == "Dense" && param == "kernel" && image) {
    const Layout model_layout = leaf.module->build_options().layout;
    if (model_layout == keras_layout) return value;
    const auto [h, w, c] = hwc(*image, model_layout);
    return model_layout == Layout::NCHW ? nn::dense_rows_nchw_to_nhwc(value, h, w, c)
                                        : nn::dense_rows_nhwc_to_nchw(value, h, w, c);
  }
  return value;
}

// The file's layer for each of the model's layers with weights.
std::vector<const KerasLayerWeights*> match(const std::vector<Leaf>& model, const KerasWeights& weights,
                                            const KerasOptions& options, const char* op) {
  std::vector<const Leaf*> weighted;
  for (const Leaf& leaf : model) {
    if (!leaf.tensors.empty()) weighted.push_back(&leaf);
  }
  std::vector<const KerasLayerWeights*> file;
  for (const KerasLayerWeights& layer : weights.layers) {
    if (!layer.weights.empty()) file.push_back(&layer);
  }
  std::string file_names;
  for (const KerasLayerWeights* layer : file) file_names += (file_names.empty() ? "'" : ", '") + layer->name + "'";
  const auto find = [&](const std::string& name) -> const KerasLayerWeights* {
    for (const KerasLayerWeights* layer : file) {
      if (layer->name == name) return layer;
    }
    return nullptr;
  };

  std::vector<const KerasLayerWeights*> out;
  if (!options.layer_names.empty()) {
    PARITY_CHECK(options.layer_names.size() == weighted.size(), op, ": ", options.layer_names.size(),
                 " layer names given for the model's ", weighted.size(), " layers with weights");
    for (const std::string& name : options.layer_names) {
      const KerasLayerWeights* layer = find(name);
      PARITY_CHECK(layer, op, ": the file has no layer '", name, "' with weights (it has ", file_names, ")");
      out.push_back(layer);
    }
    return out;
  }
  if (weights.format == KerasFormat::Keras2) {
    // Keras 2's message (load_weights_from_hdf5_group).
    PARITY_CHECK(file.size() == weighted.size(), op, ": you are trying to load a weight file containing ",
                 file.size(), " layers into a model with ", weighted.size(), " layers (counting layers with weights)");
    return file;
  }
  // Keras 3 loads by name; a fresh Keras 3 model names its layers "conv2d",
  // "conv2d_1", ... by type, counting every layer.
  std::map<std::string, int> counts;
  std::set<const KerasLayerWeights*> used;
  for (const Leaf& leaf : model) {
    const std::string base = nn::snake_case(leaf.module->type_name());
    const int n = counts[base]++;
    if (leaf.tensors.empty()) continue;
    const std::string name = n == 0 ? base : base + "_" + std::to_string(n);
    const KerasLayerWeights* layer = find(name);
    if (!layer) {  // a nested model's layer: ".../layers/<name>", when only one matches
      for (const KerasLayerWeights* l : file) {
        const std::string suffix = "/layers/" + name;
        if (l->name.size() > suffix.size() && l->name.ends_with(suffix)) {
          PARITY_CHECK(!layer, op, ": Keras 3's name '", name, "' for the model's ", leaf.module->type_name(),
                       " matches both '", layer->name, "' and '", l->name, "' (KerasOptions::layer_names decides)");
          layer = l;
        }
      }
    }
    PARITY_CHECK(layer, op, ": the file has no layer '", name, "' (the name Keras 3 gives the model's ",
                 leaf.module->type_name(), " '", leaf.module->name(), "'); its layers with weights are ", file_names,
                 " (KerasOptions::layer_names maps them by hand)");
    used.insert(layer);
    out.push_back(layer);
  }
  for (const KerasLayerWeights* layer : file) {
    PARITY_CHECK(used.count(layer), op, ": the file's layer '", layer->name,
                 "' has weights but no layer of the model takes them");
  }
  return out;
}

}  // namespace

nn::StateDict keras_state_dict(const nn::Module& model, const KerasWeights& weights, const KerasOptions& options) {
  const char* op = "keras_state_dict";
  if (weights.format == KerasFormat::Keras2) {
    PARITY_CHECK(!weights.keras_version.empty() && weights.keras_version[0] != '1', op,
                 ": the file is from Keras 1 (",
                 weights.keras_version.empty() ? std::string("no keras_version attribute")
                                               : "keras_version '" + weights.keras_version + "'",
                 "), whose weight layouts Parity does not convert: load it in Keras 2 and save it again");
  }
  const std::optional<ConvMode> mode = file_mode(weights, op);
  const std::vector<Leaf> layers = leaves(model, op);
  const std::vector<const KerasLayerWeights*> file = match(layers, weights, options, op);

  nn::StateDict out;
  FlattenTracker flatten;
  std::size_t k = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Leaf& leaf = layers[i];
    const std::optional<Shape> image = flatten.image;
    flatten.see(leaf);
    if (leaf.tensors.empty()) continue;
    const KerasLayerWeights& layer = *file[k++];
    PARITY_CHECK(layer.weights.size() == leaf.tensors.size() && layer.weight_names.size() == layer.weights.size(),
                 op, ": ", describe(leaf, i), " of the model was found to correspond to layer '", layer.name,
                 "' of the file, but it has ", leaf.tensors.size(), " weights and the file's layer ",
                 layer.weights.size());
    for (std::size_t j = 0; j < leaf.tensors.size(); ++j) {
      const auto& [name, target] = leaf.tensors[j];
      const Tensor& keras = layer.weights[j];
      PARITY_CHECK(keras.defined(), op, ": weight '", layer.weight_names[j], "' of the file's layer '", layer.name,
                   "' is undefined");
      const std::string where = detail::concat(describe(leaf, i), " '", name, "' from the file's '", layer.name,
                                               "' weight '", layer.weight_names[j], "'");
      const Tensor value = to_model(leaf, name, keras, mode, image, options.keras_layout, where, op);
      PARITY_CHECK(value.shape() == target.shape(), op, ": ", where, ": the model's is ", to_string(target.shape()),
                   ", the file's ", to_string(keras.shape()),
                   value.shape() != keras.shape() ? " (" + to_string(value.shape()) + " in the model's layout)" : "");
      out.emplace(name, value);
    }
  }
  return out;
}

void load_keras_weights(nn::Module& model, const KerasWeights& weights, const KerasOptions& options) {
  model.load_state_dict(keras_state_dict(model, weights, options));
}

KerasWeights keras2_weights_of(const nn::Module& model, const KerasOptions& options) {
  const char* op = "keras2_weights_of";
  const std::vector<Leaf> layers = leaves(model, op);
  const ConvMode mode = model.build_options().conv_mode;
  KerasWeights out;
  out.format = KerasFormat::Keras2;
  out.backend = mode == ConvMode::Convolution ? "theano" : "tensorflow";
  out.keras_version = "2.0.4";
  FlattenTracker flatten;
  std::map<std::string, int> counts;
  std::set<std::string> names;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Leaf& leaf = layers[i];
    const std::optional<Shape> image = flatten.image;
    flatten.see(leaf);
    const std::string base = nn::snake_case(leaf.module->type_name());
    ++counts[base];
    KerasLayerWeights layer;
    layer.name = leaf.module->name().empty() ? base + "_" + std::to_string(counts[base]) : leaf.module->name();
    PARITY_CHECK(names.insert(layer.name).second, op, ": two layers are named '", layer.name,
                 "' (Keras' layer names are unique: set_name one of them)");
    for (const auto& [name, value] : leaf.tensors) {
      layer.weight_names.push_back(layer.name + "/" + param_name(name) + ":0");
      layer.weights.push_back(to_keras(leaf, name, value.detach(), mode, image, options.keras_layout)
                                  .to(Device::cpu())
                                  .contiguous()
                                  .clone());
    }
    out.layers.push_back(std::move(layer));
  }
  return out;
}

}  // namespace parity::io
