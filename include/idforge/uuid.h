// SPDX-License-Identifier: Apache-2.0
// Uuid: RFC 9562 UUIDs — random version 4 and time-ordered version 7.
//
// A Uuid is 16 bytes in network order. Text is the canonical 8-4-4-4-12 form,
// written lowercase; parsing accepts either case and nothing else (no braces, no
// "urn:uuid:", no missing dashes). Asked for a version, parse_uuid also refuses a
// different version or a variant other than RFC 9562's (binary 10).
//
// Version 7 layout and order (RFC 9562 §5.7, §6.2 Method 1):
//
//   48-bit Unix ms | ver 0111 | 12-bit counter (high) | var 10 | 4-bit counter (low) | 58 random bits
//
// A UuidV7Generator numbers the UUIDs of each millisecond with a 16-bit counter
// that starts at a secret random point below 2^15 (the top bit is a rollover guard)
// and counts up by one; the 58 bits after it are fresh random. So its UUIDs are
// strictly increasing as bytes and as text, across threads. Why Method 1 and not
// Method 3 (sub-millisecond bits): a counter makes order exact at any rate, while
// sub-millisecond time still needs a counter once two calls share a tick, and
// would publish the machine's timer resolution. A millisecond holds 32,768 or more
// UUIDs; after that the stamp leads into the next millisecond, and a clock that
// went back is ridden through on the previous timestamp (RFC 9562 §6.2) — both
// within TimePolicy's max_lead_ms, past which a call waits up to max_wait_ms and
// then fails (overloaded or clock_regressed). The counter never wraps. Stamps end
// in the year 6429 (2^47 ms); past that, time_exhausted.
//
// Thread safety: Uuid is a value. UuidV7Generator::next() may be called from many
// threads at once when its Random may (SystemRandom may).
//
// Example:
//
//   idforge::SystemClock clock;
//   auto v7 = idforge::UuidV7Generator::create({}, clock, idforge::SystemRandom::instance());
//   idforge::Result<idforge::Uuid> uuid = (*v7)->next();
//   std::string text = idforge::to_string(*uuid);  // "019a…-7…-…"
#ifndef IDFORGE_UUID_H_
#define IDFORGE_UUID_H_

#include <array>
#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
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

inline constexpr std::size_t kUuidTextLength = 36;

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};

  // The version field (the high nibble of byte 6).
  int version() const { return bytes[6] >> 4; }
  // True when the variant field is RFC 9562's (binary 10).
  bool rfc_variant() const { return (bytes[8] & 0xc0) == 0x80; }
  // The Unix milliseconds of a version-7 UUID (its first 48 bits).
  std::int64_t v7_unix_ms() const;

  // A new random (version 4) UUID.
  static Uuid v4(Random& random);

  friend auto operator<=>(const Uuid&, const Uuid&) = default;
};

// Writes the canonical lowercase text (kUuidTextLength characters); returns the end.
char* format_to(const Uuid& uuid, char* out);
std::string to_string(const Uuid& uuid);

// Parses the canonical text strictly. With `version`, also refuses another version
// or a non-RFC variant. Fails with invalid_argument saying what is wrong.
Result<Uuid> parse_uuid(std::string_view text, std::optional<int> version = std::nullopt);

class UuidV7Generator {
 public:
  // REQUIRES: `clock` and `random` outlive the generator. Fails with
  // invalid_argument for a policy out of range.
  static Result<std::unique_ptr<UuidV7Generator>> create(const TimePolicy& policy, Clock& clock, Random& random);
  ~UuidV7Generator();

  // The next UUID; see the file comment for the failures.
  Result<Uuid> next();

 private:
  UuidV7Generator(std::unique_ptr<detail::Stamps> stamps, Random& random);

  std::unique_ptr<detail::Stamps> stamps_;
  std::unique_ptr<detail::TickSecrets> secrets_;
  Random& random_;
};

}  // namespace idforge

#endif  // IDFORGE_UUID_H_
