// SPDX-License-Identifier: Apache-2.0
// A fresh directory under the system's temporary directory, removed on destruction.
#ifndef IDFORGE_TESTS_SUPPORT_TEMP_DIR_H_
#define IDFORGE_TESTS_SUPPORT_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace idforge::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "idforge-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_TEMP_DIR_H_
