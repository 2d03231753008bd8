// SPDX-License-Identifier: Apache-2.0
// Ksuid: K-Sortable Unique IDentifiers (segmentio/ksuid).
//
// 20 bytes: a 32-bit big-endian count of seconds since the KSUID epoch
// 1400000000 (2014-05-13T16:53:20Z), then a 128-bit random payload. Text is 27
// characters of base62 (0-9, A-Z, a-z), zero-padded, so text sorts like the bytes.
// Parsing refuses another length, another character, and values above
// "aWgEPTl1tmebfsQzFP4bxwgy80V" (2^160 − 1). KSUIDs reach 2150-06-19.
//
// KSUIDs are ordered by their second only; within a second they are random, as the
// spec makes them. KsuidGenerator takes its seconds from the core's time model
// (TimePolicy): they never go back within a generator, a clock rollback within
// max_lead is ridden through, a longer one fails with clock_regressed, a clock
// before 2014-05-13 fails with clock_regressed and one past 2150-06-19 with
// time_exhausted. Like every time-ordered generator it refuses to run in a child
// after fork() (lease_lost): create one in the child.
//
// Thread safety: Ksuid is a value; KsuidGenerator::next() may be called from many
// threads at once when its Random may (SystemRandom may).
//
// Example:
//
//   idforge::SystemClock clock;
//   auto ksuids = idforge::KsuidGenerator::create({}, clock, idforge::SystemRandom::instance());
//   idforge::Result<idforge::Ksuid> ksuid = (*ksuids)->next();
#ifndef IDFORGE_KSUID_H_
#define IDFORGE_KSUID_H_

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
}  // namespace detail

inline constexpr std::size_t kKsuidTextLength = 27;
// The KSUID epoch, in Unix seconds.
inline constexpr std::int64_t kKsuidEpochUnixSeconds = 1'400'000'000;

struct Ksuid {
  std::array<std::uint8_t, 20> bytes{};

  // The timestamp, in Unix seconds.
  std::int64_t unix_seconds() const;

  // A KSUID of `unix_seconds` with a fresh random payload. Fails with
  // invalid_argument outside the KSUID's range of seconds.
  static Result<Ksuid> random(std::int64_t unix_seconds, Random& random);

  friend auto operator<=>(const Ksuid&, const Ksuid&) = default;
};

// Writes the 27 base62 characters; returns the end.
char* format_to(const Ksuid& ksuid, char* out);
std::string to_string(const Ksuid& ksuid);

// Parses the text strictly (see the file comment).
Result<Ksuid> parse_ksuid(std::string_view text);

class KsuidGenerator {
 public:
  // REQUIRES: `clock` and `random` outlive the generator. Fails with
  // invalid_argument for a policy out of range.
  static Result<std::unique_ptr<KsuidGenerator>> create(const TimePolicy& policy, Clock& clock, Random& random);
  ~KsuidGenerator();

  // A KSUID of the current second with a fresh random payload; fails as the file
  // comment says.
  Result<Ksuid> next();

 private:
  KsuidGenerator(std::unique_ptr<detail::Stamps> stamps, Random& random);

  std::unique_ptr<detail::Stamps> stamps_;
  Random& random_;
};

}  // namespace idforge

#endif  // IDFORGE_KSUID_H_
