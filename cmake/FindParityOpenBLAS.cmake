# Finds OpenBLAS (its CBLAS interface) and defines the imported target Parity::OpenBLAS.
find_path(PARITY_OPENBLAS_INCLUDE_DIR cblas.h
          PATH_SUFFIXES openblas openblas-pthread x86_64-linux-gnu/openblas-pthread aarch64-linux-gnu/openblas-pthread)
find_library(PARITY_OPENBLAS_LIBRARY NAMES openblas)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(ParityOpenBLAS REQUIRED_VARS PARITY_OPENBLAS_LIBRARY PARITY_OPENBLAS_INCLUDE_DIR)
if(ParityOpenBLAS_FOUND AND NOT TARGET Parity::OpenBLAS)
  add_library(Parity::OpenBLAS UNKNOWN IMPORTED)
  set_target_properties(Parity::OpenBLAS PROPERTIES
    IMPORTED_LOCATION ${PARITY_OPENBLAS_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${PARITY_OPENBLAS_INCLUDE_DIR})
endif()
