// SPDX-License-Identifier: Apache-2.0
#include "idforge/layout.h"

#include <gtest/gtest.h>

#include "idforge/time_text.h"
#include "support/testdata.h"

namespace idforge {
namespace {

Layout parse_or_die(std::string_view text) {
  Result<Layout> layout = Layout::parse(text);
  EXPECT_TRUE(layout) << (layout ? "" : layout.error().message());
  return *layout;
}

TEST(Layout, PresetsRoundTripThroughTheirSpec) {
  for (std::string_view name : Layout::preset_names()) {
    const Layout preset = parse_or_die(name);
    EXPECT_EQ(preset.name(), name);
    const Layout again = parse_or_die(preset.spec());
    EXPECT_EQ(again, preset) << preset.spec();
    EXPECT_EQ(again.name(), name) << "a spec equal to a preset is recognised as that preset";
  }
}

TEST(Layout, PresetsMatchTheirSources) {
  const Layout twitter = Layout::twitter();
  EXPECT_EQ(twitter.spec(), "timestamp:41-datacenter:5-worker:5-sequence:12/tick=1ms/epoch=2010-11-04T01:42:54.657Z");
  EXPECT_EQ(twitter.epoch_unix_ms(), 1288834974657);
  EXPECT_EQ(Layout::discord().epoch_unix_ms(), 1420070400000);
  EXPECT_EQ(Layout::instagram().epoch_unix_ms(), 1314220021721);
  EXPECT_EQ(format_utc_ms(Layout::sonyflake().epoch_unix_ms()), "2014-09-01T00:00:00.000Z");
  EXPECT_EQ(Layout::sonyflake().tick_ms(), 10);
  EXPECT_EQ(format_utc_ms(Layout::baidu().epoch_unix_ms()), "2016-05-20T00:00:00.000Z");
  EXPECT_EQ(Layout::baidu().tick_ms(), 1000);
}

TEST(Layout, DecodesKnownVectors) {
  for (const auto& r : testing::read_records("snowflake_vectors.txt")) {
    const Layout layout = parse_or_die(r.at(0));
    const Parts parts = layout.decompose(std::stoull(r.at(1)));
    EXPECT_TRUE(format_utc_ms(layout.unix_ms_of_tick(parts.tick)).starts_with(r.at(2))) << r.at(1);
    for (std::size_t i = 3; i < r.size(); ++i) {
      const std::string name = r[i].substr(0, r[i].find('='));
      const std::uint64_t expected = std::stoull(r[i].substr(r[i].find('=') + 1));
      const int node = layout.find_node_field(name);
      const std::uint64_t actual = node >= 0 ? parts.node[static_cast<std::size_t>(node)] : parts.sequence;
      EXPECT_EQ(actual, expected) << r.at(1) << " " << name;
    }
  }
}

TEST(Layout, CapacityOfTwitter) {
  const Capacity c = Layout::twitter().capacity();
  EXPECT_EQ(c.ids_per_tick, 4096u);
  EXPECT_EQ(c.ids_per_second_per_node, 4'096'000.0);
  EXPECT_EQ(c.nodes, 1024u);
  EXPECT_EQ(format_utc_ms(c.last_unix_ms), "2080-07-10T17:30:30.208Z");
}

TEST(Layout, BaiduRanOutOn20241120) {
  EXPECT_TRUE(format_utc_ms(Layout::baidu().capacity().last_unix_ms).starts_with("2024-11-20"));
}

TEST(Layout, Js53StaysBelow2To53ForFiftyYears) {
  const Layout js = Layout::js53();
  const Capacity c = js.capacity();
  EXPECT_FALSE(c.js_unsafe_from_unix_ms.has_value());
  EXPECT_LT(js.max_id_at(c.last_unix_ms).value(), 1ULL << 53);
  const std::int64_t fifty_years_ms = 50LL * 36525 * 86'400'000 / 100;
  EXPECT_GE(c.last_unix_ms, js.epoch_unix_ms() + fifty_years_ms);
}

TEST(Layout, Js53CrossingIsTheFirstTickWithAnUnsafeId) {
  const Layout twitter = Layout::twitter();
  const std::int64_t crossing = twitter.capacity().js_unsafe_from_unix_ms.value();
  EXPECT_GE(twitter.max_id_at(crossing).value(), 1ULL << 53);
  EXPECT_LT(twitter.max_id_at(crossing - twitter.tick_ms()).value(), 1ULL << 53);
}

TEST(Layout, SixtyFourBitLayoutsNeverSetTheSignBit) {
  for (const Layout& layout : {Layout::instagram(), Layout::discord()}) {
    Parts most;
    most.tick = layout.max_tick();
    most.sequence = layout.sequence_field().max_value();
    for (int i = 0; i < layout.node_field_count(); ++i) most.node[static_cast<std::size_t>(i)] = layout.node_field(i).max_value();
    EXPECT_LE(layout.compose(most).value(), static_cast<std::uint64_t>(INT64_MAX)) << layout.name();
    most.tick += 1;
    EXPECT_FALSE(layout.compose(most)) << layout.name();
  }
  EXPECT_EQ(Layout::instagram().max_tick(), (1LL << 40) - 1);
}

TEST(Layout, SonyflakePutsTheMachineInTheLowBits) {
  Parts parts;
  parts.tick = 1;
  parts.sequence = 2;
  parts.node[0] = 3;
  EXPECT_EQ(Layout::sonyflake().compose(parts).value(), (1ULL << 24) | (2ULL << 16) | 3);
}

TEST(Layout, ComposeAndDecomposeRoundTrip) {
  const Layout twitter = Layout::twitter();
  Parts parts;
  parts.tick = 123456789;
  parts.sequence = 4095;
  parts.node = twitter.node_values(37);
  EXPECT_EQ(parts.node[0], 1u);  // datacenter
  EXPECT_EQ(parts.node[1], 5u);  // worker
  const std::uint64_t id = twitter.compose(parts).value();
  const Parts back = twitter.decompose(id);
  EXPECT_EQ(back.tick, parts.tick);
  EXPECT_EQ(back.sequence, parts.sequence);
  EXPECT_EQ(twitter.node_number(back.node), 37u);
  EXPECT_EQ(id & ~0x3FFFFFULL, twitter.min_id_at(twitter.unix_ms_of_tick(parts.tick)).value());
}

TEST(Layout, ComposeRefusesValuesThatDoNotFit) {
  const Layout twitter = Layout::twitter();
  Parts parts;
  parts.sequence = 4096;
  EXPECT_EQ(twitter.compose(parts).error().code(), Errc::invalid_argument);
  parts.sequence = 0;
  parts.node[1] = 32;
  EXPECT_NE(twitter.compose(parts).error().message().find("worker"), std::string::npos);
  parts.node[1] = 0;
  parts.tick = -1;
  EXPECT_FALSE(twitter.compose(parts));
}

TEST(Layout, MinAndMaxIdOfAnInstantBracketIt) {
  const Layout discord = Layout::discord();
  const std::int64_t ms = 1462015105796;
  const std::uint64_t min = discord.min_id_at(ms).value();
  const std::uint64_t max = discord.max_id_at(ms).value();
  EXPECT_EQ(min, static_cast<std::uint64_t>(ms - 1420070400000) << 22);
  EXPECT_EQ(max, min + (1ULL << 22) - 1);
  EXPECT_LE(min, 175928847299117063u);
  EXPECT_GE(max, 175928847299117063u);
  EXPECT_FALSE(discord.min_id_at(discord.epoch_unix_ms() - 1));
}

TEST(Layout, CustomSpecWithDefaultsAndIsoEpoch) {
  const Layout layout = parse_or_die("time:40-rack:3-host:7-seq:13/tick=10ms/epoch=2020-01-01T12:00:00Z");
  EXPECT_EQ(layout.name(), "custom");
  EXPECT_EQ(layout.node_field_count(), 2);
  EXPECT_EQ(layout.node_bits(), 10);
  EXPECT_EQ(layout.tick_ms(), 10);
  EXPECT_EQ(format_utc_ms(layout.epoch_unix_ms()), "2020-01-01T12:00:00.000Z");
  const Layout defaults = parse_or_die("time:41-seq:12");
  EXPECT_EQ(defaults.tick_ms(), 1);
  EXPECT_EQ(defaults.epoch_unix_ms(), 0);
  EXPECT_EQ(parse_or_die("time:41-seq:12/epoch=1288834974657").epoch_unix_ms(), 1288834974657);
  EXPECT_EQ(parse_or_die("time:31-seq:12/tick=1s").tick_ms(), 1000);
}

TEST(Layout, RefusesInvalidLayoutsWithTheReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"snowfake", "unknown layout"},
      {"time:41-worker:10-seq:14", "65 bits"},
      {"time:41-worker:10", "exactly one timestamp"},
      {"time:20-timestamp:20-seq:10", "exactly one timestamp"},
      {"worker:10-time:41-seq:12", "first"},
      {"time:41-seq:12/tick=0ms", "tick"},
      {"time:41-seq:12/tick=1h", "tick"},
      {"time:41-seq:12/tick=2days", "tick"},
      {"time:41-seq:12/epoch=yesterday", "epoch"},
      {"time:41-seq:12/epoch=2024-02-30", "epoch"},
      {"time:41-seq:12/color=red", "unknown"},
      {"time:41-seq:12/tick=1ms/tick=2ms", "repeated"},
      {"time:41-worker-seq:12", "name:bits"},
      {"time:41-Worker:5-seq:12", "field name"},
      {"time:41-a:2-a:2-seq:12", "twice"},
      {"time:41-seq:0", "1 to 63"},
      {"time:41-a:1-b:1-c:1-d:1-e:1-seq:12", "up to 4"},
      {"time:60-seq:3/tick=1s", "9999"},
      {"time:41-seq:+12", "name:bits"},
      {"", "unknown layout"},
  };
  for (const auto& [spec, reason] : cases) {
    Result<Layout> layout = Layout::parse(spec);
    ASSERT_FALSE(layout) << spec;
    EXPECT_EQ(layout.error().code(), Errc::invalid_argument);
    EXPECT_NE(layout.error().message().find(reason), std::string::npos) << spec << ": " << layout.error().message();
  }
}

}  // namespace
}  // namespace idforge
