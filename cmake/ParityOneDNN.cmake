# Decides whether the CPU computes conv2d through oneDNN (parity/cpu/conv_onednn.h;
# PARITY_ONEDNN = AUTO|ON|OFF) and sets PARITY_WITH_ONEDNN. oneDNN comes from
# Debian's libdnnl-dev (scripts/setup installs it), found through its CMake
# package (target DNNL::dnnl). AUTO builds without it when it is missing
# (conv2d then runs on im2col + GEMM); ON fails.
set(PARITY_WITH_ONEDNN OFF)
if(NOT PARITY_ONEDNN STREQUAL "OFF")
  if(PARITY_ONEDNN STREQUAL "ON")
    find_package(dnnl CONFIG REQUIRED)
  else()
    # Debian's dnnl-config.cmake (a build with the OpenCL GPU runtime) calls
    # find_package(OpenCL REQUIRED), which would fail the whole configure
    # where libdnnl-dev is installed without ocl-icd-opencl-dev: look first.
    find_package(OpenCL QUIET)
    find_file(_parity_dnnl_config dnnl-config.cmake PATH_SUFFIXES cmake/dnnl lib/cmake/dnnl
              lib/x86_64-linux-gnu/cmake/dnnl lib/aarch64-linux-gnu/cmake/dnnl)
    set(_parity_dnnl_needs_opencl OFF)
    if(_parity_dnnl_config)
      file(STRINGS "${_parity_dnnl_config}" _parity_dnnl_gpu REGEX "DNNL_GPU_RUNTIME +\"?OCL")
      if(_parity_dnnl_gpu)
        set(_parity_dnnl_needs_opencl ON)
      endif()
    endif()
    if(_parity_dnnl_needs_opencl AND NOT OpenCL_FOUND)
      message(WARNING "Parity: oneDNN's CMake package (${_parity_dnnl_config}) needs OpenCL's headers "
                      "(Debian: ocl-icd-opencl-dev; scripts/setup installs it): conv2d runs on im2col + GEMM")
    else()
      find_package(dnnl CONFIG QUIET)
    endif()
  endif()
  if(TARGET DNNL::dnnl)
    set(PARITY_WITH_ONEDNN ON)
    message(STATUS "Parity: oneDNN ${dnnl_VERSION}")
  else()
    message(STATUS "Parity: oneDNN not found (Debian: libdnnl-dev): conv2d runs on im2col + GEMM")
  endif()
endif()
