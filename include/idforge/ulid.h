// SPDX-License-Identifier: Apache-2.0
// Ulid: Universally Unique Lexicographically Sortable Identifiers (ulid/spec).
//
// 16 bytes: a 48-bit big-endian Unix millisecond timestamp, then 80 random bits.
// Text is 26 characters of Crockford's base32 (0-9 A-Z without I, L, O, U),
// written uppercase; parsing accepts either case and refuses Crockford's aliases
// (I, L, O), any other character, another length, and values above
// 7ZZZZZZZZZZZZZZZZZZZZZZZZZ (the largest 128-bit value).
//
// Monotonic mode (UlidGenerator): within one millisecond each ULID's random part is
// the previous one plus one, as the spec says. A millisecond's first random part
// is a secret random value below 2^79, so up to 32,768 increments can never
// overflow the 80 bits; past that many the stamp leads into the next millisecond
// instead, and a clock that went back is ridden through on the previous
// millisecond — both within TimePolicy's max_lead_ms, past which a call waits up
// to max_wait_ms and then fails with overloaded or clock_regressed. Overflow is
// therefore always a typed error, never a wrap. The generator's ULIDs are strictly
// increasing, as bytes and as text, across threads. Its stamps end in the year 6429
// (2^47 ms; time_exhausted after), though parsing reads the format's whole range.
//
// Thread safety: Ulid is a value; UlidGenerator::next() may be called from many
// threads at once.
//
// Example:
//
//   idforge::SystemClock clock;
//   auto ulids = idforge::UlidGenerator::create({}, clock, idforge::SystemRandom::instance());
//   idforge::Result<idforge::Ulid> ulid = (*ulids)->next();
//   std::string text = idforge::to_string(*ulid);  // "01JD…" (26 characters)
#ifndef IDFORGE_ULID_H_
#define IDFORGE_ULID_H_

#include <array>
#include <compare>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "idforge/clock.h"
#include "idforge/formats.h"
#include "idforge/random.h"
#include "idforge/result.h"

namespace idforge {
namespace detail {
class Stamps;
class TickSecrets;
}  // namespace detail

inline constexpr std::size_t kUlidTextLength = 26;
// The largest timestamp a ULID holds (2^48 − 1 ms, in the year 10889).
inline constexpr std::int64_t kUlidMaxUnixMs = (std::int64_t{1} << 48) - 1;

struct Ulid {
  std::array<std::uint8_t, 16> bytes{};

  // The timestamp (the first 48 bits).
  std::int64_t unix_ms() const;

  // A ULID of `unix_ms` with 80 fresh random bits (not monotonic). Fails with
  // invalid_argument when unix_ms is outside [0, kUlidMaxUnixMs].
  static Result<Ulid> random(std::int64_t unix_ms, Random& random);

  friend auto operator<=>(const Ulid&, const Ulid&) = default;
};

// Writes the 26-character uppercase text; returns the end.
char* format_to(const Ulid& ulid, char* out);
std::string to_string(const Ulid& ulid);

// Parses the text strictly (see the file comment).
Result<Ulid> parse_ulid(std::string_view text);

class UlidGenerator {
 public:
  // REQUIRES: `clock` outlives the generator; `random` is used only here, for the
  // secret. Fails with invalid_argument for a policy out of range.
  static Result<std::unique_ptr<UlidGenerator>> create(const TimePolicy& policy, Clock& clock, Random& random);
  ~UlidGenerator();

  // The next ULID in monotonic order; see the file comment for the failures.
  Result<Ulid> next();

 private:
  UlidGenerator(std::unique_ptr<detail::Stamps> stamps, Random& random);

  std::unique_ptr<detail::Stamps> stamps_;
  std::unique_ptr<detail::TickSecrets> secrets_;
};

}  // namespace idforge

#endif  // IDFORGE_ULID_H_
