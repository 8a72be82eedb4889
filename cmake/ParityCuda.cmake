# Decides whether the CUDA backend is built (PARITY_CUDA = AUTO|ON|OFF) and
# sets PARITY_WITH_CUDA, PARITY_CUDA_SOURCES and parity_configure_cuda_target().
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
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  file(GLOB PARITY_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cuda/*.cu
                                                  ${CMAKE_CURRENT_SOURCE_DIR}/cuda/*.cpp)
  list(FILTER PARITY_CUDA_SOURCES EXCLUDE REGEX "no_cuda\\.cpp$")
endif()

function(parity_configure_cuda_target target)
  # --fmad=false: Note [Rounding is explicit]. Static CUDA runtime; cuBLAS/cuDNN shared.
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false --expt-relaxed-constexpr
                                                                    -Xcompiler=-fopenmp>)
  target_link_libraries(${target} PUBLIC CUDA::cudart_static PRIVATE CUDA::cublas)
  set_target_properties(${target} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF CUDA_RUNTIME_LIBRARY Static)
endfunction()
