// SPDX-License-Identifier: Apache-2.0
#include "core/fork.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

namespace idforge::detail {
namespace {

struct GenerationPage {
  std::atomic<std::uint64_t> generation{0};
  bool wiped_by_kernel = false;
};

// In ordinary memory, so a child inherits it: the last generation taken in this
// process's line, from which the child's own is counted.
std::atomic<std::uint64_t> g_last_taken{0};

GenerationPage* page();

void zero_in_child() { page()->generation.store(0, std::memory_order_relaxed); }

GenerationPage* make_page() {
  const long size = ::sysconf(_SC_PAGESIZE);
  void* memory = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    static GenerationPage fallback;
    pthread_atfork(nullptr, nullptr, zero_in_child);
    return &fallback;
  }
  auto* p = new (memory) GenerationPage();
  p->wiped_by_kernel = ::madvise(memory, static_cast<std::size_t>(size), MADV_WIPEONFORK) == 0;
  if (!p->wiped_by_kernel) pthread_atfork(nullptr, nullptr, zero_in_child);
  return p;
}

GenerationPage* page() {
  static GenerationPage* const p = make_page();
  return p;
}

[[gnu::noinline]] std::uint64_t take_generation(GenerationPage& p) {
  const std::uint64_t fresh = g_last_taken.fetch_add(1, std::memory_order_relaxed) + 1;
  std::uint64_t expected = 0;
  if (p.generation.compare_exchange_strong(expected, fresh, std::memory_order_relaxed)) return fresh;
  return expected;  // Another thread of this process took one first.
}

}  // namespace

std::uint64_t fork_generation() {
  GenerationPage& p = *page();
  const std::uint64_t g = p.generation.load(std::memory_order_relaxed);
  return g != 0 ? g : take_generation(p);
}

bool fork_detection_covers_raw_forks() { return page()->wiped_by_kernel; }

}  // namespace idforge::detail
