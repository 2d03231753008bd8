// SPDX-License-Identifier: Apache-2.0
#include "server/query.h"

#include <gtest/gtest.h>

#include <array>

namespace idforge::detail {
namespace {

constexpr std::array<std::string_view, 3> kKnown = {"count", "format", "encoding"};

TEST(Query, ReadsKnownParametersAndDecodesEscapes) {
  Result<Query> q = Query::parse("count=10&format=%75lid", kKnown);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->get("count"), "10");
  EXPECT_EQ(q->get("format"), "ulid");
  EXPECT_EQ(q->get("encoding"), std::nullopt);
}

TEST(Query, EmptyPiecesAreHarmless) {
  Result<Query> q = Query::parse("&count=3&&", kKnown);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->get("count"), "3");
  EXPECT_TRUE(Query::parse("", kKnown));
}

TEST(Query, RefusesUnknownRepeatedAndBrokenParameters) {
  for (const char* bad : {"cnt=3", "count=1&count=1", "count=%2", "count=%g0", "%=1", "=5"}) {
    Result<Query> q = Query::parse(bad, kKnown);
    EXPECT_FALSE(q) << bad;
    if (!q) {
      EXPECT_EQ(q.error().code(), Errc::invalid_argument);
    }
  }
  EXPECT_NE(Query::parse("cnt=3", kKnown).error().message().find("count, format, encoding"), std::string::npos);
}

TEST(Query, PlusIsNotASpace) {
  Result<Query> q = Query::parse("count=+5", kKnown);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->get("count"), "+5");
}

TEST(ParseCount, TakesPlainDigitsFromOneToTheMaximum) {
  EXPECT_EQ(parse_count("1", 10000).value(), 1u);
  EXPECT_EQ(parse_count("10000", 10000).value(), 10000u);
  EXPECT_EQ(parse_count("007", 10000).value(), 7u);
  EXPECT_EQ(parse_count("18446744073709551615", ~0ULL).value(), ~0ULL);
}

TEST(ParseCount, RefusesEverythingElseWithTheReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0", "it is 0"},          {"", "it is empty"},        {"-1", "'-'"},        {"1e3", "'e'"},
      {"0x10", "'x'"},           {" 5", "' '"},              {"5 ", "' '"},        {"+5", "'+'"},
      {"10001", "above"},        {"9223372036854775808", "above"}, {"18446744073709551616", "above"},
      {"99999999999999999999999", "above"}, {"1.0", "'.'"},
  };
  for (const auto& [text, says] : cases) {
    Result<std::uint64_t> c = parse_count(text, 10000);
    ASSERT_FALSE(c) << text;
    EXPECT_NE(c.error().message().find(says), std::string::npos) << text << ": " << c.error().message();
    EXPECT_NE(c.error().message().find("from 1 to 10000"), std::string::npos);
  }
  EXPECT_FALSE(parse_count("7", 5));
  EXPECT_FALSE(parse_count("18446744073709551616", ~0ULL));
}

}  // namespace
}  // namespace idforge::detail
