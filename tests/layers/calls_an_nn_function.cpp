// Compiled against the tensor layer's include root, as a tensor source would be:
// it declares an nn function by hand instead of including its header (which the
// root refuses), and calls it. tests/check_layer_links.py must refuse the
// object (ctest layers_link_downward_refuses_an_upward_call).
#include <string_view>

namespace parity::nn {
void check_activation_name(std::string_view name, std::string_view who);
}  // namespace parity::nn

namespace parity::layer_test {
void call_upward() { nn::check_activation_name("relu", "layer test"); }
}  // namespace parity::layer_test
