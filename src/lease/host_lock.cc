// SPDX-License-Identifier: Apache-2.0
#include "lease/host_lock.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/text.h"

namespace idforge::detail {

Result<HostLock> HostLock::take(std::string_view key) {
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return HostLock();  // No Unix sockets here: the lock file alone guards.
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // The abstract namespace: a leading NUL, then a name no file system holds.
  const int length = std::snprintf(address.sun_path + 1, sizeof address.sun_path - 1, "idforge-node/%016llx",
                                   static_cast<unsigned long long>(fnv1a64(key)));
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + static_cast<std::size_t>(length));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), size) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EADDRINUSE) {
      return Error(Errc::unavailable, "a live process on this host holds it, though its lock file was removed or "
                                      "replaced while it ran");
    }
    return HostLock();  // Bound elsewhere by policy (EPERM, EACCES): the lock file alone guards.
  }
  return HostLock(fd);
}

HostLock& HostLock::operator=(HostLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

HostLock::~HostLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace idforge::detail
