// SPDX-License-Identifier: Apache-2.0
#include "idforge/ksuid.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/text.h"
#include "formats/bytes.h"
#include "formats/stamps.h"

namespace idforge {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

constexpr std::array<std::uint8_t, 256> kValue = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (std::uint8_t i = 0; i < 62; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = i;
  return t;
}();

using detail::u128;

// The stamp layout: the KSUID's own 32-bit seconds; the sequence is only there to
// give the Generator a field (2^31 a second is never reached).
constexpr std::string_view kStampSpec = "time:32-seq:31/tick=1s/epoch=1400000000000";

// A KSUID's 160 bits as 64-bit limbs, least significant first (the top one holds 32).
using Limbs = std::array<std::uint64_t, 3>;

// The text converts ten digits at a time: 62^10 < 2^60.
constexpr std::uint64_t kTen = 839'299'365'868'340'224;  // 62^10
constexpr std::uint64_t kSix = 56'800'235'584;            // 62^6

// Division by 62^10 without a divide instruction (Möller and Granlund, "Improved
// division by invariant integers", 2011): the divisor is shifted until its top bit
// is set, and a precomputed reciprocal turns each 128-by-64-bit step into two
// multiplications and two corrections. The dividend is shifted by the same amount,
// which leaves quotients unchanged and scales remainders.
constexpr int kShift = std::countl_zero(kTen);
constexpr std::uint64_t kNorm = kTen << kShift;
constexpr std::uint64_t kReciprocal = static_cast<std::uint64_t>(~u128{0} / kNorm);  // minus 2^64, implicitly

// Divides (high:low) by kNorm; returns the quotient and leaves the remainder in
// `high`. REQUIRES: high < kNorm.
std::uint64_t divide_step(std::uint64_t& high, std::uint64_t low) {
  const u128 q = u128{kReciprocal} * high + (u128{high} << 64 | low);
  std::uint64_t quotient = static_cast<std::uint64_t>(q >> 64) + 1;
  std::uint64_t rem = low - quotient * kNorm;
  if (rem > static_cast<std::uint64_t>(q)) {
    --quotient;
    rem += kNorm;
  }
  if (rem >= kNorm) {
    ++quotient;
    rem -= kNorm;
  }
  high = rem;
  return quotient;
}

// Divides `n` (below 2^(192 - kShift)) by 62^10 in place; returns the remainder.
std::uint64_t divide_by_ten_digits(Limbs& n) {
  std::uint64_t rem = 0;
  for (std::size_t i = n.size(); i-- > 0;) {
    const std::uint64_t shifted = n[i] << kShift | (i > 0 ? n[i - 1] >> (64 - kShift) : 0);
    n[i] = divide_step(rem, shifted);
  }
  return rem >> kShift;
}

// Each value below 62^2 as its two digits.
constexpr std::array<std::array<char, 2>, 62 * 62> kPairs = [] {
  std::array<std::array<char, 2>, 62 * 62> t{};
  for (std::size_t v = 0; v < t.size(); ++v) t[v] = {kAlphabet[v / 62], kAlphabet[v % 62]};
  return t;
}();

// Writes the lowest 2 × `pairs` base62 digits of `v` ending at `end`.
void pairs_to(std::uint64_t v, char* end, int pairs) {
  for (int i = 0; i < pairs; ++i, v /= 62 * 62) std::memcpy(end - 2 * (i + 1), kPairs[v % (62 * 62)].data(), 2);
}

// Writes the `count` (10 or 7) base62 digits of `v` ending at `end`, as two
// independent runs: the low six digits and the rest.
void chunk_to(std::uint64_t v, char* end, int count) {
  pairs_to(v % kSix, end, 3);
  if (count == 10) {
    pairs_to(v / kSix, end - 6, 2);
  } else {
    end[-7] = kAlphabet[v / kSix];
  }
}

// The value of `count` base62 digits at `text`; `seen` collects each digit's value
// (0xff when invalid), two digits at a time so the chain of multiplications is short.
std::uint64_t chunk_value(const unsigned char* text, std::size_t count, std::uint8_t& seen) {
  std::uint64_t v = 0;
  std::size_t i = 0;
  if (count % 2) {
    v = kValue[text[0]];
    seen |= static_cast<std::uint8_t>(v);
    i = 1;
  }
  for (; i < count; i += 2) {
    const std::uint8_t a = kValue[text[i]];
    const std::uint8_t b = kValue[text[i + 1]];
    seen |= a | b;
    v = v * (62 * 62) + a * 62u + b;
  }
  return v;
}

}  // namespace

std::int64_t Ksuid::unix_seconds() const {
  return kKsuidEpochUnixSeconds + static_cast<std::int64_t>(detail::load_be(bytes.data(), 4));
}

Result<Ksuid> Ksuid::random(std::int64_t unix_seconds, Random& random) {
  const std::int64_t offset = unix_seconds - kKsuidEpochUnixSeconds;
  if (offset < 0 || offset > 0xffffffffLL) {
    return Error(Errc::invalid_argument,
                 detail::cat("a KSUID's time must be ", kKsuidEpochUnixSeconds, " to ", kKsuidEpochUnixSeconds + 0xffffffffLL,
                             " Unix seconds (2014-05-13 to 2150-06-19), not ", unix_seconds));
  }
  Ksuid k;
  detail::store_be(static_cast<std::uint64_t>(offset), k.bytes.data(), 4);
  random.fill(std::span(k.bytes).subspan(4));
  return k;
}

char* format_to(const Ksuid& ksuid, char* out) {
  Limbs n = {detail::load_be(ksuid.bytes.data() + 12, 8), detail::load_be(ksuid.bytes.data() + 4, 8),
             detail::load_be(ksuid.bytes.data(), 4)};
  // 27 digits: ten, ten, and the seven left (62^27 > 2^160).
  chunk_to(divide_by_ten_digits(n), out + 27, 10);
  chunk_to(divide_by_ten_digits(n), out + 17, 10);
  chunk_to(n[0], out + 7, 7);
  return out + kKsuidTextLength;
}

std::string to_string(const Ksuid& ksuid) { return detail::text_of(ksuid, kKsuidTextLength); }

Result<Ksuid> parse_ksuid(std::string_view text) {
  if (text.size() != kKsuidTextLength) {
    return Error(Errc::invalid_argument,
                 detail::not_a("a KSUID", text, detail::wrong_length(text.size(), kKsuidTextLength)));
  }
  // 27 digits: seven, ten and ten; invalid ones read as 0xff, which sets bits no
  // digit's value (below 64) has.
  const unsigned char* t = reinterpret_cast<const unsigned char*>(text.data());
  std::uint8_t seen = 0;
  const std::uint64_t top = chunk_value(t, 7, seen);
  const std::uint64_t middle = chunk_value(t + 7, 10, seen);
  const std::uint64_t low = chunk_value(t + 17, 10, seen);
  if (seen & 0xc0) {
    const std::size_t bad = static_cast<std::size_t>(
        std::find_if(text.begin(), text.end(), [](char c) { return kValue[static_cast<unsigned char>(c)] == 0xff; }) -
        text.begin());
    return Error(Errc::invalid_argument,
                 detail::not_a("a KSUID", text, detail::bad_char(text, bad, "base62 (0-9, A-Z, a-z)")));
  }
  // (top · 62^10 + middle) · 62^10 + low, in 128-bit steps.
  const u128 upper = u128{top} * kTen + middle;  // Below 2^102.
  const u128 lo = u128{static_cast<std::uint64_t>(upper)} * kTen + low;
  const u128 hi = (upper >> 64) * kTen + static_cast<std::uint64_t>(lo >> 64);
  if (hi >> 96 != 0) {
    return Error(Errc::invalid_argument,
                 detail::not_a("a KSUID", text, "it is above aWgEPTl1tmebfsQzFP4bxwgy80V, the largest KSUID"));
  }
  Ksuid k;
  detail::store_be(static_cast<std::uint64_t>(hi >> 64), k.bytes.data(), 4);
  detail::store_be(static_cast<std::uint64_t>(hi), k.bytes.data() + 4, 8);
  detail::store_be(static_cast<std::uint64_t>(lo), k.bytes.data() + 12, 8);
  return k;
}

KsuidGenerator::KsuidGenerator(std::unique_ptr<detail::Stamps> stamps, Random& random)
    : stamps_(std::move(stamps)), random_(random) {}

KsuidGenerator::~KsuidGenerator() = default;

Result<std::unique_ptr<KsuidGenerator>> KsuidGenerator::create(const TimePolicy& policy, Clock& clock,
                                                               Random& random) {
  Result<std::unique_ptr<detail::Stamps>> stamps = detail::Stamps::create(kStampSpec, policy, clock, nullptr);
  if (!stamps) return stamps.error();
  return std::unique_ptr<KsuidGenerator>(new KsuidGenerator(std::move(*stamps), random));
}

Result<Ksuid> KsuidGenerator::next() {
  Result<detail::Stamp> stamp = stamps_->next();
  if (!stamp) return stamp.error();
  return Ksuid::random(stamp->tick_unix_ms / 1000, random_);
}

}  // namespace idforge
