# Note [Layers enforced by the build] (docs/ARCHITECTURE.md, "Layers"): each
# library source compiles against an include root of its own layer's folder and
# the folders below it, and nothing else of parity/: an upward include
# ("parity/nn/..." from parity/tensor/) is "No such file" at build time, not a
# convention. The roots are folders of symbolic links in the build tree,
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

# Gives each of target's sources under parity/<layer>/ its layer's include root.
function(parity_enforce_layers target)
  foreach(layer IN LISTS PARITY_LAYERS)
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
    # Paths compiled into the library name the source tree's, as without the roots.
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-ffile-prefix-map=${root}/=>
      $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-ffile-prefix-map=${root}/=>)
  endforeach()
  get_target_property(sources ${target} SOURCES)
  foreach(source IN LISTS sources)
    set(relative ${source})
    if(IS_ABSOLUTE ${source})
      file(RELATIVE_PATH relative ${CMAKE_SOURCE_DIR} ${source})
    endif()
    if(relative MATCHES "^parity/([a-z_]+)/")
      set(layer ${CMAKE_MATCH_1})
      if(NOT layer IN_LIST PARITY_LAYERS)
        message(FATAL_ERROR "${source}: parity/${layer}/ is not a layer of cmake/ParityLayers.cmake")
      endif()
      set_property(SOURCE ${source} TARGET_DIRECTORY ${target} APPEND PROPERTY INCLUDE_DIRECTORIES
                   ${PARITY_LAYER_ROOTS}/${layer})
    else()
      message(FATAL_ERROR "${source}: a library source outside parity/<layer>/")
    endif()
  endforeach()
endfunction()
