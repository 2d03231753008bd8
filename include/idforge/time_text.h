// SPDX-License-Identifier: Apache-2.0
// ISO-8601 UTC text for instants: the one format idforge prints times in.
//
// Every int64 count of Unix milliseconds prints, and prints one way:
//   - years 0000–9999 (every instant an idforge layout can stamp) as RFC 3339's
//     `YYYY-MM-DDTHH:MM:SS.mmmZ`, 24 characters;
//   - any other year in ISO 8601's expanded form, with a sign and at least six
//     digits, as ECMAScript's Date.prototype.toISOString writes it:
//     `+010889-08-02T05:31:50.655Z` (the largest ULID), `-000001-12-31T…Z`.
//     Only IDs taken from input (a ULID or flake-128 read from text) carry such years.
//
// Parsing is strict and accepts exactly the forms printing gives, plus two shorter
// RFC 3339 ones: `YYYY-MM-DD` (midnight UTC) and `YYYY-MM-DDTHH:MM:SSZ`. Anything
// else — a time zone offset, a missing `Z`, day 31 of April, a leap second, an
// expanded year that fits four digits, an instant outside int64 milliseconds — is
// invalid_argument. parse_utc_ms(format_utc_ms(ms)) == ms for every int64 ms.
//
// Example:
//
//   std::string text = idforge::format_utc_ms(1462015105796);  // "2016-04-30T11:18:25.796Z"
//   idforge::Result<std::int64_t> ms = idforge::parse_utc_ms("2016-04-30");
#ifndef IDFORGE_TIME_TEXT_H_
#define IDFORGE_TIME_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "idforge/result.h"

namespace idforge {

// The length of format_utc_ms()'s output for years 0000–9999.
inline constexpr std::size_t kUtcTextLength = 24;
// The longest output: a sign, nine digits of year (int64 ms reach the year
// 292,278,994) and the rest.
inline constexpr std::size_t kMaxUtcTextLength = 30;
// The instants of years 0000–9999: 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
inline constexpr std::int64_t kMinRfc3339UnixMs = -62167219200000;
inline constexpr std::int64_t kMaxRfc3339UnixMs = 253402300799999;

// Writes `unix_ms` as text (see the file comment) into `out` and returns one past
// the last character written. REQUIRES: out has kMaxUtcTextLength characters of room.
char* format_utc_ms_to(std::int64_t unix_ms, char* out);

// The same, as a string.
std::string format_utc_ms(std::int64_t unix_ms);

// Parses one of the accepted forms into Unix milliseconds.
Result<std::int64_t> parse_utc_ms(std::string_view text);

// Parses an instant given either way idforge takes one: plain digits of Unix
// milliseconds, or a form parse_utc_ms() accepts.
Result<std::int64_t> parse_instant(std::string_view text);

}  // namespace idforge

#endif  // IDFORGE_TIME_TEXT_H_
