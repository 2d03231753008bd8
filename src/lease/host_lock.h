// SPDX-License-Identifier: Apache-2.0
// Private: a lock on a name that only the kernel holds — a Linux abstract Unix
// socket address, bound for as long as the holder keeps the socket open.
//
// A lock file protects a node only while the file stays at its path: remove it (or
// the whole data directory) under a running holder, and the next process creates a
// fresh file and locks that. A HostLock cannot be removed from the file system. It
// is named after the node's lock file path, so a second process on this host that
// finds the path unlocked is still refused while the first lives, and the kernel
// frees the name when the holder exits, however it exits. Abstract names belong to
// a network namespace: processes in different namespaces (containers that share
// the data directory but not the network) are kept apart by the lock file alone.
//
// Where the kernel refuses Unix sockets (a seccomp filter, a sandbox), the lock is
// skipped and the lock file is the only guard.
#ifndef IDFORGE_SRC_LEASE_HOST_LOCK_H_
#define IDFORGE_SRC_LEASE_HOST_LOCK_H_

#include <string_view>

#include "idforge/result.h"

namespace idforge::detail {

class HostLock {
 public:
  // Takes the name derived from `key` (the lock file's canonical path). Fails with
  // unavailable when a live process holds it.
  static Result<HostLock> take(std::string_view key);

  HostLock() = default;
  HostLock(HostLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  HostLock& operator=(HostLock&& other) noexcept;
  ~HostLock();

 private:
  explicit HostLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_LEASE_HOST_LOCK_H_
