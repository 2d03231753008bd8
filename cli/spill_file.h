// SPDX-License-Identifier: Apache-2.0
// SpillFile: an anonymous temporary file that holds what does not fit in memory.
//
// The file is created in a directory the caller names and has no name from its
// first moment (O_TMPFILE, or a name removed at once where the file system lacks
// it), so nothing is left behind however the process ends. Writes append; reads
// take any range back. Every failure is an `io` error naming the directory and the
// cause ("No space left on device").
//
// Thread safety: one thread at a time.
#ifndef IDFORGE_CLI_SPILL_FILE_H_
#define IDFORGE_CLI_SPILL_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "idforge/result.h"

namespace idforge::cli {

class SpillFile {
 public:
  // Creates an empty file in `directory`.
  static Result<SpillFile> create(const std::string& directory);

  SpillFile(SpillFile&& other) noexcept;
  SpillFile& operator=(SpillFile&& other) noexcept;
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;
  ~SpillFile();

  // Appends `size` bytes.
  Result<void> append(const void* data, std::size_t size);
  // Reads exactly `size` bytes at `offset` into `out`.
  Result<void> read(std::uint64_t offset, void* out, std::size_t size) const;
  // The bytes appended so far.
  std::uint64_t size() const { return size_; }

 private:
  SpillFile(int fd, std::string directory) : fd_(fd), directory_(std::move(directory)) {}
  Error failure(const char* what) const;

  int fd_ = -1;
  std::string directory_;
  std::uint64_t size_ = 0;
};

}  // namespace idforge::cli

#endif  // IDFORGE_CLI_SPILL_FILE_H_
