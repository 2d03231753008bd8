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
  EXPECT_EQ(format_utc_ms(kMaxPrintableUnixMs), "9999-12-31T23:59:59.999Z");
}

TEST(TimeText, ParsesTheThreeForms) {
  EXPECT_EQ(parse_utc_ms("2016-04-30").value(), 1461974400000);
  EXPECT_EQ(parse_utc_ms("2016-04-30T11:18:25Z").value(), 1462015105000);
  EXPECT_EQ(parse_utc_ms("2016-04-30T11:18:25.796Z").value(), 1462015105796);
}

TEST(TimeText, RoundTripsRandomInstants) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> any(0, kMaxPrintableUnixMs);
  for (int i = 0; i < 100'000; ++i) {
    const std::int64_t ms = any(rng);
    EXPECT_EQ(parse_utc_ms(format_utc_ms(ms)).value(), ms);
  }
}

TEST(TimeText, RefusesAnythingElse) {
  for (const char* text : {"", "2016-4-30", "2016-02-30", "2015-02-29", "2016-04-30T24:00:00Z",
                           "2016-04-30T23:59:60Z", "2016-04-30T11:18:25", "2016-04-30T11:18:25+01:00",
                           "2016-04-30 11:18:25Z", "2016-04-30T11:18:25.79Z", "2016-04-30T11:18:25.7960Z",
                           "20160430", "2016-04-30T11:18:25.796z", "-016-04-30"}) {
    Result<std::int64_t> ms = parse_utc_ms(text);
    ASSERT_FALSE(ms) << text;
    EXPECT_EQ(ms.error().code(), Errc::invalid_argument);
  }
}

}  // namespace
}  // namespace idforge
