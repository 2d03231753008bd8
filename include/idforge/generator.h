// SPDX-License-Identifier: Apache-2.0
// Generator: the never-duplicate Snowflake generator for one node.
//
// A Generator hands out IDs of one layout for the node its Reservation holds. It
// guarantees, for as long as the reservation's store keeps its promise:
//
//   - Uniqueness across holders: every stamp is at most the reserved stamp made
//     durable before it was issued, and the generator starts after the largest
//     stamp its predecessors reserved (docs/ARCHITECTURE.md, "How uniqueness is kept").
//   - Strict order inside the node: every ID is larger than every ID handed out
//     before it by this generator, across threads, next() and next_batch()
//     (rule 2). Nothing about the clock can break either guarantee.
//
// Time model. With `now` the tick the wall clock shows:
//   - a new tick restarts the sequence; within a tick the sequence counts up;
//   - when a tick's sequence is used up, stamps lead into the next tick, and after
//     a clock rollback they continue on logical time — both only while the stamp
//     is at most `max_lead_ms` ahead of the clock;
//   - past that the call waits up to `max_wait_ms` (only when waiting can help)
//     and then fails with `overloaded` (demand) or `clock_regressed` (the clock
//     went back, or the predecessor's reservation is ahead of it);
//   - a stamp past the layout's last tick is `time_exhausted`, never a wrap.
//
// Fidelity to the clock: a stamp is the tick the system clock shows during the
// call. The generator re-reads the wall clock at every tick boundary and at least
// every millisecond, and in between uses the CPU's time-stamp counter to know that
// no boundary has passed (SystemClock). A wall-clock step is therefore noticed at
// most 1 ms late; a stamp never runs ahead of the clock except by the lead above.
//
// Thread safety: next(), next_batch(), renew() and stats() may be called from any
// number of threads at once. close() may race with them; calls after it fail with
// lease_lost.
//
// Atomic state and memory orders:
//   - `state_` packs (tick << sequence_bits) | sequence of the *next free* ID.
//     Each call claims [first, first + n) with one compare-and-swap, where
//     first = max(state_, now << sequence_bits). Sequence overflow carries into the
//     tick bits, which is exactly "lead into the next tick". Relaxed order is
//     enough: uniqueness needs only the single total order of RMWs on state_, and
//     an ID publishes no other memory.
//   - Invariants: state_ never decreases; every claimed range lies below the new
//     state_; the tick of every claimed ID is <= min(now + max_lead, reserved
//     tick, layout's max tick) as read during the claim. Closing swaps in
//     kClosed (2^63), whose tick exceeds every limit, so no claim succeeds after it.
//   - The tick cache (`cached_tick_`, `cache_deadline_`): one refresher at a time
//     stores the tick, then the deadline with release; readers load the deadline
//     with acquire. An entry is valid only while clock.cycles() < its deadline,
//     which was computed from a counter reading taken before the wall reading.
//   - `limit_tick_` (reserved tick, capped at the layout's end) is raised with
//     release under `renew_mutex_` only after the reservation is durable, and
//     dropped to -1 (nothing passes) when the reservation reports the node lost.
//   - The reservation's Fence (a lease's deadline), when it has one, is checked at
//     every clock reading (at least every millisecond). Once it has passed,
//     `fenced_` is set and `limit_tick_` dropped to -1 (sequentially consistent
//     stores); an extension stores its new limit and then loads `fenced_`, so
//     whichever comes second in the total order leaves the limit at -1. The next
//     claim then takes the slow path, which stops the generator for good.
//   - Audit (GeneratorOptions::audit): a report from renew() or close() covers
//     [previous report's end, state_) as loaded under `renew_mutex_`; every claim
//     whose CAS came earlier in state_'s order lies below that load, every later
//     one above it. The one claim that finds state_ at its initial value stores
//     where it began in `first_claimed_` when it skipped states (account()); a
//     first claim that skipped none began at the initial state. Since account()
//     runs just after its claim, a report that finds `first_claimed_` unset waits
//     one period (or, when closing, takes the initial state: a range that starts
//     early covers more, never less).
//
// Failure: every error is a typed Result (see result.h). In a child process —
// made by fork(), glibc's _Fork() or a raw clone or fork system call alike (the
// kernel wipes a marker page in every child) — the inherited generator fails every
// call with lease_lost: create a new generator, with its own reservation, there.
//
// Example:
//
//   idforge::SystemClock clock;
//   idforge::MemoryReservation reservation(/*node=*/7);
//   auto generator = idforge::Generator::create({}, clock, reservation);
//   if (!generator) return fail(generator.error());
//   idforge::Result<std::uint64_t> id = (*generator)->next();
#ifndef IDFORGE_GENERATOR_H_
#define IDFORGE_GENERATOR_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "idforge/audit.h"
#include "idforge/clock.h"
#include "idforge/layout.h"
#include "idforge/reservation.h"
#include "idforge/result.h"
#include "idforge/state_claim.h"

namespace idforge {

struct GeneratorOptions {
  // The layout IDs are made in. Default: Layout::twitter().
  Layout layout = Layout::twitter();
  // How far stamps may run ahead of the wall clock, to absorb bursts above the
  // layout's rate and clock rollbacks. 0 is classic Snowflake: wait on overflow,
  // refuse on rollback. Default: 1000. Valid: 0 to 86,400,000.
  std::int64_t max_lead_ms = 1000;
  // How long one call may wait for the clock before it fails. Default: 1000.
  // Valid: 0 to 3,600,000.
  std::int64_t max_wait_ms = 1000;
  // How far past the wall clock each extension of the reservation reaches; it is
  // renewed when less than half remains ahead of the newest stamp. When stamps run
  // further ahead of the clock than this (bursts, a rollback ridden on a large
  // max_lead_ms), an extension reaches an eighth of it past the stamp that needs
  // it. So a crash leaves a mark at most max(reserve_ahead_ms, max_lead_ms +
  // reserve_ahead_ms / 8) ahead of the clock, and nothing is reserved until the
  // first ID is asked for. Default: 1000. Valid: 1 to 86,400,000.
  std::int64_t reserve_ahead_ms = 1000;
  // Whether a call may extend the reservation itself when the stamps it needs are
  // past it (the renewer has fallen behind or is failing). Default: true — with
  // files an extension is an fsync. Set false when an extension is a network round
  // trip (EtcdReservation): a call then waits for a renewal only up to max_wait_ms
  // and otherwise fails with `unavailable`, so no call waits on the coordinator.
  // Only the very first extension, before any ID is issued, is made in a call
  // either way (the renewer reserves nothing until then).
  bool extend_on_demand = true;
  // Where to report the ranges of states the generator claims (audit.h), from
  // renew() and close(). Default: nowhere. REQUIRES: outlives the generator.
  AuditSink* audit = nullptr;
};

// The upper bounds, in ms, of the size classes GeneratorStats counts clock steps
// in (a last class holds larger steps): Jepsen's clock nemesis bumps by 4 ms to
// 262 s.
inline constexpr std::array<std::int64_t, 9> kStepBoundsMs = {4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144};
inline constexpr std::size_t kStepClasses = kStepBoundsMs.size() + 1;

// Counters for metrics. Each is a snapshot; counters only grow.
struct GeneratorStats {
  std::uint64_t issued = 0;     // IDs handed out.
  std::uint64_t overflows = 0;  // Ticks whose sequence was used up (stamps led into the next tick).
  std::uint64_t waits = 0;      // Calls that waited for the clock.
  std::uint64_t refusals = 0;   // Calls that failed after creation.
  std::uint64_t rollbacks = 0;  // Times the wall clock was seen behind its furthest reading by >= 1 ms.
  // Wall-clock steps: between two of the generator's clock readings the wall
  // clock moved against the boot clock (which counts real time, suspend included)
  // by 1 ms or more. By direction and size class (kStepBoundsMs), with the total
  // size in ms of each direction's steps.
  std::array<std::uint64_t, kStepClasses> steps_back{};
  std::array<std::uint64_t, kStepClasses> steps_forward{};
  std::uint64_t steps_back_ms = 0;
  std::uint64_t steps_forward_ms = 0;
  std::int64_t lead_ms = 0;     // How far the newest stamp is ahead of the wall clock now (>= 0).
  // How far the next stamp would be ahead of the wall clock now (>= 0). Past
  // max_lead_ms after a restart with the clock behind, it says how long until
  // the generator can issue again.
  std::int64_t next_stamp_lead_ms = 0;
  // The instant of the last stamp this generator has made durable, or nullopt
  // before its first ID (nothing is reserved until then).
  std::optional<std::int64_t> reserved_until_unix_ms;
};

class Generator {
 public:
  // Creates a generator for the node `reservation` holds. It reserves nothing
  // until the first ID is asked for, so a process that starts and stops (or
  // crashes) without issuing leaves the reservation as it found it. REQUIRES:
  // `clock` and `reservation` outlive the generator. Fails with invalid_argument
  // for bad options or a node outside the layout.
  static Result<std::unique_ptr<Generator>> create(const GeneratorOptions& options, Clock& clock,
                                                   Reservation& reservation);

  // Closes the generator if close() was not called (errors are then ignored: the
  // reservation keeps its larger durable value, which is safe).
  ~Generator();

  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Returns the next ID.
  Result<std::uint64_t> next() {
    Result<std::uint64_t> first = take(1);
    if (!first) return first;
    return id_of(*first);
  }

  // Fills `out` with consecutive IDs in one atomic step. All or nothing: on error
  // `out` is unspecified and no ID was issued. Fails with invalid_argument when
  // out.size() exceeds what max_lead_ms allows in one call (ids_per_tick ×
  // (max_lead ticks + 1)).
  Result<void> next_batch(std::span<std::uint64_t> out);

  // Extends the reservation when less than half of reserve_ahead_ms remains ahead
  // of the newest stamp or the clock, once the generator has issued its first ID.
  // Call it periodically from a background thread (see Renewer) so extension
  // never happens inside next(). A reservation that reports the node lost
  // (lease_lost) stops the generator: every later call fails with that error.
  Result<void> renew();

  // Stops issuing, records the final reservation (the newest stamp issued) and
  // releases the node. Idempotent. In a forked child it only stops issuing.
  Result<void> close();

  const Layout& layout() const { return layout_; }
  // The node number (see Layout::node_number).
  std::uint64_t node() const { return node_; }
  GeneratorStats stats();

 private:
  struct Reading {
    std::int64_t tick;
    std::int64_t wall_ns;
  };
  static constexpr std::uint64_t kClosed = 1ULL << 63;

  Generator(const GeneratorOptions& options, Clock& clock, Reservation& reservation);

  // Claims n consecutive states; returns the first.
  Result<std::uint64_t> take(std::uint64_t n) {
    if (fork_generation_ != current_fork_generation()) [[unlikely]] return take_slow(n);
    const std::int64_t now = now_tick();
    const std::uint64_t floor = now > 0 ? static_cast<std::uint64_t>(now) << seq_bits_ : 0;
    const std::int64_t limit = std::min(now + lead_ticks_, limit_tick_.load(std::memory_order_relaxed));
    const detail::StateClaim claim = detail::claim_states(state_, floor, n, limit, seq_bits_);
    if (!claim.taken) [[unlikely]] return take_slow(n);
    const std::uint64_t end = claim.first + n;
    if (claim.first != claim.found || (end >> seq_bits_) != (claim.first >> seq_bits_)) [[unlikely]] {
      account(claim.found, claim.first, end);
    }
    return claim.first;
  }
  Result<std::uint64_t> take_slow(std::uint64_t n);
  // Counts skipped states and overflows of a claim of [first, end) that found
  // state_ at `cur`, and notes where the first claim began if it skipped states.
  void account(std::uint64_t cur, std::uint64_t first, std::uint64_t end);
  // Reports the states claimed below `state` since the last report to the audit
  // sink, if there is one. REQUIRES: renew_mutex_ held.
  void audit_locked(std::uint64_t state);

  // The current tick from the cache, or a fresh reading.
  std::int64_t now_tick() {
    const std::uint64_t cycles = clock_.cycles();
    if (cycles < cache_deadline_.load(std::memory_order_acquire)) return cached_tick_.load(std::memory_order_relaxed);
    return read_clock().tick;
  }
  Reading read_clock();
  // Counts a step of the wall clock against the boot clock, if there was one.
  void note_step(std::int64_t wall_ns);
  static std::uint64_t current_fork_generation();

  std::uint64_t id_of(std::uint64_t state) const {
    return ((state >> seq_bits_) << ts_shift_) | ((state & seq_mask_) << seq_shift_) | node_bits_in_id_;
  }
  // The tick of the newest ID issued, or -1. REQUIRES: renew_mutex_ held.
  std::int64_t last_issued_tick() const;
  // Makes a reservation covering `min_tick` durable. REQUIRES: renew_mutex_ held.
  Result<void> extend_locked(std::int64_t min_tick);
  // Stops issuing for good because the reservation says the node is lost.
  // REQUIRES: renew_mutex_ held.
  void lose(const Error& error);
  // Whether the reservation's fence has passed (set from read_clock), and the error
  // it is lost with.
  bool fence_passed() const { return fenced_.load(std::memory_order_seq_cst); }
  Error fence_error() const;
  Error refuse(Errc code, std::string message);

  // Fixed at creation.
  const Layout layout_;
  Clock& clock_;
  Reservation& reservation_;
  const std::uint64_t node_;
  const int seq_bits_;
  const std::uint64_t seq_mask_;
  const int ts_shift_;
  const int seq_shift_;
  const std::uint64_t node_bits_in_id_;
  const std::int64_t lead_ticks_;
  const std::int64_t max_wait_ns_;
  const std::int64_t reserve_ahead_ticks_;
  const bool extend_on_demand_;
  const std::uint64_t fork_generation_;
  const Fence* const fence_;
  AuditSink* const audit_;
  const std::uint64_t holder_;  // This generator's number in its audit records.
  std::uint64_t initial_state_ = 0;
  std::optional<std::int64_t> inherited_stamp_;

  // Written by every claim.
  alignas(64) std::atomic<std::uint64_t> state_{0};

  // Read by every claim, written about once per tick or per renewal.
  alignas(64) std::atomic<std::uint64_t> cache_deadline_{0};
  std::atomic<std::int64_t> cached_tick_{0};
  std::atomic<std::int64_t> limit_tick_{-1};
  std::atomic<bool> cache_refreshing_{false};

  // Counters and clock observations, written off the common path.
  alignas(64) std::atomic<std::uint64_t> skipped_{0};
  std::atomic<std::uint64_t> overflows_{0};
  std::atomic<std::uint64_t> waits_{0};
  std::atomic<std::uint64_t> refusals_{0};
  std::atomic<std::uint64_t> rollbacks_{0};
  std::atomic<std::int64_t> furthest_wall_ns_{INT64_MIN};
  // Wall minus boot time at the last clock reading, and the steps seen in it.
  std::atomic<std::int64_t> wall_offset_ns_{INT64_MIN};
  std::array<std::atomic<std::uint64_t>, kStepClasses> steps_back_{};
  std::array<std::atomic<std::uint64_t>, kStepClasses> steps_forward_{};
  std::atomic<std::uint64_t> steps_back_ms_{0};
  std::atomic<std::uint64_t> steps_forward_ms_{0};
  std::atomic<bool> regressed_{false};
  std::atomic<bool> lost_{false};
  std::atomic<bool> fenced_{false};
  // The first state of the very first claim, once account() has seen it.
  std::atomic<std::uint64_t> first_claimed_{kUnknown};
  static constexpr std::uint64_t kUnknown = ~std::uint64_t{0};

  // Renewal and shutdown.
  std::mutex renew_mutex_;
  std::int64_t reserved_tick_ = -1;  // The durable reservation; guarded by renew_mutex_.
  std::optional<Error> lost_error_;  // Why the node was lost; guarded by renew_mutex_.
  bool closed_ = false;              // Guarded by renew_mutex_.
  std::uint64_t closed_state_ = 0;      // state_ when closed; guarded by renew_mutex_.
  // Where the next audit report begins, and the issued count at the last one;
  // guarded by renew_mutex_.
  std::optional<std::uint64_t> audited_state_;
  std::uint64_t audited_issued_ = 0;
  bool audit_waited_ = false;
};

}  // namespace idforge

#endif  // IDFORGE_GENERATOR_H_
