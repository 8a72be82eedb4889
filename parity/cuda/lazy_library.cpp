#include "parity/cuda/lazy_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <utility>

#include "parity/tensor/error.h"

namespace parity::cuda::detail {

LazyLibrary::LazyLibrary(std::string name, std::string soname, std::string needed,
                         std::vector<std::string> fallback_dirs, std::function<std::string(void*)> check_version)
    : name_(std::move(name)),
      soname_(std::move(soname)),
      needed_(std::move(needed)),
      fallback_dirs_(std::move(fallback_dirs)),
      check_version_(std::move(check_version)) {}

void* LazyLibrary::open_or_throw() {
  if (handle_ != nullptr) return handle_;
  PARITY_CHECK(failure_.empty(), failure_);
  // RTLD_LOCAL: the library's symbols serve only the lookups below, and a
  // user's own copy of it (linked or opened) is the same object to the loader.
  void* handle = dlopen(soname_.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::string first_error = handle ? "" : dlerror();
  std::string tried = "the dynamic loader's search (LD_LIBRARY_PATH, run paths, ld.so.cache)";
  for (std::size_t i = 0; handle == nullptr && i < fallback_dirs_.size(); ++i) {
    const std::string candidate = fallback_dirs_[i] + "/" + soname_;
    tried += ", " + candidate;
    handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
  if (handle == nullptr) {
    failure_ = name_ + " could not be loaded: " + first_error + "; looked in " + tried + ". Parity's CUDA backend needs " +
               name_ + " " + needed_ + ": install it (docs/GPU.md) or put its folder on LD_LIBRARY_PATH";
    PARITY_FAIL(failure_);
  }
  char origin[4096] = {};
  if (dlinfo(handle, RTLD_DI_ORIGIN, origin) == 0) path_ = std::string(origin) + "/" + soname_;
  if (check_version_) {
    const std::string problem = check_version_(handle);
    if (!problem.empty()) {
      dlclose(handle);
      failure_ = name_ + " from " + (path_.empty() ? soname_ : path_) + ": " + problem + "; Parity needs " + name_ +
                 " " + needed_;
      PARITY_FAIL(failure_);
    }
  }
  handle_ = handle;
  return handle_;
}

void LazyLibrary::load() {
  std::lock_guard lock(mutex_);
  open_or_throw();
}

void* LazyLibrary::symbol(const char* symbol) {
  std::lock_guard lock(mutex_);
  void* handle = open_or_throw();
  dlerror();  // clear
  void* address = dlsym(handle, symbol);
  PARITY_CHECK(address != nullptr, name_, " (", path_, ") has no function ", symbol, ": Parity needs ", name_, " ",
               needed_);
  return address;
}

bool LazyLibrary::loaded() const {
  std::lock_guard lock(mutex_);
  return handle_ != nullptr;
}

std::string LazyLibrary::path() const {
  std::lock_guard lock(mutex_);
  return path_;
}

std::vector<std::string> cuda_library_fallback_dirs() {
  std::vector<std::string> dirs;
  for (const char* variable : {"CUDA_HOME", "CUDA_PATH", "CUDNN_ROOT"}) {
    if (const char* root = std::getenv(variable); root != nullptr && *root != '\0') {
      dirs.push_back(std::string(root) + "/lib64");
      dirs.push_back(std::string(root) + "/lib");
    }
  }
  for (const char* dir : {"/usr/local/cuda/lib64", "/usr/local/cuda/lib", "/usr/local/cuda/targets/x86_64-linux/lib",
                          "/usr/local/cuda/targets/sbsa-linux/lib"}) {
    dirs.emplace_back(dir);
  }
  return dirs;
}

}  // namespace parity::cuda::detail
