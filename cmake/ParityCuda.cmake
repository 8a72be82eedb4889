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
  file(GLOB PARITY_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cuda/*.cu
                                                  ${CMAKE_CURRENT_SOURCE_DIR}/cuda/*.cpp
                                                  ${CMAKE_CURRENT_SOURCE_DIR}/optim/*.cu)
  list(FILTER PARITY_CUDA_SOURCES EXCLUDE REGEX "no_cuda\\.cpp$")

  # What the build needs at run time from the machine: the CUDA runtime is
  # linked statically (only the driver's libcuda is needed), cuBLAS is shared.
  set(PARITY_CUDA_RUNTIME_LIBS "libcublas.so.${CUDAToolkit_VERSION_MAJOR};libcublasLt.so.${CUDAToolkit_VERSION_MAJOR}"
      CACHE INTERNAL "Shared CUDA libraries Parity's CUDA backend loads at run time")
  file(WRITE ${CMAKE_BINARY_DIR}/parity_cuda_runtime.txt
       "CUDA toolkit ${CUDAToolkit_VERSION} (nvcc ${CMAKE_CUDA_COMPILER_VERSION}), architectures ${CMAKE_CUDA_ARCHITECTURES}\n"
       "CUDA runtime: static (cudart_static); needs the driver (libcuda.so.1)\n"
       "shared libraries needed at run time: ${PARITY_CUDA_RUNTIME_LIBS}\n")
  message(STATUS "Parity CUDA: toolkit ${CUDAToolkit_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}, "
                 "needs at run time: ${PARITY_CUDA_RUNTIME_LIBS}")
endif()

function(parity_configure_cuda_target target)
  # --fmad=false: Note [Rounding is explicit]. --compress-mode=size: every test
  # binary carries the kernels (static library), keep them small. Warning 186
  # ("pointless comparison of unsigned integer with zero") fires on the shared
  # functors' generic `x < T(0)` instantiated for uint8. Static CUDA runtime;
  # cuBLAS shared.
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false --expt-relaxed-constexpr -Xcompiler=-fopenmp,-ffp-contract=off
                               --compress-mode=size --diag-suppress=186>)
  target_link_libraries(${target} PUBLIC CUDA::cudart_static PRIVATE CUDA::cublas)
  set_target_properties(${target} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF CUDA_RUNTIME_LIBRARY Static)
endfunction()

# ---- the GPU bundle (defined once every test and benchmark target exists) ----
function(_parity_add_gpu_bundle)
  set(binaries "")
  foreach(dir ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/bench)
    if(EXISTS ${dir}/CMakeLists.txt)
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
