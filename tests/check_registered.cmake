# SPDX-License-Identifier: Apache-2.0
# Every *_test.cc under tests/ must be named in tests/CMakeLists.txt.
file(GLOB_RECURSE sources RELATIVE ${TESTS_DIR} ${TESTS_DIR}/*_test.cc)
file(READ ${TESTS_DIR}/CMakeLists.txt listed)
foreach(source ${sources})
  string(FIND "${listed}" "${source}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${source} is not built: add it to tests/CMakeLists.txt")
  endif()
endforeach()
list(LENGTH sources count)
message(STATUS "all ${count} test sources are registered")
