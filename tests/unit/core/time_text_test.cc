// SPDX-License-Identifier: Apache-2.0
#include "idforge/time_text.h"

#include <gtest/gtest.h>

#include <random>

namespace idforge {
namespace {

TEST(TimeText, FormatsWithMilliseconds) {
  EXPECT_EQ(format_utc_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_utc_ms(1462015105796), "2016-04-30T11:18:25.796Z");
  EXPECT_EQ(format_utc_ms(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(format_utc_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_utc_ms(kMaxRfc3339UnixMs), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_utc_ms(kMinRfc3339UnixMs), "0000-01-01T00:00:00.000Z");
}

// Instants taken from input (the largest ULID, a flake-128 of any 64-bit time) print
// in ISO 8601's expanded form instead of stopping the process.
TEST(TimeText, FormatsEveryInt64InstantBeyondFourDigitYears) {
  EXPECT_EQ(format_utc_ms(kMaxRfc3339UnixMs + 1), "+010000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_utc_ms((std::int64_t{1} << 48) - 1), "+010889-08-02T05:31:50.655Z");
  EXPECT_EQ(format_utc_ms(kMinRfc3339UnixMs - 1), "-000001-12-31T23:59:59.999Z");
  EXPECT_EQ(format_utc_ms(INT64_MAX), "+292278994-08-17T07:12:55.807Z");
  EXPECT_EQ(format_utc_ms(INT64_MIN), "-292275055-05-16T16:47:04.192Z");
  for (std::int64_t ms : {INT64_MAX, INT64_MIN, std::int64_t{-1}, kMaxRfc3339UnixMs + 1, kMinRfc3339UnixMs - 1}) {
    EXPECT_LE(format_utc_ms(ms).size(), kMaxUtcTextLength) << ms;
    EXPECT_EQ(parse_utc_ms(format_utc_ms(ms)).value(), ms) << format_utc_ms(ms);
  }
}

TEST(TimeText, ParsesTheThreeForms) {
  EXPECT_EQ(parse_utc_ms("2016-04-30").value(), 1461974400000);
  EXPECT_EQ(parse_utc_ms("2016-04-30T11:18:25Z").value(), 1462015105000);
  EXPECT_EQ(parse_utc_ms("2016-04-30T11:18:25.796Z").value(), 1462015105796);
}

TEST(TimeText, RoundTripsRandomInstants) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> four_digit_years(kMinRfc3339UnixMs, kMaxRfc3339UnixMs);
  std::uniform_int_distribution<std::int64_t> any(INT64_MIN, INT64_MAX);
  for (int i = 0; i < 100'000; ++i) {
    const std::int64_t ms = four_digit_years(rng);
    ASSERT_EQ(parse_utc_ms(format_utc_ms(ms)).value(), ms);
    const std::int64_t wide = any(rng);
    ASSERT_EQ(parse_utc_ms(format_utc_ms(wide)).value(), wide) << format_utc_ms(wide);
  }
}

TEST(TimeText, RefusesAnythingElse) {
  for (const char* text : {"", "2016-4-30", "2016-02-30", "2015-02-29", "2016-04-30T24:00:00Z",
                           "2016-04-30T23:59:60Z", "2016-04-30T11:18:25", "2016-04-30T11:18:25+01:00",
                           "2016-04-30 11:18:25Z", "2016-04-30T11:18:25.79Z", "2016-04-30T11:18:25.7960Z",
                           "20160430", "2016-04-30T11:18:25.796z", "-016-04-30",
                           // Expanded years: only the printed form, only outside 0000-9999, only in range.
                           "+002016-04-30T11:18:25.796Z", "-000000-01-01T00:00:00.000Z", "+10000-01-01T00:00:00.000Z",
                           "+0010000-01-01T00:00:00.000Z", "+010000-01-01", "+010000-01-01T00:00:00Z",
                           "+292278994-08-17T07:12:55.808Z", "-292275055-05-16T16:47:04.191Z",
                           "+999999999-12-31T23:59:59.999Z", "+1000000000-01-01T00:00:00.000Z", "+", "-"}) {
    Result<std::int64_t> ms = parse_utc_ms(text);
    ASSERT_FALSE(ms) << text;
    EXPECT_EQ(ms.error().code(), Errc::invalid_argument);
  }
}

}  // namespace
}  // namespace idforge
