// ISO-8601 UTC text for instants: the one format idforge prints times in.
//
// Printing always gives `YYYY-MM-DDTHH:MM:SS.mmmZ` (24 characters, years 0000–9999).
// Parsing is strict and accepts exactly three forms: `YYYY-MM-DD` (midnight UTC),
// `YYYY-MM-DDTHH:MM:SSZ` and `YYYY-MM-DDTHH:MM:SS.mmmZ`. Anything else — a time zone
// offset, a missing `Z`, day 31 of April, a leap second — is invalid_argument.
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

// The length of format_utc_ms()'s output.
inline constexpr std::size_t kUtcTextLength = 24;
// The instants format_utc_ms() can print: 0000-01-01 to 9999-12-31T23:59:59.999Z.
inline constexpr std::int64_t kMinPrintableUnixMs = -62167219200000;
inline constexpr std::int64_t kMaxPrintableUnixMs = 253402300799999;

// Writes `unix_ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ` into `out` and returns one past the
// last character written. REQUIRES: out has kUtcTextLength characters of room and
// kMinPrintableUnixMs <= unix_ms <= kMaxPrintableUnixMs.
char* format_utc_ms_to(std::int64_t unix_ms, char* out);

// The same, as a string.
std::string format_utc_ms(std::int64_t unix_ms);

// Parses one of the three accepted forms into Unix milliseconds.
Result<std::int64_t> parse_utc_ms(std::string_view text);

}  // namespace idforge

#endif  // IDFORGE_TIME_TEXT_H_
