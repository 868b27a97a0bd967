# ipcheck_enable(<target> [CHECKS globs] [WARNINGS_AS_ERRORS globs] [API_TABLES files...]
#                [FACTS_DIR dir])
#
# Runs the ipcheck clang plugin whenever <target>'s C++ sources compile (the compiler must be
# clang 19). Findings are warnings; WARNINGS_AS_ERRORS (or -Werror) makes them errors.
# FACTS_DIR: each source also writes its lock-order facts there (an absolute path), for one
# `ipcheck --merge-facts=<dir>` after the build to find lock-order cycles across files.
include_guard(GLOBAL)

if(NOT DEFINED IPCHECK_PLUGIN)
  # Installed: <prefix>/<libdir>/cmake/ipcheck/ipcheckPlugin.cmake -> <prefix>/<libdir>/ipcheck-plugin.so
  get_filename_component(_ipcheck_libdir "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
  if(EXISTS "${_ipcheck_libdir}/ipcheck-plugin.so")
    set(IPCHECK_PLUGIN "${_ipcheck_libdir}/ipcheck-plugin.so")
  endif()
endif()

function(ipcheck_enable target)
  cmake_parse_arguments(ARG "" "CHECKS;WARNINGS_AS_ERRORS;FACTS_DIR" "API_TABLES" ${ARGN})
  if(TARGET ipcheck-plugin)
    set(plugin $<TARGET_FILE:ipcheck-plugin>)
    add_dependencies(${target} ipcheck-plugin)
  elseif(IPCHECK_PLUGIN)
    set(plugin ${IPCHECK_PLUGIN})
  else()
    message(FATAL_ERROR "ipcheck_enable(${target}): the ipcheck plugin was not found; "
                        "set IPCHECK_PLUGIN to the path of ipcheck-plugin.so")
  endif()
  set(options "-fplugin=${plugin}")
  if(ARG_CHECKS)
    list(APPEND options "SHELL:-Xclang -plugin-arg-ipcheck -Xclang checks=${ARG_CHECKS}")
  endif()
  if(ARG_WARNINGS_AS_ERRORS)
    list(APPEND options
         "SHELL:-Xclang -plugin-arg-ipcheck -Xclang warnings-as-errors=${ARG_WARNINGS_AS_ERRORS}")
  endif()
  foreach(table IN LISTS ARG_API_TABLES)
    list(APPEND options "SHELL:-Xclang -plugin-arg-ipcheck -Xclang api=${table}")
  endforeach()
  if(ARG_FACTS_DIR)
    list(APPEND options "SHELL:-Xclang -plugin-arg-ipcheck -Xclang facts=${ARG_FACTS_DIR}")
  endif()
  target_compile_options(${target} PRIVATE ${options})
endfunction()
