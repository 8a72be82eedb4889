# Decides whether the CPU computes conv2d through oneDNN (cpu/conv_onednn.h;
# PARITY_ONEDNN = AUTO|ON|OFF) and sets PARITY_WITH_ONEDNN. oneDNN comes from
# Debian's libdnnl-dev (scripts/setup installs it), found through its CMake
# package (target DNNL::dnnl). AUTO builds without it when it is missing
# (conv2d then runs on im2col + GEMM); ON fails.
set(PARITY_WITH_ONEDNN OFF)
if(NOT PARITY_ONEDNN STREQUAL "OFF")
  if(PARITY_ONEDNN STREQUAL "ON")
    find_package(dnnl CONFIG REQUIRED)
  else()
    find_package(dnnl CONFIG QUIET)
  endif()
  if(TARGET DNNL::dnnl)
    set(PARITY_WITH_ONEDNN ON)
    message(STATUS "Parity: oneDNN ${dnnl_VERSION}")
  else()
    message(STATUS "Parity: oneDNN not found (Debian: libdnnl-dev): conv2d runs on im2col + GEMM")
  endif()
endif()
