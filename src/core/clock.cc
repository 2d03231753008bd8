// SPDX-License-Identifier: Apache-2.0
#include "idforge/clock.h"

#include "idforge/result.h"

#include <time.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace idforge {
namespace {

// Saturates at the ends of int64 nanoseconds (the years 1677 and 2262), so a clock
// set absurdly far reads as the far end rather than wrapping around.
std::int64_t read_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  constexpr std::int64_t kMaxSeconds = INT64_MAX / 1'000'000'000 - 1;
  if (ts.tv_sec > kMaxSeconds) return INT64_MAX;
  if (ts.tv_sec < -kMaxSeconds) return INT64_MIN;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string read_file(const char* path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The TSC bounds time only when it ticks at a constant rate through power states and
// the kernel itself trusts it (it would have switched clocksource otherwise).
bool tsc_is_trustworthy() {
#if defined(__x86_64__)
  const std::string flags = read_file("/proc/cpuinfo");
  const std::string source = read_file("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  return flags.find(" constant_tsc") != std::string::npos && flags.find(" nonstop_tsc") != std::string::npos &&
         source.rfind("tsc", 0) == 0;
#else
  return false;
#endif
}

std::uint64_t read_tsc() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return 0;
#endif
}

}  // namespace

SystemClock::SystemClock() {
  if (!tsc_is_trustworthy()) return;
  const std::uint64_t tsc0 = read_tsc();
  const std::int64_t ns0 = read_ns(CLOCK_MONOTONIC_RAW);
  std::int64_t ns1 = ns0;
  while (ns1 - ns0 < 2'000'000) ns1 = read_ns(CLOCK_MONOTONIC_RAW);
  const std::uint64_t tsc1 = read_tsc();
  const double per_ns = static_cast<double>(tsc1 - tsc0) / static_cast<double>(ns1 - ns0);
  // 2% under the measurement: a deadline then falls early (one extra wall read),
  // never late (a stale tick).
  cycles_per_ns_q16_ = static_cast<std::uint64_t>(per_ns * 0.98 * 65536.0);
}

std::int64_t SystemClock::wall_ns() { return read_ns(CLOCK_REALTIME); }
std::int64_t SystemClock::boot_ns() { return read_ns(CLOCK_BOOTTIME); }
std::uint64_t SystemClock::cycles() { return cycles_per_ns_q16_ != 0 ? read_tsc() : 0; }

std::uint64_t SystemClock::cycles_within_ns(std::int64_t ns) {
  if (ns <= 0) return 0;
  return (static_cast<std::uint64_t>(ns) * cycles_per_ns_q16_) >> 16;
}

void SystemClock::sleep_for_ns(std::int64_t ns) {
  // Short waits spin so that a generator waiting for the next tick wakes on time;
  // long ones sleep and leave the last 100 us to the spin.
  const std::int64_t until = boot_ns() + ns;
  if (ns > 1'000'000) std::this_thread::sleep_for(std::chrono::nanoseconds(ns - 100'000));
  while (boot_ns() < until) {
#if defined(__x86_64__)
    _mm_pause();
#endif
  }
}

ManualClock::ManualClock(std::int64_t wall_ns, std::int64_t boot_ns) : wall_ns_(wall_ns), boot_ns_(boot_ns) {}

std::int64_t ManualClock::wall_ns() { return wall_ns_.load(std::memory_order_acquire); }
std::int64_t ManualClock::boot_ns() { return boot_ns_.load(std::memory_order_acquire); }
std::uint64_t ManualClock::cycles() { return version_.load(std::memory_order_acquire); }
std::uint64_t ManualClock::cycles_within_ns(std::int64_t ns) { return ns > 0 ? 1 : 0; }
void ManualClock::sleep_for_ns(std::int64_t ns) { advance_ns(std::max<std::int64_t>(ns, 0)); }

void ManualClock::set_wall_ns(std::int64_t wall_ns) {
  wall_ns_.store(wall_ns, std::memory_order_release);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

void ManualClock::advance_ns(std::int64_t ns) {
  if (ns < 0) detail::die("ManualClock::advance_ns: ns < 0; use set_wall_ns to step the clock back");
  wall_ns_.fetch_add(ns, std::memory_order_acq_rel);
  boot_ns_.fetch_add(ns, std::memory_order_acq_rel);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace idforge
