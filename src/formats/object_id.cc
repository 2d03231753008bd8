// SPDX-License-Identifier: Apache-2.0
#include "idforge/object_id.h"

#include "formats/bytes.h"
#include "formats/stamps.h"

namespace idforge {
namespace {

constexpr std::string_view kStampSpec = "time:32-seq:24/tick=1s/epoch=0";

}  // namespace

std::int64_t ObjectId::unix_seconds() const { return static_cast<std::int64_t>(detail::load_be(bytes.data(), 4)); }

char* format_to(const ObjectId& id, char* out) { return detail::hex_to(id.bytes, out); }

std::string to_string(const ObjectId& id) { return detail::text_of(id, kObjectIdTextLength); }

Result<ObjectId> parse_object_id(std::string_view text) {
  ObjectId id;
  if (Result<void> parsed = detail::parse_hex_id(text, id.bytes, "an ObjectId"); !parsed) return parsed.error();
  return id;
}

ObjectIdGenerator::ObjectIdGenerator(std::unique_ptr<detail::Stamps> stamps) : stamps_(std::move(stamps)) {}

ObjectIdGenerator::~ObjectIdGenerator() = default;

Result<std::unique_ptr<ObjectIdGenerator>> ObjectIdGenerator::create(const TimePolicy& policy, Clock& clock,
                                                                     Random& random) {
  Result<std::unique_ptr<detail::Stamps>> stamps = detail::Stamps::create(kStampSpec, policy, clock, nullptr);
  if (!stamps) return stamps.error();
  std::unique_ptr<ObjectIdGenerator> generator(new ObjectIdGenerator(std::move(*stamps)));
  std::array<std::uint8_t, 8> seed;
  random.fill(seed);
  std::copy_n(seed.begin(), 5, generator->base_.bytes.begin() + 4);
  generator->counter_start_ = static_cast<std::uint32_t>(detail::load_be(seed.data() + 5, 3));
  return generator;
}

Result<ObjectId> ObjectIdGenerator::next() {
  Result<detail::Stamp> stamp = stamps_->next();
  if (!stamp) return stamp.error();
  ObjectId id = base_;
  detail::store_be(static_cast<std::uint64_t>(stamp->tick_unix_ms / 1000), id.bytes.data(), 4);
  detail::store_be((counter_start_ + stamp->sequence) & 0xffffff, id.bytes.data() + 9, 3);
  return id;
}

}  // namespace idforge
