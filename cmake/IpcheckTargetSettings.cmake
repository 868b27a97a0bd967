# Settings shared by the project's own targets, applied per target (never through global flags).

# Warnings for code we write; PRIVATE so that consumers of our libraries don't inherit them.
function(ipcheck_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
endfunction()

# The sanitizer chosen by IPCHECK_SANITIZER, applied to one target (compile and link).
function(ipcheck_target_sanitizer target)
  if(IPCHECK_SANITIZER STREQUAL "address")
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  elseif(IPCHECK_SANITIZER STREQUAL "thread")
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=thread)
  elseif(NOT IPCHECK_SANITIZER STREQUAL "")
    message(FATAL_ERROR "IPCHECK_SANITIZER must be empty, address or thread, not '${IPCHECK_SANITIZER}'")
  endif()
endfunction()

# Both of the above: what every target of ours gets.
function(ipcheck_target_defaults target)
  ipcheck_target_warnings(${target})
  ipcheck_target_sanitizer(${target})
endfunction()

# A GoogleTest executable from one source, discovered into CTest with the given labels.
#   ipcheck_add_gtest(NAME SOURCES... LIBS libs... LABELS labels...)
function(ipcheck_add_gtest name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock)
  ipcheck_target_defaults(${name})
  set(labels ${ARG_LABELS})
  if(IPCHECK_SANITIZER STREQUAL "thread")
    list(APPEND labels tsan)
    target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support/tsan_defaults.cpp)
  endif()
  # gtest_discover_tests passes PROPERTIES through a generated script that splits any list, so
  # the labels are set by a script of our own, run by CTest after the discovered tests exist.
  gtest_discover_tests(${name} TEST_LIST ${name}_TESTS PROPERTIES TIMEOUT 300
                       DISCOVERY_TIMEOUT 60)
  if(labels)
    set(labels_script "${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake")
    file(GENERATE OUTPUT "${labels_script}"
         CONTENT "set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${labels}\")\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${labels_script}")
  endif()
endfunction()

# A test that compiles one source against the given targets' headers and passes only if the
# compiler rejects it with output matching EXPECT: for what must not compile (a capturing lambda
# as a spawn target, an inheritance-only object in a pool task), with the message that names the
# fix.
#   ipcheck_add_compile_fail_test(NAME SOURCE file EXPECT regex LIBS targets... LABELS labels...)
function(ipcheck_add_compile_fail_test name)
  cmake_parse_arguments(ARG "" "SOURCE;EXPECT" "LIBS;LABELS" ${ARGN})
  # An object library that is never built: it only carries the compile flags of LIBS for the
  # test's command line.
  set(flags_target ${name}_flags)
  add_library(${flags_target} OBJECT EXCLUDE_FROM_ALL ${ARG_SOURCE})
  target_link_libraries(${flags_target} PRIVATE ${ARG_LIBS})
  set(includes "$<TARGET_PROPERTY:${flags_target},INCLUDE_DIRECTORIES>")
  set(defines "$<TARGET_PROPERTY:${flags_target},COMPILE_DEFINITIONS>")
  add_test(NAME ${name}
           COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only
                   "$<$<BOOL:${includes}>:-I$<JOIN:${includes},;-I>>"
                   "$<$<BOOL:${defines}>:-D$<JOIN:${defines},;-D>>"
                   ${ARG_SOURCE}
           COMMAND_EXPAND_LISTS)
  # The compiler's exit status is ignored: the test passes when its diagnostics match.
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}"
                       PASS_REGULAR_EXPRESSION "${ARG_EXPECT}")
endfunction()
