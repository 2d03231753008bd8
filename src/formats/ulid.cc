// SPDX-License-Identifier: Apache-2.0
#include "idforge/ulid.h"

#include "formats/bytes.h"
#include "formats/stamps.h"

namespace idforge {
namespace {

using detail::u128;

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// Each character's value (either case), or 0xff.
constexpr std::array<std::uint8_t, 256> kValue = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (std::uint8_t i = 0; i < 32; ++i) {
    const char c = kAlphabet[i];
    t[static_cast<unsigned char>(c)] = i;
    if (c >= 'A' && c <= 'Z') t[static_cast<unsigned char>(c - 'A' + 'a')] = i;
  }
  return t;
}();

constexpr std::string_view kStampSpec = "time:47-seq:15/tick=1ms/epoch=0";

void from_u128(u128 v, std::array<std::uint8_t, 16>& bytes) {
  detail::store_be(static_cast<std::uint64_t>(v >> 64), bytes.data(), 8);
  detail::store_be(static_cast<std::uint64_t>(v), bytes.data() + 8, 8);
}

}  // namespace

std::int64_t Ulid::unix_ms() const { return static_cast<std::int64_t>(detail::load_be(bytes.data(), 6)); }

Result<Ulid> Ulid::random(std::int64_t unix_ms, Random& random) {
  if (unix_ms < 0 || unix_ms > kUlidMaxUnixMs) {
    return Error(Errc::invalid_argument, "a ULID's time must be 0 to 2^48-1 Unix milliseconds, not " +
                                             std::to_string(unix_ms));
  }
  Ulid u;
  detail::store_be(static_cast<std::uint64_t>(unix_ms), u.bytes.data(), 6);
  random.fill(std::span(u.bytes).subspan(6));
  return u;
}

char* format_to(const Ulid& ulid, char* out) {
  // Character i holds bits [5(25-i), 5(25-i)+5) of the 130-bit zero-padded value;
  // with constant shifts once unrolled.
  const std::uint64_t hi = detail::load_be(ulid.bytes.data(), 8);
  const std::uint64_t lo = detail::load_be(ulid.bytes.data() + 8, 8);
  for (int i = 0; i < static_cast<int>(kUlidTextLength); ++i) {
    const int shift = 5 * (static_cast<int>(kUlidTextLength) - 1 - i);
    std::uint64_t bits;
    if (shift >= 64) {
      bits = hi >> (shift - 64);
    } else if (shift > 59) {
      bits = lo >> shift | hi << (64 - shift);
    } else {
      bits = lo >> shift;
    }
    out[i] = kAlphabet[bits & 31];
  }
  return out + kUlidTextLength;
}

std::string to_string(const Ulid& ulid) { return detail::text_of(ulid, kUlidTextLength); }

Result<Ulid> parse_ulid(std::string_view text) {
  if (text.size() != kUlidTextLength) {
    return Error(Errc::invalid_argument, detail::not_a("a ULID", text, detail::wrong_length(text.size(), 26)));
  }
  // Short independent runs, so the shifts do not wait on each other: characters
  // 0-6 (33 bits once the first is below 8), 7-12, 13, 14-19 and 20-25 (30 bits
  // each but the 5 of character 13). An invalid character reads as 0xff, which sets
  // bits no valid one has; the values are then garbage, and never used.
  const unsigned char* t = reinterpret_cast<const unsigned char*>(text.data());
  std::uint8_t seen = 0;
  auto run = [t, &seen](std::size_t from, std::size_t to) {
    std::uint64_t v = 0;
    for (std::size_t i = from; i < to; ++i) {
      const std::uint8_t d = kValue[t[i]];
      seen |= d;
      v = v << 5 | d;
    }
    return v;
  };
  const std::uint64_t top = run(0, 7) << 30 | run(7, 13);
  const std::uint64_t middle = run(13, 14);
  const std::uint64_t low = run(14, 20) << 30 | run(20, 26);
  if (seen & 0xe0) {
    for (std::size_t i = 0; i < kUlidTextLength; ++i) {
      if (kValue[static_cast<unsigned char>(text[i])] == 0xff) {
        return Error(Errc::invalid_argument, detail::not_a("a ULID", text,
                                                           detail::bad_char(text, i, "Crockford base32 (0-9, A-Z without I L O U)")));
      }
    }
  }
  if (kValue[static_cast<unsigned char>(text[0])] > 7) {
    return Error(Errc::invalid_argument,
                 detail::not_a("a ULID", text, "it is above 7ZZZZZZZZZZZZZZZZZZZZZZZZZ, the largest ULID"));
  }
  Ulid u;
  from_u128(u128{top} << 65 | u128{middle} << 60 | low, u.bytes);
  return u;
}

UlidGenerator::UlidGenerator(std::unique_ptr<detail::Stamps> stamps, Random& random)
    : stamps_(std::move(stamps)), secrets_(std::make_unique<detail::TickSecrets>(random)) {}

UlidGenerator::~UlidGenerator() = default;

Result<std::unique_ptr<UlidGenerator>> UlidGenerator::create(const TimePolicy& policy, Clock& clock,
                                                             Random& random) {
  Result<std::unique_ptr<detail::Stamps>> stamps = detail::Stamps::create(kStampSpec, policy, clock, nullptr);
  if (!stamps) return stamps.error();
  return std::unique_ptr<UlidGenerator>(new UlidGenerator(std::move(*stamps), random));
}

Result<Ulid> UlidGenerator::next() {
  Result<detail::Stamp> stamp = stamps_->next();
  if (!stamp) return stamp.error();
  const std::array<std::uint8_t, 16> secret = secrets_->at(stamp->tick_unix_ms);
  // The tick's random start: 80 secret bits with the top one cleared (the guard).
  const u128 start = (u128{detail::load_be(secret.data(), 2) & 0x7fff} << 64) | detail::load_be(secret.data() + 2, 8);
  const u128 v = (u128{static_cast<std::uint64_t>(stamp->tick_unix_ms)} << 80) | (start + stamp->sequence);
  Ulid u;
  from_u128(v, u.bytes);
  return u;
}

}  // namespace idforge
