// SPDX-License-Identifier: Apache-2.0
// Clock: the only way idforge code learns the time.
//
// A Clock gives two readings — wall time (Unix nanoseconds, may step in either
// direction) and boot time (monotonic, counts suspend) — plus a cheap counter the
// generator uses to avoid re-reading wall time while it cannot have crossed a tick
// boundary. Production code uses `SystemClock`; tests use `ManualClock` and step it
// by hand. No idforge code reads the system clock any other way.
//
// Thread safety: every method may be called from any thread at the same time.
//
// Example:
//
//   idforge::ManualClock clock(1'700'000'000'000'000'000);  // wall time, ns
//   clock.advance_ns(1'000'000);                             // one millisecond
//   std::int64_t now = clock.wall_ns();
#ifndef IDFORGE_CLOCK_H_
#define IDFORGE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace idforge {

class Clock {
 public:
  virtual ~Clock() = default;

  // Wall time in nanoseconds since the Unix epoch. May jump backwards or forwards.
  virtual std::int64_t wall_ns() = 0;

  // Monotonic time in nanoseconds that keeps counting through suspend
  // (CLOCK_BOOTTIME). Only differences between readings mean anything.
  virtual std::int64_t boot_ns() = 0;

  // A cheap counter that never goes backwards: the CPU's time-stamp counter on a
  // SystemClock, a change count on a ManualClock. Read it *before* wall_ns() when
  // using cycles_within_ns() to decide how long that wall reading stays current.
  virtual std::uint64_t cycles() = 0;

  // How many cycles() units certainly take no longer than `ns` nanoseconds to pass.
  // 0 means the counter cannot bound time and wall_ns() must be read every time.
  virtual std::uint64_t cycles_within_ns(std::int64_t ns) = 0;

  // Blocks the calling thread for about `ns` nanoseconds of boot time. A ManualClock
  // does not block: it advances itself by `ns`, so tests of waiting are instant.
  virtual void sleep_for_ns(std::int64_t ns) = 0;
};

// The operating system's clocks: CLOCK_REALTIME, CLOCK_BOOTTIME and, when the
// kernel keeps time with an invariant TSC, the TSC as the cheap counter.
//
// Construction calibrates the TSC against CLOCK_MONOTONIC_RAW for about 2 ms.
// Where the TSC is not trustworthy (no constant_tsc/nonstop_tsc, or the kernel's
// clocksource is not "tsc"), cycles_within_ns() returns 0 and callers read the wall
// clock every time: slower, never wrong.
class SystemClock final : public Clock {
 public:
  SystemClock();

  std::int64_t wall_ns() override;
  std::int64_t boot_ns() override;
  std::uint64_t cycles() override;
  std::uint64_t cycles_within_ns(std::int64_t ns) override;
  void sleep_for_ns(std::int64_t ns) override;

  // True when cycles() is the TSC and cycles_within_ns() bounds time.
  bool has_fast_counter() const { return cycles_per_ns_q16_ != 0; }

 private:
  // A lower bound of TSC cycles per nanosecond, in 16.16 fixed point; 0 if unused.
  std::uint64_t cycles_per_ns_q16_ = 0;
};

// A clock that moves only when told to. Boot time starts at `boot_ns` and moves by
// the same amounts as wall time, except that set_wall_ns() moves wall time alone
// (as a clock step does).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t wall_ns, std::int64_t boot_ns = 0);

  std::int64_t wall_ns() override;
  std::int64_t boot_ns() override;
  std::uint64_t cycles() override;
  std::uint64_t cycles_within_ns(std::int64_t ns) override;
  void sleep_for_ns(std::int64_t ns) override;

  // Steps wall time to `wall_ns`, forwards or backwards; boot time is unchanged.
  void set_wall_ns(std::int64_t wall_ns);

  // Moves wall and boot time forward by `ns`. REQUIRES: ns >= 0.
  void advance_ns(std::int64_t ns);

  // Moves wall and boot time forward by `ms` milliseconds. REQUIRES: ms >= 0.
  void advance_ms(std::int64_t ms) { advance_ns(ms * 1'000'000); }

 private:
  std::atomic<std::int64_t> wall_ns_;
  std::atomic<std::int64_t> boot_ns_;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace idforge

#endif  // IDFORGE_CLOCK_H_
