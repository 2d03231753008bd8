#include "core/fork.h"

#include <pthread.h>

#include <atomic>

namespace idforge::detail {
namespace {

std::atomic<std::uint64_t> g_generation{0};

void on_fork_child() { g_generation.fetch_add(1, std::memory_order_relaxed); }

// Installed before main() runs, so no fork can slip past it.
const int g_installed = pthread_atfork(nullptr, nullptr, on_fork_child);

}  // namespace

std::uint64_t fork_generation() {
  (void)g_installed;
  return g_generation.load(std::memory_order_relaxed);
}

}  // namespace idforge::detail
