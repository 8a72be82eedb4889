// Module: a layer or a model. It owns named parameters (trainable tensors),
// named buffers (state that is not trained) and named child modules, and maps
// an input batch to an output batch with differentiable ops.
//
// Modules are built for an input shape, as in Keras: the parameters' shapes
// follow from the input (a Dense layer's kernel needs the input's feature
// count), so a module has no parameters until `build(input_shape, options)` or
// its first call, which builds from that batch's shape. Input and output shapes
// here never include the batch dim.
//
// How a model is built (the image layout, the initializers, the seed, the
// dtype, the device, the conv mode) is one BuildOptions for the whole model:
// the same options and seed give the same weights, bit for bit, on the CPU and
// on CUDA (the initializers draw from the counter-based Philox generator).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parity/autograd/hooks.h"
#include "parity/tensor/conv.h"
#include "parity/tensor/device.h"
#include "parity/tensor/dtype.h"
#include "parity/tensor/generator.h"
#include "parity/tensor/tensor.h"
#include "parity/tensor/window.h"

namespace parity::nn {

// Which framework's default initializers a model uses (parity/nn/init.h).
enum class Init : std::uint8_t {
  Keras,    // glorot_uniform kernels, zero biases
  PyTorch,  // kaiming_uniform(a = sqrt(5)) weights, uniform(+-1/sqrt(fan_in)) biases
};
constexpr std::string_view name(Init init) { return init == Init::Keras ? "keras" : "pytorch"; }

struct BuildOptions {
  Layout layout = Layout::NHWC;  // images; NHWC models use HWIO kernels, NCHW models OIHW
  Init init = Init::Keras;
  std::uint64_t seed = 0;
  DType dtype = kFloat32;
  Device device = Device::cpu();
  ConvMode conv_mode = ConvMode::CrossCorrelation;  // Convolution computes what Theano's conv2d does
};

// What a module sees while it builds: the model's options and the generator its
// initializers draw from (one per model, advanced layer by layer).
struct BuildContext {
  const BuildOptions& options;
  Generator& generator;
};

// name -> tensor, for checkpoints. Names are dotted paths: "0.kernel", "3.bias".
using StateDict = std::map<std::string, Tensor>;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;

  // The layer's type as Keras prints it: "Dense", "Conv2D", "Sequential".
  virtual std::string type_name() const = 0;

  // The output for a batch x ([batch, ...input_shape]). Builds the module from
  // x's shape on the first call (BuildOptions defaults, x's dtype and device).
  Tensor operator()(const Tensor& x);
  Tensor forward(const Tensor& x) { return (*this)(x); }

  // Creates the parameters for inputs of `input_shape` (without the batch dim).
  // Throws if already built for another shape or with other options.
  void build(const Shape& input_shape, const BuildOptions& options = {});
  bool built() const { return built_; }
  const Shape& input_shape() const;   // without the batch dim; throws unless built
  const Shape& output_shape() const;  // without the batch dim; throws unless built
  const BuildOptions& build_options() const;

  // Parameters and buffers of this module and all its descendants, in
  // registration order (depth first), named by their dotted paths.
  std::vector<Tensor> parameters() const;
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::int64_t parameter_count() const;  // elements, as Keras' "Total params"
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

  // Moves every parameter and buffer to `device` (new tensors, which keep
  // requires_grad). Build the optimizer after moving: it holds the tensors.
  Module& to(Device device);
  Device device() const;

  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Hooks, as PyTorch's modules have them (removable through their handles).
  // Each runs with the module; a defined return replaces what it names, an
  // undefined one keeps it. Forward hooks run in operator(), before and after
  // forward_impl. A full backward hook runs when the gradient with respect to
  // the module's input has been computed, with the gradient with respect to
  // its output: (module, grad_input, grad_output), grad_input undefined when
  // the input needs no gradient (the hook then runs when grad_output arrives).
  // While a module has backward hooks, its output (and the input it sees) are
  // views that refuse in-place ops under autograd, as in PyTorch. The hooks
  // refer to the module: keep it alive until backward has run.
  using ForwardPreHook = std::function<Tensor(Module& module, const Tensor& input)>;
  using ForwardHook = std::function<Tensor(Module& module, const Tensor& input, const Tensor& output)>;
  using BackwardHook = std::function<Tensor(Module& module, const Tensor& grad_input, const Tensor& grad_output)>;
  autograd::HookHandle register_forward_pre_hook(ForwardPreHook hook);
  autograd::HookHandle register_forward_hook(ForwardHook hook);
  autograd::HookHandle register_full_backward_hook(BackwardHook hook);

  // Parameters and buffers by dotted name, detached (sharing their storage).
  StateDict state_dict() const;
  // Copies values into the existing tensors (dtype converted, device kept).
  // Strict: the names must match exactly; throws naming the missing,
  // unexpected or misshapen entries and changes nothing.
  void load_state_dict(const StateDict& dict, bool strict = true);

  // A table like Keras' model.summary(): layer (type), output shape, params.
  std::string summary() const;

  // The instance name shown in summaries ("conv2d_1"); Sequential names its
  // children as Keras does when they have none.
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

 protected:
  Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;

  // The layer's computation; x has been checked against input_shape().
  virtual Tensor forward_impl(const Tensor& x) = 0;
  // Registers this layer's parameters for `input_shape` and returns the output
  // shape (both without batch). Throws parity::Error for an input the layer
  // cannot take, naming the layer, the shape and what it expected.
  virtual Shape build_impl(const Shape& input_shape, const BuildContext& context) = 0;
  // The dtype forward() takes: the model's (BuildOptions::dtype), or int64 for
  // a layer that looks indices up (Embedding).
  virtual DType input_dtype() const { return options_.dtype; }
  // Extra columns for summary(); Sequential lists its children instead.
  virtual void summarize(std::vector<std::vector<std::string>>& rows) const;

  // Registration (from build_impl): a parameter requires grad; a buffer not.
  Tensor& register_parameter(const std::string& name, Tensor value);
  Tensor& register_buffer(const std::string& name, Tensor value);
  std::shared_ptr<Module> register_module(const std::string& name, std::shared_ptr<Module> module);
  Tensor& parameter(const std::string& name);  // throws naming the module when absent
  bool has_parameter(const std::string& name) const;

  // Checks x against the built input shape: rank, then each dim but the batch.
  void check_input(const Tensor& x) const;

 private:
  void collect(const std::string& prefix, NamedTensors& out, bool buffers) const;
  void build_with(const Shape& input_shape, const BuildContext& context);

  std::string name_;
  bool built_ = false;
  bool training_ = true;
  Shape input_shape_, output_shape_;
  BuildOptions options_;
  NamedTensors parameters_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  struct Hooks;
  Hooks& hooks();  // created on first use
  autograd::HookHandle hook_handle(std::uint64_t id) const;
  std::shared_ptr<Hooks> hooks_;  // null until a hook is registered

  friend class Sequential;
};

// "(None, 218, 218, 64)": a shape with the batch dim shown as Keras does.
std::string keras_shape(const Shape& shape_without_batch);

std::ostream& operator<<(std::ostream& out, const Module& module);

}  // namespace parity::nn
