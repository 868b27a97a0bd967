# ipcheck_corpus_program(TOPIC NEEDS header... [BUGGY_SHOWS regex] [BUGGY_METHODS method...]
#                        [FIXED_VARIANTS variant...] [TSAN_RACE])
#
# Builds TOPIC's fixed/TOPIC.cpp and buggy/TOPIC.cpp into bin/corpus/TOPIC_fixed and
# TOPIC_buggy, once every runtime header in NEEDS exists (the programs are written against
# docs/api-contract.md and wait for the runtime to land); each FIXED_VARIANT, another fix of
# the same bug, from fixed/TOPIC_VARIANT.cpp into bin/corpus/TOPIC_VARIANT_fixed. Registers
# CTest tests labelled `corpus`:
#   corpus.TOPIC.fixed.METHOD        the fixed program under fork, spawn, forkserver and
#                                    thread gives the right answer (exit 0);
#                                    corpus.TOPIC.fixed_VARIANT.METHOD
#                                    the same for each variant
#   corpus.TOPIC.buggy_shows.METHOD  the buggy program's output shows its bug (BUGGY_SHOWS),
#                                    for the methods in BUGGY_METHODS where it is deterministic
#                                    enough to test
#   corpus.TOPIC.buggy_races.thread  with TSAN_RACE, under the tsan preset: ThreadSanitizer
#                                    reports a data race in the buggy program in thread mode
#                                    (run with TSAN_OPTIONS=exitcode=66, the test expects 66;
#                                    labels corpus and tsan). The fixed program's thread run
#                                    is labelled tsan too, and fails on any report.
function(ipcheck_corpus_program topic)
  cmake_parse_arguments(ARG "TSAN_RACE" "BUGGY_SHOWS" "NEEDS;BUGGY_METHODS;FIXED_VARIANTS"
                        ${ARGN})
  foreach(header IN LISTS ARG_NEEDS)
    if(NOT EXISTS ${PROJECT_SOURCE_DIR}/runtime/include/${header})
      message(STATUS "corpus program ${topic}: waiting for ${header}")
      return()
    endif()
  endforeach()

  # name: the program's name under bin/corpus and in its target; source: its file.
  set(programs "${topic}_fixed|fixed/${topic}.cpp" "${topic}_buggy|buggy/${topic}.cpp")
  foreach(variant IN LISTS ARG_FIXED_VARIANTS)
    list(APPEND programs "${topic}_${variant}_fixed|fixed/${topic}_${variant}.cpp")
  endforeach()
  foreach(program IN LISTS programs)
    string(REPLACE "|" ";" program ${program})
    list(GET program 0 name)
    list(GET program 1 source)
    set(target corpus_${name})
    add_executable(${target} ${CMAKE_CURRENT_SOURCE_DIR}/${source})
    set_property(GLOBAL APPEND PROPERTY IPCHECK_DEMO_TARGETS ${target})
    target_link_libraries(${target} PRIVATE ipcheck::mp)
    set_target_properties(${target} PROPERTIES
      OUTPUT_NAME ${name}
      RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin/corpus)
    ipcheck_target_defaults(${target})
  endforeach()

  if(NOT IPCHECK_BUILD_TESTS)
    return()
  endif()
  set(fixed_runs "fixed|corpus_${topic}_fixed")
  foreach(variant IN LISTS ARG_FIXED_VARIANTS)
    list(APPEND fixed_runs "fixed_${variant}|corpus_${topic}_${variant}_fixed")
  endforeach()
  foreach(run IN LISTS fixed_runs)
    string(REPLACE "|" ";" run ${run})
    list(GET run 0 kind)
    list(GET run 1 target)
    foreach(method fork spawn forkserver thread)
      set(test corpus.${topic}.${kind}.${method})
      add_test(NAME ${test} COMMAND ${target} ${method})
      set(labels corpus)
      # In thread mode the "processes" are threads: ThreadSanitizer checks the fixed program.
      if(method STREQUAL "thread" AND IPCHECK_SANITIZER STREQUAL "thread")
        list(APPEND labels tsan)
      endif()
      set_tests_properties(${test} PROPERTIES LABELS "${labels}" TIMEOUT 120)
    endforeach()
  endforeach()
  # The buggy programs race on purpose: not run under ThreadSanitizer, which would report it.
  if(ARG_BUGGY_SHOWS AND NOT IPCHECK_SANITIZER STREQUAL "thread")
    foreach(method IN LISTS ARG_BUGGY_METHODS)
      set(test corpus.${topic}.buggy_shows.${method})
      add_test(NAME ${test} COMMAND corpus_${topic}_buggy ${method})
      set_tests_properties(${test} PROPERTIES LABELS corpus TIMEOUT 120
                           PASS_REGULAR_EXPRESSION "${ARG_BUGGY_SHOWS}")
    endforeach()
  endif()
  if(ARG_TSAN_RACE AND IPCHECK_SANITIZER STREQUAL "thread")
    # Both: the exit code TSan gives a run with a report, and the report itself.
    set(test corpus.${topic}.buggy_races.thread)
    add_test(NAME ${test}
             COMMAND sh -c "out=$(TSAN_OPTIONS='exitcode=66 halt_on_error=0' \"$0\" thread 2>&1); code=$?; echo \"$out\"; echo \"exit $code (expected 66)\"; test $code -eq 66 && echo \"$out\" | grep -q 'WARNING: ThreadSanitizer: data race'"
                     $<TARGET_FILE:corpus_${topic}_buggy>)
    set_tests_properties(${test} PROPERTIES LABELS "corpus;tsan" TIMEOUT 120)
  endif()
endfunction()
