// SPDX-License-Identifier: Apache-2.0
#include "formats/bytes.h"

#include <algorithm>
#include <string>

namespace idforge::detail {

constexpr std::array<std::array<char, 2>, 256> kHexPairs = [] {
  constexpr char kDigits[] = "0123456789abcdef";
  std::array<std::array<char, 2>, 256> t{};
  for (std::size_t b = 0; b < 256; ++b) t[b] = {kDigits[b >> 4], kDigits[b & 15]};
  return t;
}();
std::string not_a(std::string_view what, std::string_view text, std::string_view why) {
  constexpr std::size_t kShown = 60;
  std::string shown(text.substr(0, kShown));
  if (text.size() > kShown) shown += "…";
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return std::string("'").append(shown).append("' is not ").append(what).append(": ").append(why);
}

Error hex_id_error(std::string_view text, std::size_t length, std::string_view what) {
  if (text.size() != length) return Error(Errc::invalid_argument, not_a(what, text, wrong_length(text.size(), length)));
  const std::size_t bad = static_cast<std::size_t>(std::find_if_not(text.begin(), text.end(), is_hex_digit) - text.begin());
  return Error(Errc::invalid_argument, not_a(what, text, bad_char(text, bad, "a hex digit")));
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
