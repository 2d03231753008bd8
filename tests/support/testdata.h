// SPDX-License-Identifier: Apache-2.0
// Reads files from tests/testdata/: one record per line, '#' comments, fields split by spaces.
#ifndef IDFORGE_TESTS_SUPPORT_TESTDATA_H_
#define IDFORGE_TESTS_SUPPORT_TESTDATA_H_

#include <cstdint>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#ifndef IDFORGE_TESTDATA_DIR
#error "IDFORGE_TESTDATA_DIR must be defined by the build"
#endif

namespace idforge::testing {

inline std::vector<std::vector<std::string>> read_records(const std::string& name) {
  std::ifstream in(std::string(IDFORGE_TESTDATA_DIR) + "/" + name);
  std::vector<std::vector<std::string>> records;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::vector<std::string> record;
    for (std::string word; words >> word;) record.push_back(word);
    records.push_back(record);
  }
  return records;
}

// Bytes as lowercase hex.
inline std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : bytes) s += {kDigits[b >> 4], kDigits[b & 15]};
  return s;
}

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_TESTDATA_H_
