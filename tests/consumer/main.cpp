// Built against the install tree by the install_consumer test: proves the
// installed headers, library and CMake package are complete.
#include <parity/parity.h>

#include <iostream>

int main() {
  using namespace parity;
  const Tensor a = arange(6, {.dtype = kFloat64}).view({2, 3});
  const Tensor b = matmul(a, a.t()) + 1.0;  // [[6, 15], [15, 51]]
  const double total = sum(b).item<double>();
  std::cout << b << "\n";
  if (total != 87.0) {
    std::cerr << "consumer: expected 87, got " << total << "\n";
    return 1;
  }
  // io/: a safetensors round trip in memory, and (when Parity has it) libhdf5
  // linked through the package's Parity::HDF5.
  const io::SafeTensors st = io::parse_safetensors(io::serialize_safetensors({{"b", b}}), "consumer");
  if (st.tensors.at("b").to_vector<double>() != b.to_vector<double>()) {
    std::cerr << "consumer: the safetensors round trip changed the tensor\n";
    return 1;
  }
  std::cout << "consumer: HDF5 " << (io::have_hdf5() ? "on" : "off") << "\n";
  std::cout << "consumer: ok\n";
  return 0;
}
