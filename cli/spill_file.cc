// SPDX-License-Identifier: Apache-2.0
#include "spill_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace idforge::cli {

Result<SpillFile> SpillFile::create(const std::string& directory) {
  int fd = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
    // A file system without O_TMPFILE: a named file, unnamed at once.
    std::string name = directory + "/idforge-spill-XXXXXX";
    fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(name.c_str());
  }
  if (fd < 0) {
    return Error(Errc::io, "cannot create a temporary file in --tmp-dir '" + directory + "': " + std::strerror(errno));
  }
  return SpillFile(fd, directory);
}

SpillFile::SpillFile(SpillFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), directory_(std::move(other.directory_)), size_(other.size_) {}

SpillFile& SpillFile::operator=(SpillFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    directory_ = std::move(other.directory_);
    size_ = other.size_;
  }
  return *this;
}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
}

Error SpillFile::failure(const char* what) const {
  return Error(Errc::io, std::string("cannot ") + what + " a temporary file in --tmp-dir '" + directory_ +
                             "': " + std::strerror(errno));
}

Result<void> SpillFile::append(const void* data, std::size_t size) {
  const char* at = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd_, at, size, static_cast<off_t>(size_));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      return failure("write");
    }
    at += n;
    size -= static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
  return {};
}

Result<void> SpillFile::read(std::uint64_t offset, void* out, std::size_t size) const {
  char* at = static_cast<char*>(out);
  while (size > 0) {
    const ssize_t n = ::pread(fd_, at, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;  // Shorter than what was written.
      return failure("read");
    }
    at += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace idforge::cli
