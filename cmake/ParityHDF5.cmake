# Decides whether Parity reads and writes Keras' HDF5 weight files
# (parity/io/keras_weights.h; PARITY_HDF5 = AUTO|ON|OFF) and sets PARITY_WITH_HDF5,
# PARITY_HDF5_LIBRARIES (what the library links, recorded in the installed
# package) and the imported target Parity::HDF5 (libhdf5's C library, its
# headers for parity/io/keras_hdf5.cpp and the tests only: no public header includes hdf5.h).
#
# libhdf5 comes from Debian's libhdf5-dev (scripts/setup installs it), found by
# CMake's FindHDF5, which compiles a small C program: the C language is enabled
# for it. AUTO builds without HDF5 when either is missing; ON fails.
set(PARITY_WITH_HDF5 OFF)
set(PARITY_HDF5_LIBRARIES "")
if(NOT PARITY_HDF5 STREQUAL "OFF")
  include(CheckLanguage)
  check_language(C)
  if(CMAKE_C_COMPILER)
    enable_language(C)
    if(PARITY_HDF5 STREQUAL "ON")
      find_package(HDF5 COMPONENTS C REQUIRED)
    else()
      find_package(HDF5 COMPONENTS C QUIET)
    endif()
  elseif(PARITY_HDF5 STREQUAL "ON")
    message(FATAL_ERROR "PARITY_HDF5=ON but there is no C compiler, which CMake's FindHDF5 needs")
  endif()
  if(HDF5_FOUND AND HDF5_C_LIBRARIES)
    set(PARITY_WITH_HDF5 ON)
  elseif(PARITY_HDF5 STREQUAL "AUTO")
    message(STATUS "Parity: libhdf5 not found (Debian: libhdf5-dev): building without Keras' HDF5 weight files")
  endif()
endif()

if(PARITY_WITH_HDF5 AND NOT TARGET Parity::HDF5)
  # h5cc's link line lists libhdf5's own dependencies too (curl, crypto, the
  # static stubs libpthread.a, libdl.a); a shared libhdf5 brings those itself.
  set(_parity_hdf5_static OFF)
  foreach(_lib IN LISTS HDF5_C_LIBRARIES)
    if(_lib MATCHES "hdf5[^/]*\\.a$")
      set(_parity_hdf5_static ON)
    endif()
  endforeach()
  foreach(_lib IN LISTS HDF5_C_LIBRARIES)
    get_filename_component(_name "${_lib}" NAME)
    if(_parity_hdf5_static OR _name MATCHES "hdf5")
      list(APPEND PARITY_HDF5_LIBRARIES "${_lib}")
    endif()
  endforeach()
  add_library(Parity::HDF5 INTERFACE IMPORTED)
  set_target_properties(Parity::HDF5 PROPERTIES
    INTERFACE_LINK_LIBRARIES "${PARITY_HDF5_LIBRARIES}"
    INTERFACE_INCLUDE_DIRECTORIES "${HDF5_C_INCLUDE_DIRS}")
  if(HDF5_C_DEFINITIONS)
    string(REGEX REPLACE "(^| )-D" "\\1" _defs "${HDF5_C_DEFINITIONS}")
    separate_arguments(_defs)
    set_target_properties(Parity::HDF5 PROPERTIES INTERFACE_COMPILE_DEFINITIONS "${_defs}")
  endif()
  message(STATUS "Parity: HDF5 ${HDF5_VERSION} (${PARITY_HDF5_LIBRARIES})")
endif()
