// SPDX-License-Identifier: Apache-2.0
// ObjectId: MongoDB's 12-byte ObjectId (mongodb/specifications, bson-objectid).
//
//   4-byte big-endian Unix seconds | 5-byte random value of the process | 3-byte counter
//
// Text is 24 hex digits, written lowercase; parsing accepts either case and
// nothing else. The seconds are unsigned, so ObjectIds reach 2106-02-07.
//
// ObjectIdGenerator draws its 5-byte value and its counter's random start when it
// is created, and counts up from that start within each second, wrapping from
// 0xffffff to 0. The spec lets the counter run on across seconds, which repeats an
// ObjectId once a process makes more than 2^24 in one second (the spec says so);
// here a second holds at most 2^24 and then stamps lead into the next second,
// under TimePolicy like every time-ordered generator. A generator refuses to run
// in a child after fork() (lease_lost): create one in the child, which draws a new
// random value, as the spec requires.
//
// Thread safety: ObjectId is a value; ObjectIdGenerator::next() may be called from
// many threads at once. Within one second its ObjectIds are distinct but, like
// every ObjectId, ordered only by the second (the counter wraps).
//
// Example:
//
//   idforge::SystemClock clock;
//   auto ids = idforge::ObjectIdGenerator::create({}, clock, idforge::SystemRandom::instance());
//   idforge::Result<idforge::ObjectId> id = (*ids)->next();
#ifndef IDFORGE_OBJECT_ID_H_
#define IDFORGE_OBJECT_ID_H_

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

inline constexpr std::size_t kObjectIdTextLength = 24;

struct ObjectId {
  std::array<std::uint8_t, 12> bytes{};

  // The timestamp, seconds since the Unix epoch (unsigned 32 bits).
  std::int64_t unix_seconds() const;

  friend auto operator<=>(const ObjectId&, const ObjectId&) = default;
};

// Writes the 24 lowercase hex digits; returns the end.
char* format_to(const ObjectId& id, char* out);
std::string to_string(const ObjectId& id);

// Parses 24 hex digits of either case; invalid_argument otherwise.
Result<ObjectId> parse_object_id(std::string_view text);

class ObjectIdGenerator {
 public:
  // REQUIRES: `clock` outlives the generator. Fails with invalid_argument for a
  // policy out of range.
  static Result<std::unique_ptr<ObjectIdGenerator>> create(const TimePolicy& policy, Clock& clock, Random& random);
  ~ObjectIdGenerator();

  Result<ObjectId> next();

 private:
  explicit ObjectIdGenerator(std::unique_ptr<detail::Stamps> stamps);

  std::unique_ptr<detail::Stamps> stamps_;
  ObjectId base_;  // The process's random value in bytes 4-8; the rest is filled per ID.
  std::uint32_t counter_start_ = 0;
};

}  // namespace idforge

#endif  // IDFORGE_OBJECT_ID_H_
