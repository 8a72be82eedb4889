// A first look at Parity: tensors, views, broadcasting, reductions, matmul and
// the device-independent random generator. Runs on the CPU, and on the first
// CUDA device too when one is present.
#include <parity/parity.h>

#include <iostream>

using namespace parity;

void show(Device device) {
  std::cout << "== on " << device << "\n";
  manual_seed(6);
  const Tensor x = randn({4, 3}, {.dtype = kFloat32, .device = device});
  const Tensor w = rand({3, 2}, {.dtype = kFloat32, .device = device}, -1.0, 1.0);
  const Tensor b = arange(2, {.dtype = kFloat32, .device = device});

  const Tensor y = relu(matmul(x, w) + b);  // [4, 2]: b broadcasts over rows
  std::cout << "x =\n" << x << "\ny = relu(x @ w + b) =\n" << y << "\n";
  std::cout << "column sums: " << sum(y, {0}) << "\n";
  std::cout << "row argmax:  " << argmax(y, 1) << "\n";

  // Views share storage: writing through the transpose changes x.
  Tensor xt = x.t();
  xt.select(0, 0).fill_(0.0f);
  std::cout << "x after zeroing its first column through x.t():\n" << x << "\n";
}

int main() {
  show(Device::cpu());
  if (cuda::is_available()) {
    show(Device::cuda(0));
    std::cout << "(same seed, same numbers on both devices: the RNG is keyed by element index)\n";
  } else {
    std::cout << "(no CUDA device here: CPU only)\n";
  }
  return 0;
}
