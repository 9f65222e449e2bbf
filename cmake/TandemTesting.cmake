include(GoogleTest)

# tandem_test(NAME <name> LABEL unit|integration|slow SOURCES ... LIBS ...)
# Builds a GoogleTest executable and registers each of its tests with ctest under the label.
function(tandem_test)
  cmake_parse_arguments(T "" "NAME;LABEL" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  if(TANDEM_UNIT_ONLY AND NOT T_LABEL STREQUAL "unit")
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${T_NAME}
    PROPERTIES LABELS ${T_LABEL}
    WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
    DISCOVERY_TIMEOUT 60)
endfunction()
