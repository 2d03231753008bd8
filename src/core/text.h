// SPDX-License-Identifier: Apache-2.0
// Private helpers for building messages and reading numbers strictly.
#ifndef IDFORGE_SRC_CORE_TEXT_H_
#define IDFORGE_SRC_CORE_TEXT_H_

#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace idforge::detail {

inline void append(std::string& out, std::string_view s) { out.append(s); }
inline void append(std::string& out, const char* s) { out.append(s); }
inline void append(std::string& out, const std::string& s) { out.append(s); }
inline void append(std::string& out, char c) { out.push_back(c); }
template <std::integral T>
void append(std::string& out, T value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

// Concatenates strings, characters and integers into one message.
template <class... Args>
std::string cat(const Args&... args) {
  std::string out;
  (append(out, args), ...);
  return out;
}

// Parses a whole string of ASCII digits (no sign, no space, no leading '+') into an
// unsigned 64-bit value; nullopt on anything else or on overflow.
inline std::optional<std::uint64_t> parse_digits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// The same for a signed value that must fit in int64 (still no sign accepted).
inline std::optional<std::int64_t> parse_nonnegative(std::string_view text) {
  auto v = parse_digits(text);
  if (!v || *v > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

// Lower-case hex without leading zeros ("2040a231edfdad05"), as etcdctl prints IDs.
inline std::string hex_u64(std::uint64_t value) {
  char text[17];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, value, 16);
  return std::string(text, end);
}

// Parses 1 to 16 hex digits (hex_u64's form, either case); nullopt on anything else.
inline std::optional<std::uint64_t> parse_hex_u64(std::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// Rounds toward negative infinity. REQUIRES: b > 0.
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// 64-bit FNV-1a, for checksums and short stable names.
inline std::uint64_t fnv1a64(std::string_view data) {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_CORE_TEXT_H_
