// SPDX-License-Identifier: Apache-2.0
#include "idforge/uuid.h"

#include <algorithm>

#include "formats/bytes.h"
#include "formats/stamps.h"

namespace idforge {
namespace {

using detail::not_a;

// Where the dashes stand in the text form; the 32 hex digits fill the rest.
constexpr std::array<std::size_t, 4> kDashes = {8, 13, 18, 23};

// The stamp layout: Unix ms (47 bits: until the year 6429) and a 15-bit sequence
// (added to a start below 2^15).
constexpr std::string_view kStampSpec = "time:47-seq:15/tick=1ms/epoch=0";

std::string version_name(int version) { return "a version-" + std::to_string(version) + " UUID"; }

}  // namespace

std::int64_t Uuid::v7_unix_ms() const { return static_cast<std::int64_t>(detail::load_be(bytes.data(), 6)); }

Uuid Uuid::v4(Random& random) {
  Uuid u;
  random.fill(u.bytes);
  u.bytes[6] = static_cast<std::uint8_t>(0x40 | (u.bytes[6] & 0x0f));
  u.bytes[8] = static_cast<std::uint8_t>(0x80 | (u.bytes[8] & 0x3f));
  return u;
}

char* format_to(const Uuid& uuid, char* out) {
  const std::span<const std::uint8_t> bytes(uuid.bytes);
  detail::hex_to(bytes.subspan<0, 4>(), out);
  detail::hex_to(bytes.subspan<4, 2>(), out + 9);
  detail::hex_to(bytes.subspan<6, 2>(), out + 14);
  detail::hex_to(bytes.subspan<8, 2>(), out + 19);
  detail::hex_to(bytes.subspan<10, 6>(), out + 24);
  for (std::size_t d : kDashes) out[d] = '-';
  return out + kUuidTextLength;
}

std::string to_string(const Uuid& uuid) { return detail::text_of(uuid, kUuidTextLength); }

Result<Uuid> parse_uuid(std::string_view text, std::optional<int> version) {
  if (text.size() != kUuidTextLength) {
    return Error(Errc::invalid_argument, not_a("a UUID", text, detail::wrong_length(text.size(), kUuidTextLength)));
  }
  for (std::size_t d : kDashes) {
    if (text[d] != '-') {
      return Error(Errc::invalid_argument,
                   not_a("a UUID", text, "expected the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"));
    }
  }
  using detail::load_le, detail::store_le, detail::unhex8;
  const char* t = text.data();
  bool ok = true;
  Uuid u;
  store_le(unhex8(load_le(t, 8), ok), &u.bytes[0], 4);
  store_le(unhex8(load_le(t + 9, 4) | load_le(t + 14, 4) << 32, ok), &u.bytes[4], 4);
  store_le(unhex8(load_le(t + 19, 4) | load_le(t + 24, 4) << 32, ok), &u.bytes[8], 4);
  store_le(unhex8(load_le(t + 28, 8), ok), &u.bytes[12], 4);
  if (!ok) {
    for (std::size_t at = 0; at < text.size(); ++at) {
      if (!detail::is_hex_digit(text[at]) && std::find(kDashes.begin(), kDashes.end(), at) == kDashes.end()) {
        return Error(Errc::invalid_argument, not_a("a UUID", text, detail::bad_char(text, at, "a hex digit")));
      }
    }
  }
  if (version && u.version() != *version) {
    return Error(Errc::invalid_argument, not_a(version_name(*version), text,
                                               "its version is " + std::to_string(u.version())));
  }
  if (version && !u.rfc_variant()) {
    return Error(Errc::invalid_argument,
                 not_a(version_name(*version), text, "its variant is not RFC 9562's (binary 10)"));
  }
  return u;
}

UuidV7Generator::UuidV7Generator(std::unique_ptr<detail::Stamps> stamps, Random& random)
    : stamps_(std::move(stamps)), secrets_(std::make_unique<detail::TickSecrets>(random)), random_(random) {}

UuidV7Generator::~UuidV7Generator() = default;

Result<std::unique_ptr<UuidV7Generator>> UuidV7Generator::create(const TimePolicy& policy, Clock& clock,
                                                                 Random& random) {
  Result<std::unique_ptr<detail::Stamps>> stamps = detail::Stamps::create(kStampSpec, policy, clock, nullptr);
  if (!stamps) return stamps.error();
  return std::unique_ptr<UuidV7Generator>(new UuidV7Generator(std::move(*stamps), random));
}

Result<Uuid> UuidV7Generator::next() {
  Result<detail::Stamp> stamp = stamps_->next();
  if (!stamp) return stamp.error();
  const std::array<std::uint8_t, 16> secret = secrets_->at(stamp->tick_unix_ms);
  const std::uint64_t start = detail::load_be(secret.data(), 2) & 0x7fff;
  const std::uint64_t counter = start + stamp->sequence;  // < 2^16
  Uuid u;
  random_.fill(std::span(u.bytes).subspan(8));
  detail::store_be(static_cast<std::uint64_t>(stamp->tick_unix_ms), u.bytes.data(), 6);
  u.bytes[6] = static_cast<std::uint8_t>(0x70 | (counter >> 12));
  u.bytes[7] = static_cast<std::uint8_t>(counter >> 4);
  u.bytes[8] = static_cast<std::uint8_t>(0x80 | (counter & 0x0f) << 2 | (u.bytes[8] & 0x03));
  return u;
}

}  // namespace idforge
