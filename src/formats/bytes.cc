#include "formats/bytes.h"

#include <cstring>
#include <string>

namespace idforge::detail {
namespace {

// Each byte's two lowercase hex digits.
constexpr std::array<std::array<char, 2>, 256> kHexPairs = [] {
  constexpr char kDigits[] = "0123456789abcdef";
  std::array<std::array<char, 2>, 256> t{};
  for (std::size_t b = 0; b < 256; ++b) t[b] = {kDigits[b >> 4], kDigits[b & 15]};
  return t;
}();

// The value of each hex digit, or 0xff.
constexpr std::array<std::uint8_t, 256> kHexValue = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (int i = 0; i < 10; ++i) t[static_cast<std::size_t>('0' + i)] = static_cast<std::uint8_t>(i);
  for (int i = 0; i < 6; ++i) {
    t[static_cast<std::size_t>('a' + i)] = static_cast<std::uint8_t>(10 + i);
    t[static_cast<std::size_t>('A' + i)] = static_cast<std::uint8_t>(10 + i);
  }
  return t;
}();

}  // namespace

char* hex_to(std::span<const std::uint8_t> bytes, char* out) {
  for (std::uint8_t b : bytes) {
    std::memcpy(out, kHexPairs[b].data(), 2);
    out += 2;
  }
  return out;
}

int parse_hex(std::string_view text, std::span<std::uint8_t> out) {
  // Decode everything, then check once: an invalid digit reads as 0xff, which has
  // bits a hex digit never has.
  std::uint8_t seen = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::uint8_t hi = kHexValue[static_cast<unsigned char>(text[2 * i])];
    const std::uint8_t lo = kHexValue[static_cast<unsigned char>(text[2 * i + 1])];
    seen |= hi | lo;
    out[i] = static_cast<std::uint8_t>(hi << 4 | (lo & 15));
  }
  if ((seen & 0xf0) == 0) return -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (kHexValue[static_cast<unsigned char>(text[i])] == 0xff) return static_cast<int>(i);
  }
  return -1;
}

std::string not_a(std::string_view what, std::string_view text, std::string_view why) {
  constexpr std::size_t kShown = 60;
  std::string shown(text.substr(0, kShown));
  if (text.size() > kShown) shown += "…";
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return std::string("'").append(shown).append("' is not ").append(what).append(": ").append(why);
}

Result<void> parse_hex_id(std::string_view text, std::span<std::uint8_t> out, std::string_view what) {
  if (text.size() != 2 * out.size()) {
    return Error(Errc::invalid_argument, not_a(what, text, wrong_length(text.size(), 2 * out.size())));
  }
  if (int bad = parse_hex(text, out); bad >= 0) {
    return Error(Errc::invalid_argument,
                 not_a(what, text, bad_char(text, static_cast<std::size_t>(bad), "a hex digit")));
  }
  return {};
}

std::string wrong_length(std::size_t got, std::size_t want) {
  return "it is " + std::to_string(got) + " characters long, not " + std::to_string(want);
}

std::string bad_char(std::string_view text, std::size_t at, std::string_view expected) {
  const unsigned char c = static_cast<unsigned char>(text[at]);
  std::string shown = c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : "\\x" + [c] {
    constexpr char kHex[] = "0123456789abcdef";
    return std::string{kHex[c >> 4], kHex[c & 15]};
  }();
  return "character " + std::to_string(at + 1) + " ('" + shown + "') is not " + std::string(expected);
}

}  // namespace idforge::detail
