// SPDX-License-Identifier: Apache-2.0
// Text forms of 64-bit IDs: decimal, hex, base62, Crockford base32 and base58.
//
// Every form except base58 has a fixed width and sorts like the number, so IDs
// keep their time order as strings:
//
//   decimal  canonical decimal (no sign, no leading zeros), 1–20 digits
//   hex      16 lowercase hex digits, zero-padded (either case is accepted)
//   base62   11 characters of 0-9A-Za-z, zero-padded (ASCII order = numeric order)
//   base32   13 characters of Crockford's alphabet 0-9A-Z minus I, L, O, U,
//            zero-padded, uppercase (either case is accepted)
//   base58   Bitcoin's alphabet, shortest form (no leading '1' except "1" for 0)
//
// Parsing is strict: wrong length, a character outside the alphabet (Crockford's
// I/L/O aliases included), a non-canonical form or a value above 2^64−1 is
// invalid_argument with the reason. Encoders write into the caller's buffer and
// never allocate.
//
// Thread safety: all functions are pure.
//
// Example:
//
//   char buf[idforge::kMaxEncodedLength];
//   char* end = idforge::encode_to(175928847299117063, idforge::Encoding::base62, buf);
//   idforge::Result<std::uint64_t> id =
//       idforge::parse_id({buf, static_cast<std::size_t>(end - buf)}, idforge::Encoding::base62);
#ifndef IDFORGE_ENCODING_H_
#define IDFORGE_ENCODING_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "idforge/result.h"

namespace idforge {

enum class Encoding : std::uint8_t { decimal, hex, base62, base32, base58 };

// The longest text any encoding produces for a 64-bit value (decimal's 20 digits).
inline constexpr std::size_t kMaxEncodedLength = 20;

// The shortest and longest text an encoding writes and parse_id() accepts.
struct TextWidth {
  std::size_t min = 0;
  std::size_t max = 0;
};
TextWidth text_width(Encoding encoding);

// The encoding's name as the CLI and the service spell it: dec, hex, base62, base32, base58.
std::string_view to_string(Encoding encoding);

// Every encoding, in declaration order.
std::span<const Encoding> all_encodings();

// Parses an encoding name (as to_string prints it); invalid_argument lists the names.
Result<Encoding> parse_encoding(std::string_view name);

// Writes `value` in `encoding` at `out` and returns one past the last character.
// REQUIRES: out has kMaxEncodedLength characters of room.
char* encode_to(std::uint64_t value, Encoding encoding, char* out);

// The same, as a string.
std::string encode(std::uint64_t value, Encoding encoding);

// Parses `text` strictly as `encoding`.
Result<std::uint64_t> parse_id(std::string_view text, Encoding encoding);

}  // namespace idforge

#endif  // IDFORGE_ENCODING_H_
