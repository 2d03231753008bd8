// SPDX-License-Identifier: Apache-2.0
// The decoded view of IDs at each format's range edges: every decoder reads its
// smallest and largest value, and the table row and JSON writers render them —
// instants past the year 9999 included — instead of stopping the process.
#include "formats/decoded_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

namespace idforge {
namespace {

struct Rendered {
  std::string header;
  std::string row;
  std::string json_text;
  nlohmann::json json;
};

Rendered render(std::string_view text, const Layout& layout = Layout::twitter()) {
  Result<DecodedId> d = decode(text, layout);
  EXPECT_TRUE(d) << d.error().message();
  if (!d) return {};
  const detail::DecodedFields fields = detail::decoded_fields(*d, layout);
  char buf[detail::kMaxDecodedTextLength];
  const std::int64_t now_ms = 1'800'000'000'000;
  Rendered r;
  r.header.assign(buf, detail::write_table_header(*d, fields, buf));
  r.row.assign(buf, detail::write_table_row(*d, fields, now_ms, buf));
  r.json_text.assign(buf, detail::write_json(*d, fields, layout, text, now_ms, buf));
  r.json = nlohmann::json::parse(r.json_text);
  return r;
}

TEST(DecodedText, EveryFormatAtItsRangeEdges) {
  struct Edge {
    const char* text;
    const char* time;  // nullptr: the format carries no instant.
  };
  const Edge edges[] = {
      {"0", "2010-11-04T01:42:54.657Z"},
      {"9223372036854775807", "2080-07-10T17:30:30.208Z"},
      {"00000000000000000000000000", "1970-01-01T00:00:00.000Z"},
      {"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "+010889-08-02T05:31:50.655Z"},
      {"00000000-0000-7000-8000-000000000000", "1970-01-01T00:00:00.000Z"},
      {"ffffffff-ffff-7fff-bfff-ffffffffffff", "+010889-08-02T05:31:50.655Z"},
      {"ffffffff-ffff-4fff-bfff-ffffffffffff", nullptr},
      {"000000000000000000000000", "1970-01-01T00:00:00.000Z"},
      {"ffffffffffffffffffffffff", "2106-02-07T06:28:15.000Z"},
      {"000000000000000000000000000", "2014-05-13T16:53:20.000Z"},
      {"aWgEPTl1tmebfsQzFP4bxwgy80V", "2150-06-19T23:21:35.000Z"},
      {"00000000000000000000000000000000", "1970-01-01T00:00:00.000Z"},
      {"7fffffffffffffffffffffffffffffff", "+292278994-08-17T07:12:55.807Z"},
  };
  for (const Edge& e : edges) {
    const Rendered r = render(e.text);
    EXPECT_EQ(r.json.at("id"), e.text);
    if (e.time) {
      EXPECT_EQ(r.json.at("time"), e.time) << e.text;
      EXPECT_NE(r.row.find(e.time), std::string::npos) << r.row;
    } else {
      EXPECT_FALSE(r.json.contains("time")) << e.text;
    }
    EXPECT_TRUE(r.row.ends_with("\n")) << r.row;
    EXPECT_TRUE(r.header.ends_with("NOTE\n")) << r.header;
  }
}

TEST(DecodedText, AnMd5DigestIsAFlake128OnlyWhenItsTimeFitsInt64) {
  // 0xacbd… has the top bit set: a time past any clock, refused as overflow.
  Result<DecodedId> digest = decode("acbd18db4cc2f85cedef654fccc4a4d8", Layout::twitter());
  ASSERT_FALSE(digest);
  EXPECT_NE(digest.error().message().find("past the year 292,278,994"), std::string::npos)
      << digest.error().message();
  Result<DecodedId> all_ones = decode("ffffffffffffffffffffffffffffffff", Layout::twitter());
  ASSERT_FALSE(all_ones) << "decodes as unix_ms -1 when the time is read as signed";
  EXPECT_EQ(all_ones.error().code(), Errc::invalid_argument);
}

TEST(DecodedText, SnowflakeFieldsFollowTheLayout) {
  const Rendered r = render("175928847299117063", Layout::discord());
  EXPECT_EQ(r.json_text,
            R"({"id":"175928847299117063","format":"snowflake","layout":"discord","time":"2016-04-30T11:18:25.796Z",)"
            R"("unix_ms":1462015105796,"worker":1,"process":0,"increment":7,"future":false})"
            "\n");
  EXPECT_EQ(r.header, "ID                    TIME                      WORKER  PROCESS  INCREMENT  NOTE\n");
  EXPECT_EQ(r.row, "175928847299117063    2016-04-30T11:18:25.796Z  1       0        7\n");
}

TEST(DecodedText, FlagsIdsStampedAfterNow) {
  const Rendered r = render("7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
  EXPECT_TRUE(r.row.ends_with("stamped in the future\n")) << r.row;
  EXPECT_EQ(r.json.at("future"), true);
}

}  // namespace
}  // namespace idforge
