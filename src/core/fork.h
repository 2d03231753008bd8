// Private: noticing fork() cheaply. Each fork() adds one to a process-wide counter
// in the child (a pthread_atfork handler), so code that must not carry state into
// a child compares the generation it started in with the current one: one relaxed
// load, where getpid() would be a system call.
#ifndef IDFORGE_SRC_CORE_FORK_H_
#define IDFORGE_SRC_CORE_FORK_H_

#include <cstdint>

namespace idforge::detail {

// The number of fork()s between the process's start and this (child) process.
// Installs the handler on first use.
std::uint64_t fork_generation();

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_CORE_FORK_H_
