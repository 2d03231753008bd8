// SPDX-License-Identifier: Apache-2.0
// The ways a process can get a child that shares its memory image: libc's fork(),
// glibc's _Fork() (which runs no pthread_atfork handlers), and a raw clone system
// call (which glibc never sees). Fork-safety tests run against each.
#ifndef IDFORGE_TESTS_SUPPORT_FORK_KINDS_H_
#define IDFORGE_TESTS_SUPPORT_FORK_KINDS_H_

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace idforge::testing {

enum class ForkKind { libc_fork, underscore_fork, raw_clone };

inline constexpr ForkKind kForkKinds[] = {ForkKind::libc_fork, ForkKind::underscore_fork, ForkKind::raw_clone};

// The kind as a name for tests and their traces.
inline std::string param_name(ForkKind kind) {
  switch (kind) {
    case ForkKind::libc_fork: return "Fork";
    case ForkKind::underscore_fork: return "UnderscoreFork";
    case ForkKind::raw_clone: return "RawClone";
  }
  return "Unknown";
}

// Forks the way `kind` says; returns what fork() would.
inline pid_t fork_by(ForkKind kind) {
  switch (kind) {
    case ForkKind::libc_fork: return ::fork();
    case ForkKind::underscore_fork: return ::_Fork();
    case ForkKind::raw_clone:
      return static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  }
  return -1;
}

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_FORK_KINDS_H_
