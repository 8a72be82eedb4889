// A shared CUDA library (cuBLAS, cuDNN) opened on its first use, not at start-up.
//
// Note [CUDA libraries load on first use]
// libparity does not link libcublas or libcudnn: a program that never touches
// a GPU would pay their loading at every start (about 200 MB of resident memory
// and up to a quarter second, measured: docs/INSTALL.md), and could not start on
// a machine without them. Instead cublas_stubs.cpp and cudnn_stubs.cpp define
// each function Parity calls, with the header's own prototype (the compiler
// checks it), as a forwarder that opens the library on the first call and
// looks the function up once (TensorFlow's stubs do the same). The CUDA
// runtime is linked statically and starts the driver only at the first runtime
// call. A library that is missing, or of another major version, is a
// parity::Error at that first call, naming the library, what was found and what
// is needed. The forwarders are hidden symbols: they never stand in for a
// user's own cuBLAS or cuDNN calls.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace parity::cuda::detail {

class LazyLibrary {
 public:
  // `name` as users know it ("cuDNN"); `soname` what the dynamic loader looks
  // for ("libcudnn.so.9"); `needed` the version Parity needs, in words.
  // `fallback_dirs` are tried after the loader's own search (LD_LIBRARY_PATH,
  // run paths, ld.so.cache). `check_version` is given the dlopen handle and
  // returns "" for a usable library, else what is wrong with it.
  LazyLibrary(std::string name, std::string soname, std::string needed, std::vector<std::string> fallback_dirs,
              std::function<std::string(void* handle)> check_version = {});
  LazyLibrary(const LazyLibrary&) = delete;
  LazyLibrary& operator=(const LazyLibrary&) = delete;

  // The address of `symbol`, opening the library first if need be. Throws
  // parity::Error when the library cannot be opened, fails its version check
  // or lacks the symbol.
  void* symbol(const char* symbol);
  // Opens the library now (throws as symbol() does).
  void load();
  bool loaded() const;
  // The file the library was opened from ("" before).
  std::string path() const;
  const std::string& name() const { return name_; }

 private:
  void* open_or_throw();  // caller holds mutex_
  std::string name_, soname_, needed_;
  std::vector<std::string> fallback_dirs_;
  std::function<std::string(void*)> check_version_;
  mutable std::mutex mutex_;
  void* handle_ = nullptr;
  std::string path_;
  std::string failure_;  // a failed open is not retried: the same error each time
};

// The folders searched after the loader's own: $CUDA_HOME, $CUDA_PATH and
// $CUDNN_ROOT (lib64, lib), then /usr/local/cuda's.
std::vector<std::string> cuda_library_fallback_dirs();

LazyLibrary& cublas_library();
LazyLibrary& cudnn_library();

}  // namespace parity::cuda::detail
