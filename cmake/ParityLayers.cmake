# Note [Layers enforced by the build] (docs/ARCHITECTURE.md, "Layers"): each
# layer is a target of its own (parity_tensor, parity_cpu, ...: OBJECT
# libraries; libparity is made of their objects), compiled against an include
# root of its own folder and the folders below it, and nothing else of parity/:
# an upward include ("parity/nn/..." from parity/tensor/) is "No such file" at
# build time, not a convention. tests/check_layer_links.py checks the same of
# the symbols each layer's objects need (ctest layers_link_downward). The roots
# are folders of symbolic links in the build tree,
# <build>/layer-roots/<layer>/parity/<folder> -> <source>/parity/<folder>. The
# repository root stays on the include path of everything that links Parity
# (tests, benchmarks, tools, users), not of the library's own sources.

# Each layer and every folder it may include (the closure of the table's
# "uses"). An entry with a file name gives that file alone: the backends run
# the optimizers' fused updates, so they see optim/'s header-only math (which
# includes nothing of parity/ but tensor/) and nothing else of optim/.
set(PARITY_OPTIM_MATH optim/numerics.h optim/update.h optim/launch.h)
set(PARITY_LAYERS tensor cpu cuda autograd nn io optim train)
set(PARITY_LAYER_USES_tensor "")
set(PARITY_LAYER_USES_cpu tensor ${PARITY_OPTIM_MATH})
set(PARITY_LAYER_USES_cuda tensor ${PARITY_OPTIM_MATH})
set(PARITY_LAYER_USES_autograd tensor)
set(PARITY_LAYER_USES_nn tensor autograd)
set(PARITY_LAYER_USES_io tensor autograd nn)
set(PARITY_LAYER_USES_optim tensor autograd)
set(PARITY_LAYER_USES_train tensor autograd nn io optim)
set(PARITY_LAYER_ROOTS ${CMAKE_BINARY_DIR}/layer-roots)

# One OBJECT library per layer, parity_<layer>, from the layer's sources among
# `sources` (each must lie under parity/<layer>/): compiled against the layer's
# include root, with the settings every library source shares (`settings`, an
# INTERFACE target). The shared or static libparity is made of their objects
# (parity_layer_objects). Sets PARITY_LAYER_TARGETS in the caller's scope.
function(parity_add_layer_libraries settings)
  set(targets "")
  foreach(source IN LISTS ARGN)
    set(relative ${source})
    if(IS_ABSOLUTE ${source})
      file(RELATIVE_PATH relative ${CMAKE_SOURCE_DIR} ${source})
    endif()
    if(NOT relative MATCHES "^parity/([a-z_]+)/")
      message(FATAL_ERROR "${source}: a library source outside parity/<layer>/")
    endif()
    set(layer ${CMAKE_MATCH_1})
    if(NOT layer IN_LIST PARITY_LAYERS)
      message(FATAL_ERROR "${source}: parity/${layer}/ is not a layer of cmake/ParityLayers.cmake")
    endif()
    list(APPEND sources_${layer} ${source})
  endforeach()
  foreach(layer IN LISTS PARITY_LAYERS)
    if(NOT sources_${layer})
      message(FATAL_ERROR "the layer ${layer} has no sources")
    endif()
    set(root ${PARITY_LAYER_ROOTS}/${layer})
    file(MAKE_DIRECTORY ${root}/parity)
    foreach(folder IN LISTS PARITY_LAYER_USES_${layer} layer)
      if(folder STREQUAL "layer")
        set(folder ${layer})
      endif()
      get_filename_component(parent ${root}/parity/${folder} DIRECTORY)
      file(MAKE_DIRECTORY ${parent})
      if(NOT EXISTS ${root}/parity/${folder})
        file(CREATE_LINK ${CMAKE_SOURCE_DIR}/parity/${folder} ${root}/parity/${folder} SYMBOLIC)
      endif()
    endforeach()
    add_library(parity_${layer} OBJECT ${sources_${layer}})
    target_include_directories(parity_${layer} PRIVATE ${root})
    target_link_libraries(parity_${layer} PRIVATE ${settings})
    # Paths compiled into the library name the source tree's, as without the roots.
    target_compile_options(parity_${layer} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-ffile-prefix-map=${root}/=>
      $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-ffile-prefix-map=${root}/=>)
    list(APPEND targets parity_${layer})
  endforeach()
  set(PARITY_LAYER_TARGETS ${targets} PARENT_SCOPE)
endfunction()
