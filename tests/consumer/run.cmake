# ctest script: install the build tree into a scratch prefix, then configure,
# build and run tests/consumer against it, as a user on another machine would:
# - no installed file may name a folder of the build machine's build (the
#   source tree, the build tree) or of its CUDA toolkit;
# - the package must configure with the CUDA toolkit hidden (find_package of
#   CUDAToolkit disabled, the toolkit's prefixes ignored, no nvcc on the PATH);
# - the consumer must list no CUDA library in ldd (Note [CUDA libraries load on
#   first use]).
# WITH_CUDA: whether the build has the CUDA backend (then COMPONENTS CUDA is
# asked for too, with the toolkit visible, and must be found). SHARED: whether
# it is libparity.so; a static CUDA-enabled Parity's users link the toolkit's
# static runtime, so its package needs the toolkit and it is not hidden.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()

# No path of the build machine in the installed files (text and binaries alike).
# The toolkit by its real folder (/usr/local/cuda-13.0 here): /usr/local/cuda
# itself is the conventional place the CUDA libraries are looked for on any
# machine (parity/cuda/lazy_library.cpp), not this machine's.
set(forbidden ${PROJECT_SOURCE_DIR} ${BUILD_DIR})
if(CUDA_TOOLKIT_ROOT)
  get_filename_component(toolkit_real ${CUDA_TOOLKIT_ROOT} REALPATH)
  if(NOT toolkit_real STREQUAL "/usr/local/cuda")
    list(APPEND forbidden ${toolkit_real})
  endif()
endif()
# One pass over each file: the folders as one alternation, their regex characters escaped.
set(alternatives "")
foreach(path IN LISTS forbidden)
  string(REGEX REPLACE "([][+.*()^$?|\\])" "\\\\\\1" escaped "${path}")
  list(APPEND alternatives "${escaped}")
endforeach()
list(JOIN alternatives "|" forbidden_regex)
file(GLOB_RECURSE installed LIST_DIRECTORIES false ${WORK_DIR}/prefix/*)
foreach(file IN LISTS installed)
  file(STRINGS ${file} hits REGEX "(${forbidden_regex})" LIMIT_COUNT 1)
  if(hits)
    message(FATAL_ERROR "${file} names a folder of the build machine (${forbidden}): ${hits}")
  endif()
endforeach()
file(READ ${WORK_DIR}/prefix/lib/cmake/Parity/ParityTargets.cmake targets)
string(REGEX MATCH "INTERFACE_INCLUDE_DIRECTORIES \"([^\"]*)\"" _ "${targets}")
if(NOT CMAKE_MATCH_1 MATCHES "^\\\${_IMPORT_PREFIX}/include(;/usr/include)?$")
  message(FATAL_ERROR "the installed include path is '${CMAKE_MATCH_1}', expected only <prefix>/include")
endif()

# Configure and build with the toolkit hidden.
set(path_without_cuda "")
string(REPLACE ":" ";" path_dirs "$ENV{PATH}")
foreach(dir IN LISTS path_dirs)
  if(NOT EXISTS ${dir}/nvcc)
    list(APPEND path_without_cuda ${dir})
  endif()
endforeach()
string(REPLACE ";" ":" path_without_cuda "${path_without_cuda}")
set(hide_toolkit -E env --unset=CUDA_PATH --unset=CUDA_HOME --unset=CUDAToolkit_ROOT PATH=${path_without_cuda}
                 ${CMAKE_COMMAND} -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON
                 "-DCMAKE_IGNORE_PREFIX_PATH=/usr/local/cuda;${CUDA_TOOLKIT_ROOT}")
if(WITH_CUDA AND NOT SHARED)
  set(hide_toolkit "")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} ${hide_toolkit} --no-warn-unused-cli -S ${SOURCE_DIR} -B ${WORK_DIR}/build
                        -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer with the CUDA toolkit hidden failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed: ${rc}")
endif()
foreach(program consumer startup)
  execute_process(COMMAND ${WORK_DIR}/build/${program} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "the ${program} program failed: ${rc}")
  endif()
  execute_process(COMMAND ldd ${WORK_DIR}/build/${program} OUTPUT_VARIABLE ldd_output RESULT_VARIABLE rc)
  string(REGEX MATCHALL "lib(cuda|cudart|cublas|cublasLt|cudnn|nvrtc|nvJitLink)[^ ]*" cuda_libraries "${ldd_output}")
  if(cuda_libraries)
    message(FATAL_ERROR "${program} loads CUDA libraries at start-up: ${cuda_libraries}\n${ldd_output}")
  endif()
endforeach()

# COMPONENTS CUDA: found exactly when Parity has its CUDA backend.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build-cuda -G ${GENERATOR}
                        -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release -DPARITY_COMPONENTS=CUDA
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE error_output)
if(WITH_CUDA AND rc)
  message(FATAL_ERROR "find_package(Parity COMPONENTS CUDA) failed with a CUDA-enabled Parity: ${error_output}")
elseif(NOT WITH_CUDA AND NOT rc)
  message(FATAL_ERROR "find_package(Parity COMPONENTS CUDA) succeeded with a CPU-only Parity")
endif()
if(hide_toolkit)
  set(how "with the CUDA toolkit hidden")
else()
  set(how "with the CUDA toolkit (a static CUDA-enabled Parity needs it)")
endif()
message(STATUS "install consumer: no build-machine path installed, configured and ran ${how}, no CUDA library "
               "at start-up, COMPONENTS CUDA found: ${WITH_CUDA}")
