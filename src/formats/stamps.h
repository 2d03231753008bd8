// SPDX-License-Identifier: Apache-2.0
// Private: what the time-ordered wide formats share.
//
// Stamps runs the Snowflake Generator on an internal layout with no node field
// ("time:47-seq:15/tick=1ms", say), so a wide format gets (tick, sequence) pairs
// under exactly the core's time model, lead/wait policy and fork refusal.
//
// TickSecrets derives a secret 16-byte value per tick (ChaCha12 keyed at random at
// creation, the tick as the block counter). Every thread computes the same value
// for a tick, so formats can start each tick's counter at a random point and still
// be ordered across threads; a per-thread cache makes it one block per tick.
#ifndef IDFORGE_SRC_FORMATS_STAMPS_H_
#define IDFORGE_SRC_FORMATS_STAMPS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "idforge/clock.h"
#include "idforge/formats.h"
#include "idforge/generator.h"
#include "idforge/random.h"
#include "idforge/reservation.h"

namespace idforge::detail {

// One claimed stamp: the tick's first instant and the sequence within it.
struct Stamp {
  std::int64_t tick_unix_ms = 0;
  std::uint64_t sequence = 0;
};

class Stamps {
 public:
  // Runs on `spec` (a layout of a timestamp and a sequence only). With a null
  // `reservation` the time is reserved in memory; otherwise `reservation` (which
  // must outlive this) supplies the durable time and its node() is the caller's
  // business, not the layout's.
  static Result<std::unique_ptr<Stamps>> create(std::string_view spec, const TimePolicy& policy, Clock& clock,
                                                Reservation* reservation);

  Result<Stamp> next() {
    Result<std::uint64_t> id = generator_->next();
    if (!id) return id.error();
    return Stamp{epoch_ms_ + static_cast<std::int64_t>(*id >> seq_bits_) * tick_ms_, *id & seq_mask_};
  }

  Generator& generator() { return *generator_; }

 private:
  Stamps() = default;

  std::unique_ptr<Reservation> reservation_;
  std::unique_ptr<Generator> generator_;
  int seq_bits_ = 0;
  std::uint64_t seq_mask_ = 0;
  std::int64_t tick_ms_ = 1;
  std::int64_t epoch_ms_ = 0;
};

class TickSecrets {
 public:
  explicit TickSecrets(Random& random);
  // The secret of `tick`.
  std::array<std::uint8_t, 16> at(std::int64_t tick) const;

 private:
  std::array<std::uint32_t, 8> key_{};
  std::uint64_t serial_;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_FORMATS_STAMPS_H_
