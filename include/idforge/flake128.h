// SPDX-License-Identifier: Apache-2.0
// Flake128: 128-bit flake IDs (boundary/flake).
//
//   64-bit Unix milliseconds | 48-bit worker | 16-bit sequence      (big-endian)
//
// The time is unsigned. The decoder (decoder.h) reads times up to 2^63 - 1 ms (the
// year 292,278,994) and refuses larger ones as overflow: no clock reaches them.
//
// Text is 32 hex digits, written lowercase, so text sorts like the number; parsing
// accepts either case and nothing else.
//
// Flake128Generator is the Snowflake core with a 48-bit node: its worker is the
// node of a Reservation (a FileReservation on one host, as for Snowflake nodes),
// never a MAC address, and it inherits the whole uniqueness argument — durable
// reserved time, successors start after predecessors, the same time model and
// TimePolicy, refusal after fork(). Its IDs are strictly increasing across threads.
// Stamps end in the year 6429 (2^47 ms): past that, time_exhausted.
//
// Thread safety: Flake128 is a value; Flake128Generator::next() may be called from
// many threads at once.
//
// Example:
//
//   idforge::SystemClock clock;
//   idforge::MemoryReservation worker(/*node=*/42);
//   auto flakes = idforge::Flake128Generator::create({}, clock, worker);
//   idforge::Result<idforge::Flake128> id = (*flakes)->next();
#ifndef IDFORGE_FLAKE128_H_
#define IDFORGE_FLAKE128_H_

#include <array>
#include <compare>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "idforge/clock.h"
#include "idforge/formats.h"
#include "idforge/reservation.h"
#include "idforge/result.h"

namespace idforge {
namespace detail {
class Stamps;
}  // namespace detail

inline constexpr std::size_t kFlake128TextLength = 32;
// The number of workers: the worker field is 48 bits.
inline constexpr std::uint64_t kFlake128Workers = std::uint64_t{1} << 48;

struct Flake128 {
  std::array<std::uint8_t, 16> bytes{};

  // The time field: unsigned 64-bit Unix milliseconds.
  std::uint64_t unix_ms() const;
  std::uint64_t worker() const;
  std::uint64_t sequence() const;

  // Builds an ID from its fields. REQUIRES: worker < kFlake128Workers, sequence < 2^16.
  static Flake128 compose(std::int64_t unix_ms, std::uint64_t worker, std::uint64_t sequence);

  friend auto operator<=>(const Flake128&, const Flake128&) = default;
};

// Writes the 32 lowercase hex digits; returns the end.
char* format_to(const Flake128& id, char* out);
std::string to_string(const Flake128& id);

// Parses 32 hex digits of either case; invalid_argument otherwise.
Result<Flake128> parse_flake128(std::string_view text);

class Flake128Generator {
 public:
  // Issues IDs for the worker `reservation` holds. REQUIRES: `clock` and
  // `reservation` outlive the generator. Fails with invalid_argument for a policy
  // out of range or a worker of 2^48 or more, and with the reservation's error.
  static Result<std::unique_ptr<Flake128Generator>> create(const TimePolicy& policy, Clock& clock,
                                                           Reservation& reservation);
  ~Flake128Generator();

  Result<Flake128> next();

  // Stops issuing, records the final reservation and releases the worker (see
  // Generator::close). Also done by the destructor.
  Result<void> close();
  // Extends the reservation ahead of need (see Generator::renew).
  Result<void> renew();

  std::uint64_t worker() const { return worker_; }

 private:
  Flake128Generator(std::unique_ptr<detail::Stamps> stamps, std::uint64_t worker);

  std::unique_ptr<detail::Stamps> stamps_;
  std::uint64_t worker_;
};

}  // namespace idforge

#endif  // IDFORGE_FLAKE128_H_
