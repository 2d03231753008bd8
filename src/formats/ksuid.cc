#include "idforge/ksuid.h"

#include "core/text.h"
#include "formats/bytes.h"

namespace idforge {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

constexpr std::array<std::uint8_t, 256> kValue = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (std::uint8_t i = 0; i < 62; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = i;
  return t;
}();

// The text is converted five digits at a time: 62^5 fits in 32 bits, so each step
// is one pass of 64-by-32-bit arithmetic over the five 32-bit words.
constexpr std::uint64_t kChunk = 62ULL * 62 * 62 * 62 * 62;
constexpr std::size_t kWords = 5;
using Words = std::array<std::uint32_t, kWords>;  // Most significant first.

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
  Words w;
  for (std::size_t i = 0; i < kWords; ++i) w[i] = static_cast<std::uint32_t>(detail::load_be(ksuid.bytes.data() + 4 * i, 4));
  std::size_t end = kKsuidTextLength;
  std::size_t top = 0;  // Words above `top` are zero.
  while (end > 0) {
    std::uint64_t rem = 0;
    for (std::size_t i = top; i < kWords; ++i) {
      const std::uint64_t cur = rem << 32 | w[i];
      w[i] = static_cast<std::uint32_t>(cur / kChunk);
      rem = cur % kChunk;
    }
    while (top < kWords && w[top] == 0) ++top;
    for (int d = 0; d < 5 && end > 0; ++d) {
      out[--end] = kAlphabet[rem % 62];
      rem /= 62;
    }
  }
  return out + kKsuidTextLength;
}

std::string to_string(const Ksuid& ksuid) { return detail::text_of(ksuid, kKsuidTextLength); }

Result<Ksuid> parse_ksuid(std::string_view text) {
  if (text.size() != kKsuidTextLength) {
    return Error(Errc::invalid_argument,
                 detail::not_a("a KSUID", text, detail::wrong_length(text.size(), kKsuidTextLength)));
  }
  Words w{};
  // 27 digits: a first chunk of 2, then five of 5.
  for (std::size_t at = 0, len = 2; at < kKsuidTextLength; at += len, len = 5) {
    std::uint64_t chunk = 0;
    std::uint64_t scale = 1;
    for (std::size_t i = at; i < at + len; ++i) {
      const std::uint8_t d = kValue[static_cast<unsigned char>(text[i])];
      if (d == 0xff) {
        return Error(Errc::invalid_argument,
                     detail::not_a("a KSUID", text, detail::bad_char(text, i, "base62 (0-9, A-Z, a-z)")));
      }
      chunk = chunk * 62 + d;
      scale *= 62;
    }
    std::uint64_t carry = chunk;
    for (std::size_t i = kWords; i-- > 0;) {
      const std::uint64_t cur = std::uint64_t{w[i]} * scale + carry;
      w[i] = static_cast<std::uint32_t>(cur);
      carry = cur >> 32;
    }
    if (carry != 0) {
      return Error(Errc::invalid_argument,
                   detail::not_a("a KSUID", text, "it is above aWgEPTl1tmebfsQzFP4bxwgy80V, the largest KSUID"));
    }
  }
  Ksuid k;
  for (std::size_t i = 0; i < kWords; ++i) detail::store_be(w[i], k.bytes.data() + 4 * i, 4);
  return k;
}

Result<Ksuid> KsuidGenerator::next() {
  return Ksuid::random(detail::floor_div(clock_.wall_ns(), 1'000'000'000), random_);
}

}  // namespace idforge
