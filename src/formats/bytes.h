// Private: byte and hex helpers the wide formats share.
#ifndef IDFORGE_SRC_FORMATS_BYTES_H_
#define IDFORGE_SRC_FORMATS_BYTES_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "idforge/result.h"

namespace idforge::detail {

// Writes `bytes` as lowercase hex (2 characters each) at `out`; returns the end.
char* hex_to(std::span<const std::uint8_t> bytes, char* out);

// Reads 2 × out.size() hex digits of either case from `text` into `out`. Returns
// the index of the first character that is not a hex digit, or -1 when all are.
// REQUIRES: text.size() == 2 * out.size().
int parse_hex(std::string_view text, std::span<std::uint8_t> out);

// Big-endian stores and loads of the low `n` bytes of a value.
inline void store_be(std::uint64_t value, std::uint8_t* out, int n) {
  for (int i = n - 1; i >= 0; --i, value >>= 8) out[i] = static_cast<std::uint8_t>(value);
}
inline std::uint64_t load_be(const std::uint8_t* in, int n) {
  std::uint64_t value = 0;
  for (int i = 0; i < n; ++i) value = (value << 8) | in[i];
  return value;
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
Result<void> parse_hex_id(std::string_view text, std::span<std::uint8_t> out, std::string_view what);

// "it is <got> characters long, not <want>".
std::string wrong_length(std::size_t got, std::size_t want);

// "character <at + 1> ('<c>') is not <expected>".
std::string bad_char(std::string_view text, std::size_t at, std::string_view expected);

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_FORMATS_BYTES_H_
