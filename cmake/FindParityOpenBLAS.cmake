# Finds OpenBLAS (its CBLAS interface) and defines the imported target Parity::OpenBLAS.
#
# Prefers the OpenMP build of OpenBLAS (Debian: libopenblas0-openmp, beside the
# default pthread build): it runs its GEMMs on libgomp's thread pool, the one
# Parity's own loops use. The pthread build keeps a second pool whose threads
# compete with OpenMP's spinning workers: the seed's convolutions (im2col loops
# then GEMMs) ran 1.4-2x slower with it on a 2-core machine (docs/NN.md). The
# OpenMP build is linked by path with a run path to its folder, since Debian's
# default libopenblas.so.0 is the pthread one.
find_path(PARITY_OPENBLAS_INCLUDE_DIR cblas.h
          PATH_SUFFIXES openblas openblas-pthread x86_64-linux-gnu/openblas-pthread aarch64-linux-gnu/openblas-pthread)
if(NOT DEFINED PARITY_OPENBLAS_PREFER_OPENMP)
  set(PARITY_OPENBLAS_PREFER_OPENMP ON)
endif()
if(PARITY_OPENBLAS_PREFER_OPENMP AND NOT PARITY_OPENBLAS_LIBRARY)
  find_library(PARITY_OPENBLAS_OPENMP_LIBRARY NAMES libopenblas.so.0 openblas
               PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp /usr/lib64/openblas-openmp
               NO_DEFAULT_PATH)
  if(PARITY_OPENBLAS_OPENMP_LIBRARY)
    set(PARITY_OPENBLAS_LIBRARY ${PARITY_OPENBLAS_OPENMP_LIBRARY} CACHE FILEPATH "OpenBLAS library")
  endif()
endif()
find_library(PARITY_OPENBLAS_LIBRARY NAMES openblas)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(ParityOpenBLAS REQUIRED_VARS PARITY_OPENBLAS_LIBRARY PARITY_OPENBLAS_INCLUDE_DIR)
if(ParityOpenBLAS_FOUND AND NOT TARGET Parity::OpenBLAS)
  add_library(Parity::OpenBLAS UNKNOWN IMPORTED)
  set_target_properties(Parity::OpenBLAS PROPERTIES
    IMPORTED_LOCATION ${PARITY_OPENBLAS_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${PARITY_OPENBLAS_INCLUDE_DIR})
  get_filename_component(_parity_openblas_dir ${PARITY_OPENBLAS_LIBRARY} DIRECTORY)
  if(_parity_openblas_dir MATCHES "openblas-openmp$")
    set(PARITY_OPENBLAS_RUNTIME_DIR ${_parity_openblas_dir})
  endif()
endif()
