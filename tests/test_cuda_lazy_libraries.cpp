// Note [CUDA libraries load on first use] (parity/cuda/lazy_library.h): a
// program linked against the CUDA-enabled Parity maps no cuBLAS or cuDNN until
// it uses them, and a missing or wrong library is a parity::Error naming it,
// what was found and what is needed. Runs without a GPU: cuDNN's and cuBLAS's
// version queries need no device. (The install_consumer test checks the other
// half: ldd of a consumer lists no CUDA library.)
#include <gtest/gtest.h>

#if defined(PARITY_WITH_CUDA)

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <fstream>
#include <string>

#include "parity/cuda/cudnn.h"
#include "parity/cuda/lazy_library.h"
#include "parity/tensor/error.h"

namespace parity::testing {
namespace {

using cuda::detail::LazyLibrary;

bool mapped(const std::string& library) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find(library) != std::string::npos) return true;
  }
  return false;
}

// Read during static initialisation, after libparity's own: before any test ran.
const bool cublas_mapped_at_start = mapped("libcublas");
const bool cudnn_mapped_at_start = mapped("libcudnn");

bool machine_has(const char* soname) {
  void* handle = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
  if (handle == nullptr) handle = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
  if (handle == nullptr) return false;
  dlclose(handle);
  return true;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LazyCudaLibraries, NothingOfCublasOrCudnnIsMappedAtStartUp) {
  EXPECT_FALSE(cublas_mapped_at_start);
  EXPECT_FALSE(cudnn_mapped_at_start);
}

TEST(LazyCudaLibraries, AMissingLibraryIsAnErrorNamingItWhereItLookedAndWhatIsNeeded) {
  LazyLibrary library("cuFoo", "libparity_no_such_library.so.7", "7.x (built with 7.2.1)", {"/nonexistent/lib64"});
  const std::string error = error_of([&] { library.symbol("cuFooCreate"); });
  EXPECT_NE(error.find("cuFoo could not be loaded"), std::string::npos) << error;
  EXPECT_NE(error.find("libparity_no_such_library.so.7"), std::string::npos) << error;
  EXPECT_NE(error.find("/nonexistent/lib64/libparity_no_such_library.so.7"), std::string::npos) << error;
  EXPECT_NE(error.find("needs cuFoo 7.x (built with 7.2.1)"), std::string::npos) << error;
  EXPECT_FALSE(library.loaded());
  // Not retried: the same message again (thrown from another line), never a crash.
  const auto message = [](const std::string& e) { return e.substr(0, e.rfind(" (")); };
  EXPECT_EQ(message(error_of([&] { library.load(); })), message(error));
}

TEST(LazyCudaLibraries, AFailedVersionCheckNamesTheFileTheVersionFoundAndTheVersionNeeded) {
  LazyLibrary library("cuBar", "libm.so.6", "13.x (built with 13.0.2)", {},
                      [](void*) { return std::string("version 12.4.1 was loaded"); });
  const std::string error = error_of([&] { library.load(); });
  EXPECT_NE(error.find("cuBar from "), std::string::npos) << error;
  EXPECT_NE(error.find("libm.so.6"), std::string::npos) << error;
  EXPECT_NE(error.find("version 12.4.1 was loaded"), std::string::npos) << error;
  EXPECT_NE(error.find("needs cuBar 13.x (built with 13.0.2)"), std::string::npos) << error;
  EXPECT_FALSE(library.loaded());
}

TEST(LazyCudaLibraries, AMissingFunctionIsAnErrorAndAPresentOneResolves) {
  LazyLibrary library("libm", "libm.so.6", "any", {});
  EXPECT_NE(library.symbol("cos"), nullptr);
  EXPECT_TRUE(library.loaded());
  EXPECT_NE(library.path().find("libm.so.6"), std::string::npos);
  const std::string error = error_of([&] { library.symbol("parity_no_such_function"); });
  EXPECT_NE(error.find("has no function parity_no_such_function"), std::string::npos) << error;
}

TEST(LazyCudaLibraries, FallbackFoldersFollowTheEnvironment) {
  ::setenv("CUDA_HOME", "/opt/parity-test-cuda", 1);
  const std::vector<std::string> dirs = cuda::detail::cuda_library_fallback_dirs();
  ::unsetenv("CUDA_HOME");
  ASSERT_GE(dirs.size(), 2u);
  EXPECT_EQ(dirs[0], "/opt/parity-test-cuda/lib64");
  EXPECT_EQ(dirs[1], "/opt/parity-test-cuda/lib");
  EXPECT_EQ(std::count(dirs.begin(), dirs.end(), "/usr/local/cuda/lib64"), 1);
}

TEST(LazyCudaLibraries, CudnnOpensOnItsFirstCallAndPassesItsVersionCheck) {
  if (!machine_has("libcudnn.so.9")) GTEST_SKIP() << "libcudnn.so.9 is not on this machine";
  const std::string version = cuda::cudnn_version_string();  // cudnnGetVersion, through its forwarder
  EXPECT_EQ(version.rfind("9.", 0), 0u) << version;
  EXPECT_TRUE(cuda::detail::cudnn_library().loaded());
  EXPECT_NE(cuda::detail::cudnn_library().path().find("libcudnn.so.9"), std::string::npos);
  EXPECT_TRUE(mapped("libcudnn"));
}

TEST(LazyCudaLibraries, CublasOpensAndPassesItsVersionCheck) {
  if (!machine_has("libcublas.so.13")) GTEST_SKIP() << "libcublas.so.13 is not on this machine";
  EXPECT_NO_THROW(cuda::detail::cublas_library().load());
  EXPECT_TRUE(cuda::detail::cublas_library().loaded());
  EXPECT_TRUE(mapped("libcublas"));
}

}  // namespace
}  // namespace parity::testing

#else

TEST(LazyCudaLibraries, NeedsTheCudaBackend) { GTEST_SKIP() << "a build without the CUDA backend loads no CUDA library"; }

#endif
