// Device: where a tensor's memory lives (the CPU, or one CUDA device).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace parity {

enum class DeviceType : std::uint8_t { CPU, CUDA };
inline constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static constexpr Device cpu() { return {DeviceType::CPU, 0}; }
  static constexpr Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }

  constexpr bool is_cpu() const { return type == DeviceType::CPU; }
  constexpr bool is_cuda() const { return type == DeviceType::CUDA; }
  friend constexpr bool operator==(Device, Device) = default;

  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

inline std::ostream& operator<<(std::ostream& out, Device device) { return out << device.str(); }

}  // namespace parity

namespace parity::cuda {
// True when this build has the CUDA backend and the machine has a usable
// CUDA device (a driver and at least one GPU). Never throws.
bool is_available();
// Number of usable CUDA devices; 0 without the backend, a driver or a GPU.
int device_count();
}  // namespace parity::cuda
