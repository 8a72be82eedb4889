# Decides whether the CUDA backend is built (PARITY_CUDA = AUTO|ON|OFF) and
# sets PARITY_WITH_CUDA, PARITY_CUDA_SOURCES and parity_configure_cuda_target().
# In a CUDA build it also defines the `gpu-bundle` target (docs/GPU.md): the
# test and benchmark binaries plus the shared libraries they need that a GPU
# machine with only the CUDA toolkit may lack, in one folder.
include(CheckLanguage)
set(PARITY_WITH_CUDA OFF)
if(NOT PARITY_CUDA STREQUAL "OFF")
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(PARITY_WITH_CUDA ON)
  elseif(PARITY_CUDA STREQUAL "ON")
    message(FATAL_ERROR "PARITY_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

# cuDNN 9 (convolution and pooling: parity/cuda/conv.cpp, parity/cuda/pool.cpp). Searched
# beside nvcc's toolkit (/usr/local/cuda/include, lib64, lib), under CUDNN_ROOT
# (a cuDNN tarball, or a pip wheel's site-packages/nvidia/cudnn), then in the
# system folders. Without it the CUDA backend is not built (AUTO) or the
# configure fails (ON).
if(PARITY_WITH_CUDA)
  get_filename_component(_parity_nvcc_root "${CMAKE_CUDA_COMPILER}" DIRECTORY)
  get_filename_component(_parity_nvcc_root "${_parity_nvcc_root}" DIRECTORY)
  set(_parity_cudnn_hints ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${_parity_nvcc_root})
  find_path(PARITY_CUDNN_INCLUDE_DIR cudnn.h HINTS ${_parity_cudnn_hints} PATH_SUFFIXES include
            DOC "Folder of cudnn.h (cuDNN 9)")
  find_library(PARITY_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 NAMES_PER_DIR HINTS ${_parity_cudnn_hints}
               PATH_SUFFIXES lib64 lib lib/x86_64-linux-gnu DOC "libcudnn.so (cuDNN 9)")
  set(PARITY_CUDNN_VERSION "")
  if(PARITY_CUDNN_INCLUDE_DIR AND EXISTS "${PARITY_CUDNN_INCLUDE_DIR}/cudnn_version.h")
    file(STRINGS "${PARITY_CUDNN_INCLUDE_DIR}/cudnn_version.h" _parity_cudnn_defs
         REGEX "^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) +[0-9]+")
    foreach(part MAJOR MINOR PATCHLEVEL)
      string(REGEX MATCH "CUDNN_${part} +([0-9]+)" _parity_match "${_parity_cudnn_defs}")
      set(_parity_cudnn_${part} "${CMAKE_MATCH_1}")
    endforeach()
    set(PARITY_CUDNN_VERSION "${_parity_cudnn_MAJOR}.${_parity_cudnn_MINOR}.${_parity_cudnn_PATCHLEVEL}")
  endif()
  if(NOT PARITY_CUDNN_LIBRARY OR NOT PARITY_CUDNN_VERSION OR NOT _parity_cudnn_MAJOR EQUAL 9)
    set(_parity_cudnn_msg "cuDNN 9 was not found (header: ${PARITY_CUDNN_INCLUDE_DIR}, library: "
                          "${PARITY_CUDNN_LIBRARY}, version '${PARITY_CUDNN_VERSION}'): the CUDA backend needs it "
                          "for convolution and pooling. Install it (Debian/Ubuntu: cudnn9-cuda-13 from NVIDIA's "
                          "repository, or pip's nvidia-cudnn-cu13) and point -DCUDNN_ROOT at its prefix")
    if(PARITY_CUDA STREQUAL "ON")
      message(FATAL_ERROR ${_parity_cudnn_msg})
    endif()
    message(WARNING ${_parity_cudnn_msg} "; building without the CUDA backend")
    set(PARITY_WITH_CUDA OFF)
  endif()
endif()

set(PARITY_CUDA_SOURCES "")
if(PARITY_WITH_CUDA)
  # sm_90 (H100/H200) unless the user chose; a user's CMAKE_CUDA_ARCHITECTURES always wins.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  enable_language(CUDA)
  # CMake 3.25 knows no C++20 flag for nvcc (nvcc 12+ accepts -std=c++20).
  if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  file(GLOB PARITY_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/parity/cuda/*.cu
                                                  ${CMAKE_CURRENT_SOURCE_DIR}/parity/cuda/*.cpp)
  list(FILTER PARITY_CUDA_SOURCES EXCLUDE REGEX "no_cuda\\.cpp$")

  # What the build needs at run time from the machine: the CUDA runtime is
  # linked statically (only the driver's libcuda is needed), cuBLAS and cuDNN
  # are opened on first use (Note [CUDA libraries load on first use]). libcudnn.so.9 is a small loader: it dlopens its sub-libraries
  # (libcudnn_graph, _ops, _cnn, _heuristic, _engines_precompiled,
  # _engines_runtime_compiled; _engines_tensor_ir in newer 9.x) from its own
  # folder, about 0.5 GiB in all, too large for the GPU bundle: the machine
  # must have them (tools/gpu-check.sh looks, docs/GPU.md).
  set(PARITY_CUDA_RUNTIME_LIBS
      "libcublas.so.${CUDAToolkit_VERSION_MAJOR};libcublasLt.so.${CUDAToolkit_VERSION_MAJOR};libcudnn.so.${_parity_cudnn_MAJOR}"
      CACHE INTERNAL "Shared CUDA libraries Parity's CUDA backend loads at run time")
  file(WRITE ${CMAKE_BINARY_DIR}/parity_cuda_runtime.txt
       "CUDA toolkit ${CUDAToolkit_VERSION} (nvcc ${CMAKE_CUDA_COMPILER_VERSION}), architectures ${CMAKE_CUDA_ARCHITECTURES}\n"
       "cuDNN ${PARITY_CUDNN_VERSION} (${PARITY_CUDNN_LIBRARY}); at run time any cuDNN 9.x (only API present since 9.0 is used) with its sub-libraries\n"
       "CUDA runtime: static (cudart_static); needs the driver (libcuda.so.1)\n"
       "shared libraries opened on first use (dlopen, not linked): ${PARITY_CUDA_RUNTIME_LIBS}\n")
  message(STATUS "Parity CUDA: toolkit ${CUDAToolkit_VERSION}, cuDNN ${PARITY_CUDNN_VERSION}, architectures "
                 "${CMAKE_CUDA_ARCHITECTURES}, needs at run time: ${PARITY_CUDA_RUNTIME_LIBS}")
endif()

function(parity_configure_cuda_target target)
  # --fmad=false: Note [Rounding is explicit]. --compress-mode=size: keep the
  # kernels small. Warning 186 ("pointless comparison of unsigned integer with
  # zero") fires on the shared functors' generic `x < T(0)` instantiated for
  # uint8. The CUDA runtime is linked statically and private: it starts the
  # driver only at the first runtime call. cuBLAS and cuDNN are not linked at
  # all: parity/cuda/*_stubs.cpp open them on first use (Note [CUDA libraries
  # load on first use], parity/cuda/lazy_library.h), so nothing of CUDA is
  # loaded at start-up and a machine without them runs the CPU backend.
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false --expt-relaxed-constexpr -Xcompiler=-fopenmp,-ffp-contract=off
                               --compress-mode=size --diag-suppress=186>)
  target_link_libraries(${target} PRIVATE CUDA::cudart_static ${CMAKE_DL_LIBS})
  target_include_directories(${target} PRIVATE ${PARITY_CUDNN_INCLUDE_DIR})
  set_target_properties(${target} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF CUDA_RUNTIME_LIBRARY Static)
  # The headers internal to parity/cuda/ need the toolkit's and cuDNN's include
  # folders, and the benchmarks that call the CUDA runtime directly need a
  # runtime of their own (libparity's is private; both drive the same
  # device contexts, so streams and device pointers pass between them):
  # parity_cuda_internal gives them to the tests and benchmarks, never to users.
  if(NOT TARGET parity_cuda_internal)
    add_library(parity_cuda_internal INTERFACE)
    target_include_directories(parity_cuda_internal INTERFACE ${CUDAToolkit_INCLUDE_DIRS} ${PARITY_CUDNN_INCLUDE_DIR})
    target_link_libraries(parity_cuda_internal INTERFACE CUDA::cudart_static)
  endif()
endfunction()

# ---- the GPU bundle (defined once every test and benchmark target exists) ----
function(_parity_add_gpu_bundle)
  set(binaries "")
  # Only the folders this configuration added (PARITY_BUILD_TESTS/BENCHMARKS).
  get_property(added DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY SUBDIRECTORIES)
  foreach(dir ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/bench)
    if(dir IN_LIST added)
      get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
      foreach(t ${targets})
        get_target_property(type ${t} TYPE)
        if(type STREQUAL "EXECUTABLE")
          list(APPEND binaries ${t})
          # The bundle keeps its libraries beside the binaries (docs/GPU.md).
          set_property(TARGET ${t} APPEND PROPERTY BUILD_RPATH "\$ORIGIN/lib")
        endif()
      endforeach()
    endif()
  endforeach()
  set(files "")
  foreach(t ${binaries})
    list(APPEND files $<TARGET_FILE:${t}>)
  endforeach()
  add_custom_target(gpu-bundle
    COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/make_gpu_bundle.sh ${CMAKE_BINARY_DIR}/gpu-bundle
            ${CMAKE_BINARY_DIR}/parity_cuda_runtime.txt ${files}
    DEPENDS ${binaries} ${CMAKE_SOURCE_DIR}/cmake/make_gpu_bundle.sh
    COMMENT "Bundling ${CMAKE_BINARY_DIR}/gpu-bundle for tools/gpu-check.sh"
    VERBATIM)
endfunction()

if(PARITY_WITH_CUDA)
  cmake_language(DEFER CALL _parity_add_gpu_bundle)
endif()
