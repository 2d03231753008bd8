// SPDX-License-Identifier: Apache-2.0
// Private: noticing every kind of fork cheaply.
//
// A process-wide generation number lives on a page marked MADV_WIPEONFORK (Linux
// 4.14): the kernel gives every child a zeroed copy of that page, whatever made the
// child — fork(), glibc's _Fork() (which skips pthread_atfork handlers), or a raw
// clone or fork system call. Reading zero means "this process has not taken a
// generation yet", so the first reader in a child takes a new one. Code that must
// not carry state into a child records the generation it started in and compares:
// one load, where getpid() would be a system call.
//
// Where the kernel refuses MADV_WIPEONFORK, a pthread_atfork handler zeroes the
// page instead, which sees fork() but not _Fork() or raw system calls.
#ifndef IDFORGE_SRC_CORE_FORK_H_
#define IDFORGE_SRC_CORE_FORK_H_

#include <cstdint>

namespace idforge::detail {

// This process's generation: the same number for the life of the process, and a
// different one in each child made after it was read. Never 0.
std::uint64_t fork_generation();

// True when the kernel wipes the generation in every child (MADV_WIPEONFORK).
bool fork_detection_covers_raw_forks();

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_CORE_FORK_H_
