// SPDX-License-Identifier: Apache-2.0
// Reservation: exclusive, durable time for one node — the first half of idforge's
// uniqueness rule (docs/ARCHITECTURE.md, "How uniqueness is kept").
//
// A Reservation is held by one generator at a time. It tells the generator which
// node value it owns and the largest stamp its predecessors (a crashed process, an
// earlier run, another machine) may have issued. The generator issues a stamp only
// while the stamp is no later than what it has made durable through `extend`, and
// a successor starts after the largest reserved stamp, so no two holders of a node
// issue the same stamp whatever any clock says.
//
// Reservations count in *stamps*: the value of a layout's timestamp field (its
// tick number), not instants. Two layouts whose node and sequence bits sit in the
// same places make the same IDs from the same (stamp, node, sequence), whatever
// their epochs or ticks, so a store shared by such layouts must compare stamps.
//
// Sources:
//   - MemoryReservation (this header): nothing survives the process. Safe only when
//     no other process will ever use the same node after this one within the clock's
//     error — for tests, and for library users who restart rarely and accept that a
//     restart with the clock stepped back can repeat IDs.
//   - FileReservation (file_reservation.h): fsync'd marks and a lock on one host.
//   - EtcdReservation (etcd_reservation.h): marks in etcd, changed only by
//     transactions that check the holder still owns the node's lease; many hosts.
//
// A source whose ownership lapses with time (a lease) also gives a Fence: a
// deadline on the boot clock after which its generator issues nothing more.
// Uniqueness never rests on it — the durable mark bounds every stamp — but a
// holder that stops at its fence stops before a successor can start, which keeps
// IDs in order across the handover and turns a lost lease into a clear refusal.
//
// Thread safety: a Generator calls these methods under its own mutex; a source need
// not be thread-safe itself. A Fence is read and moved from any thread.
#ifndef IDFORGE_RESERVATION_H_
#define IDFORGE_RESERVATION_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>

#include "idforge/result.h"

namespace idforge {

// A deadline on the boot clock (Clock::boot_ns) that a lease moves forward each
// time it is renewed. Once dropped (the lease is lost) it stays in the past: a
// dropped fence never moves again.
class Fence {
 public:
  // A fence that has not been set is already passed.
  Fence() = default;

  // The instant, in boot-clock nanoseconds, from which nothing may be issued.
  std::int64_t deadline_boot_ns() const { return deadline_.load(std::memory_order_acquire); }
  // True when the boot clock reads `now_boot_ns` at or past the deadline.
  bool passed(std::int64_t now_boot_ns) const { return now_boot_ns >= deadline_boot_ns(); }
  // Moves the deadline to `boot_ns` unless the fence was dropped.
  void move_to(std::int64_t boot_ns) {
    std::int64_t cur = deadline_.load(std::memory_order_relaxed);
    while (cur != kDropped && !deadline_.compare_exchange_weak(cur, boot_ns, std::memory_order_acq_rel)) {
    }
  }
  // Puts the deadline in the past for good.
  void drop() { deadline_.store(kDropped, std::memory_order_release); }
  bool dropped() const { return deadline_boot_ns() == kDropped; }

 private:
  static constexpr std::int64_t kDropped = std::numeric_limits<std::int64_t>::min();
  std::atomic<std::int64_t> deadline_{kDropped + 1};
};

class Reservation {
 public:
  virtual ~Reservation() = default;

  // The node number this reservation holds (see Layout::node_number).
  virtual std::uint64_t node() const = 0;

  // The largest stamp any previous holder may have issued, or nullopt when the
  // node has never been held. Stamps of this holder start after it.
  virtual std::optional<std::int64_t> inherited_stamp() const = 0;

  // Durably records that this holder may issue stamps up to `until_stamp`. Returns
  // only after the record would survive a crash and, for a shared store, after
  // checking that this holder still owns the node; lease_lost when it does not (the
  // generator then stops issuing). Called off the hot path.
  virtual Result<void> extend(std::int64_t until_stamp) = 0;

  // Records the final reservation — `final_stamp`, the largest stamp actually issued
  // or inherited, or nullopt when there is neither (what is recorded stays) — and
  // gives the node up. After release, extend() fails with lease_lost.
  virtual Result<void> release(std::optional<std::int64_t> final_stamp) = 0;

  // The fence of a source whose ownership lapses with time, or nullptr (Default)
  // when it lasts until released. The generator reads it at least every
  // millisecond and, once it has passed, stops for good (lease_lost). REQUIRES:
  // the fence outlives the reservation.
  virtual const Fence* fence() const { return nullptr; }
};

// A reservation kept in memory only (see the caveat above).
class MemoryReservation final : public Reservation {
 public:
  // Holds `node`; `inherited_stamp` plays the predecessors' largest stamp.
  explicit MemoryReservation(std::uint64_t node, std::optional<std::int64_t> inherited_stamp = std::nullopt)
      : node_(node), inherited_(inherited_stamp) {}

  std::uint64_t node() const override { return node_; }
  std::optional<std::int64_t> inherited_stamp() const override { return inherited_; }
  Result<void> extend(std::int64_t until_stamp) override;
  Result<void> release(std::optional<std::int64_t> final_stamp) override;

  // The last stamp given to extend() or release(), or nullopt.
  std::optional<std::int64_t> reserved_stamp() const { return reserved_; }
  // How many times extend() was called.
  int extensions() const { return extensions_; }
  bool released() const { return released_; }

 private:
  std::uint64_t node_;
  std::optional<std::int64_t> inherited_;
  std::optional<std::int64_t> reserved_;
  int extensions_ = 0;
  bool released_ = false;
};

}  // namespace idforge

#endif  // IDFORGE_RESERVATION_H_
