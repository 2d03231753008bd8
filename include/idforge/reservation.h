// Reservation: exclusive, durable time for one node — the first half of idforge's
// uniqueness rule (DESIGN.md §1).
//
// A Reservation is held by one generator at a time. It tells the generator which
// node value it owns and until which instant its predecessor (a crashed process,
// an earlier run, another machine) may have issued stamps. The generator issues a
// stamp only while the stamp is no later than what it has made durable through
// `extend`, and a successor starts after the last reserved instant, so no two
// holders of a node can issue the same stamp whatever any clock says.
//
// Sources:
//   - MemoryReservation (this header): nothing survives the process. Safe only when
//     no other process will ever use the same node after this one within the clock's
//     error — for tests, and for library users who restart rarely and accept that a
//     restart with the clock stepped back can repeat IDs.
//   - FileReservation (file_reservation.h): an fsync'd high-water-mark file and a
//     lock file on one host.
//
// Thread safety: a Generator calls these methods under its own mutex; a source need
// not be thread-safe itself.
#ifndef IDFORGE_RESERVATION_H_
#define IDFORGE_RESERVATION_H_

#include <cstdint>
#include <optional>

#include "idforge/result.h"

namespace idforge {

class Reservation {
 public:
  virtual ~Reservation() = default;

  // The node number this reservation holds (see Layout::node_number).
  virtual std::uint64_t node() const = 0;

  // The last instant (Unix ms) the previous holder may have stamped, or nullopt when
  // the node has never been held. Stamps of this holder start after it.
  virtual std::optional<std::int64_t> inherited_until_unix_ms() const = 0;

  // Durably records that this holder may stamp up to `until_unix_ms`. Returns only
  // after the record would survive a crash. Called off the hot path.
  virtual Result<void> extend(std::int64_t until_unix_ms) = 0;

  // Records the final reservation `until_unix_ms` (the last instant actually
  // stamped) and gives the node up. After release, extend() fails with lease_lost.
  virtual Result<void> release(std::int64_t until_unix_ms) = 0;
};

// A reservation kept in memory only (see the caveat above).
class MemoryReservation final : public Reservation {
 public:
  // Holds `node`; `inherited_until_unix_ms` plays the predecessor's reservation.
  explicit MemoryReservation(std::uint64_t node, std::optional<std::int64_t> inherited_until_unix_ms = std::nullopt)
      : node_(node), inherited_(inherited_until_unix_ms) {}

  std::uint64_t node() const override { return node_; }
  std::optional<std::int64_t> inherited_until_unix_ms() const override { return inherited_; }
  Result<void> extend(std::int64_t until_unix_ms) override;
  Result<void> release(std::int64_t until_unix_ms) override;

  // The last value given to extend() or release(), or nullopt.
  std::optional<std::int64_t> reserved_until_unix_ms() const { return reserved_; }
  bool released() const { return released_; }

 private:
  std::uint64_t node_;
  std::optional<std::int64_t> inherited_;
  std::optional<std::int64_t> reserved_;
  bool released_ = false;
};

}  // namespace idforge

#endif  // IDFORGE_RESERVATION_H_
