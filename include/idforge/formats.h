// SPDX-License-Identifier: Apache-2.0
// Formats: the ID formats idforge makes and reads, and the time policy the
// time-ordered ones share.
//
//   snowflake  64 bits in any layout (layout.h), text in any encoding (encoding.h)
//   ulid       48-bit Unix ms + 80 random bits; 26 Crockford base32 characters (ulid.h)
//   uuidv4     122 random bits (uuid.h)
//   uuidv7     48-bit Unix ms + a counter + random bits (uuid.h)
//   objectid   MongoDB's 4-byte seconds, 5-byte process random, 3-byte counter (object_id.h)
//   ksuid      Segment's 4-byte seconds since 2014-05-13 + 16 random bytes (ksuid.h)
//   flake128   64-bit Unix ms, 48-bit worker, 16-bit sequence (flake128.h)
//
// The time-ordered generators (ULID, UUIDv7, ObjectId, flake-128) run on the
// Snowflake core (generator.h): the same time model, the same lead and wait
// policy, the same refusal after fork(). Each is strictly increasing in the order
// its calls take effect, across threads.
//
// Thread safety: pure functions and immutable values.
#ifndef IDFORGE_FORMATS_H_
#define IDFORGE_FORMATS_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "idforge/result.h"

namespace idforge {

enum class Format : std::uint8_t { snowflake, ulid, uuidv4, uuidv7, objectid, ksuid, flake128 };

// The format's name as the CLI and the service spell it ("uuidv7").
std::string_view to_string(Format format);
// Every format, in declaration order.
std::span<const Format> all_formats();
// Parses a format name; invalid_argument lists the names.
Result<Format> parse_format(std::string_view name);

// The time policy of a time-ordered wide-format generator (see GeneratorOptions for
// the meaning of each; the tick is the format's own: 1 ms, or 1 s for ObjectId).
struct TimePolicy {
  // How far stamps may run ahead of the wall clock. Default: 1000. Valid: 0 to 86,400,000.
  std::int64_t max_lead_ms = 1000;
  // How long one call may wait for the clock before it fails. Default: 1000. Valid: 0 to 3,600,000.
  std::int64_t max_wait_ms = 1000;
  // For a generator with a reservation (flake-128): whether a call may extend it
  // itself (GeneratorOptions::extend_on_demand). Default: true.
  bool extend_on_demand = true;
};

}  // namespace idforge

#endif  // IDFORGE_FORMATS_H_
