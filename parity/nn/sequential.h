// Sequential: modules applied one after the other, as Keras' Sequential.
//
//   auto model = nn::Sequential{nn::Conv2D{{.filters = 64, .kernel = {7, 7}}}, nn::ReLU{},
//                               nn::Flatten{}, nn::Dense{{.units = 8}}};
//   model.build({224, 224, 3}, {.layout = Layout::NHWC, .init = nn::Init::Keras, .seed = 6});
//
// Children are named by position in state dicts ("0.kernel", "0.bias", ...) and
// as Keras names layers in summaries ("conv2d_1", "re_lu_1", ...).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

#include "parity/nn/module.h"

namespace parity::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  // From module values (copied or moved into the model) or shared pointers.
  template <typename... Modules>
    requires(sizeof...(Modules) > 0 &&
             !(sizeof...(Modules) == 1 && (std::is_same_v<std::decay_t<Modules>, Sequential> && ...)))
  explicit Sequential(Modules&&... modules) {
    (add(std::forward<Modules>(modules)), ...);
  }

  std::string type_name() const override { return "Sequential"; }

  // Appends a module (before the model is built).
  Sequential& add(std::shared_ptr<Module> module);
  template <typename M>
    requires std::is_base_of_v<Module, std::decay_t<M>>
  Sequential& add(M&& module) {
    return add(std::static_pointer_cast<Module>(std::make_shared<std::decay_t<M>>(std::forward<M>(module))));
  }

  std::size_t size() const { return children().size(); }
  Module& operator[](std::size_t i) const;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  Shape build_impl(const Shape& input_shape, const BuildContext& context) override;
  void summarize(std::vector<std::vector<std::string>>& rows) const override;
};

// Keras' name for a layer type: "Conv2D" -> "conv2d", "MaxPooling2D" -> "max_pooling2d".
std::string snake_case(const std::string& type_name);

}  // namespace parity::nn
