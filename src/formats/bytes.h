// SPDX-License-Identifier: Apache-2.0
// Private: byte and hex helpers the wide formats share.
#ifndef IDFORGE_SRC_FORMATS_BYTES_H_
#define IDFORGE_SRC_FORMATS_BYTES_H_

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "idforge/result.h"

namespace idforge::detail {

__extension__ typedef unsigned __int128 u128;

// Little-endian loads and stores of `n` <= 8 bytes, whatever the machine's byte
// order: byte k of memory is bits [8k, 8k+8) of the value.
inline std::uint64_t load_le(const void* in, std::size_t n) {
  std::uint64_t v = 0;
  std::memcpy(&v, in, n);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}
inline void store_le(std::uint64_t v, void* out, std::size_t n) {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  std::memcpy(out, &v, n);
}

// `byte` in each of a word's 8 bytes.
constexpr std::uint64_t each_byte(std::uint8_t byte) { return 0x0101010101010101u * byte; }

// The 4 bytes of 8 hex characters of either case, both as words; `ok` is cleared
// when a character is not a hex digit. The range tests are byte-wise: for b below
// 0x80, b + (0x80 - lo) sets bit 7 exactly when b >= lo, and no carry crosses bytes.
inline std::uint32_t unhex8(std::uint64_t chars, bool& ok) {
  const std::uint64_t lower = chars | each_byte(0x20);
  const std::uint64_t digit = (chars + each_byte(0x80 - '0')) & ~(chars + each_byte(0x7f - '9'));
  const std::uint64_t letter = (lower + each_byte(0x80 - 'a')) & ~(lower + each_byte(0x7f - 'f'));
  ok &= (chars & each_byte(0x80)) == 0 && ((digit | letter) & each_byte(0x80)) == each_byte(0x80);
  const std::uint64_t n = (chars & each_byte(0x0f)) + (letter >> 7 & each_byte(1)) * 9;
  std::uint64_t b = (n << 4 & 0x00f000f000f000f0u) | (n >> 8 & 0x000f000f000f000fu);
  b = (b | b >> 8) & 0x0000ffff0000ffffu;
  return static_cast<std::uint32_t>(b | b >> 16);
}

// Each byte's two lowercase hex digits. (A table beats word-wide arithmetic for
// text: one load and one 2-byte store per byte.)
extern const std::array<std::array<char, 2>, 256> kHexPairs;

// Writes `bytes` as lowercase hex (2 characters each) at `out`; returns the end.
inline char* hex_to(std::span<const std::uint8_t> bytes, char* out) {
  for (std::uint8_t b : bytes) {
    std::memcpy(out, kHexPairs[b].data(), 2);
    out += 2;
  }
  return out;
}

// Reads 2 × out.size() hex digits of either case from `text` into `out`; false
// when one is not a hex digit. REQUIRES: text.size() == 2 * out.size(), a multiple of 8.
inline bool parse_hex(std::string_view text, std::span<std::uint8_t> out) {
  bool ok = true;
  for (std::size_t i = 0; i < out.size(); i += 4) store_le(unhex8(load_le(text.data() + 2 * i, 8), ok), out.data() + i, 4);
  return ok;
}

// Whether `c` is a hex digit of either case.
constexpr bool is_hex_digit(char c) {
  const char lower = static_cast<char>(c | 0x20);
  return (c >= '0' && c <= '9') || (lower >= 'a' && lower <= 'f');
}

// Why `text` is not `what`, a hex ID of `length` characters. REQUIRES: it is not.
Error hex_id_error(std::string_view text, std::size_t length, std::string_view what);

// Big-endian stores and loads of the low `n` (1 to 8) bytes of a value.
inline void store_be(std::uint64_t value, std::uint8_t* out, std::size_t n) {
  store_le(__builtin_bswap64(value << (64 - 8 * n)), out, n);
}
inline std::uint64_t load_be(const std::uint8_t* in, std::size_t n) {
  return __builtin_bswap64(load_le(in, n)) >> (64 - 8 * n);
}

// "'<text>' is not <what>: <why>" (`what` with its article: "a ULID"), with the
// text shortened when long and control characters shown as '?'.
std::string not_a(std::string_view what, std::string_view text, std::string_view why);

// A value's text of `length` characters, as its format_to writes it.
template <class T>
std::string text_of(const T& value, std::size_t length) {
  std::string s(length, '\0');
  format_to(value, s.data());
  return s;
}

// Parses `text` as exactly 2 × out.size() hex digits of either case, or fails with
// invalid_argument saying it is not `what` ("an ObjectId") and why.
// REQUIRES: out.size() is a multiple of 4.
inline Result<void> parse_hex_id(std::string_view text, std::span<std::uint8_t> out, std::string_view what) {
  if (text.size() == 2 * out.size() && parse_hex(text, out)) return {};
  return hex_id_error(text, 2 * out.size(), what);
}

// "it is <got> characters long, not <want>".
std::string wrong_length(std::size_t got, std::size_t want);

// "character <at + 1> ('<c>') is not <expected>".
std::string bad_char(std::string_view text, std::size_t at, std::string_view expected);

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_FORMATS_BYTES_H_
