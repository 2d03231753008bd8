// SPDX-License-Identifier: Apache-2.0
// The extension when the database is copied: a pg_basebackup hot standby beside
// its primary, the same copy started as a second primary, a failover with the
// promoted standby's clock behind, a mark lost or restored older, and the layout's
// epoch moved with its geometry kept. Each case counts every ID both servers
// returned to their clients.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "idforge/layout.h"
#include "idforge/time_text.h"
#include "support/extension.h"

namespace idforge::testing {
namespace {

using Ids = std::vector<std::uint64_t>;

class ExtensionStore : public Extension {
 protected:
  // `n` IDs of idforge_next() as the client received them; empty (and the
  // server's words in `error`) when the call failed.
  static Ids take(const PostgresServer& server, int n, std::string* error = nullptr) {
    auto [code, out] = server.psql("SELECT idforge_next() FROM generate_series(1, " + std::to_string(n) + ");");
    if (code != 0) {
      if (error != nullptr) *error = out;
      return {};
    }
    Ids ids;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) ids.push_back(std::stoull(line));
    return ids;
  }

  static void expect_apart(const Ids& before, const Ids& after) {
    ASSERT_FALSE(before.empty());
    ASSERT_FALSE(after.empty());
    std::set<std::uint64_t> all(before.begin(), before.end());
    all.insert(after.begin(), after.end());
    EXPECT_EQ(all.size(), before.size() + after.size()) << "IDs returned twice";
  }

  // A primary of twitter's node 5 with one standby streaming from it, the
  // standby's clock `behind` (FAKETIME, such as "-5s") and `standby_settings` added.
  struct Pair {
    std::unique_ptr<PostgresServer> primary;
    std::unique_ptr<PostgresServer> standby;
  };
  static Pair primary_and_standby(const std::string& behind, const std::vector<std::string>& standby_settings = {}) {
    Pair p;
    p.primary = std::make_unique<PostgresServer>(twitter());
    EXPECT_TRUE(p.primary->start()) << p.primary->log();
    create_extension(*p.primary);
    p.standby = std::make_unique<PostgresServer>(*p.primary, /*standby=*/true);
    for (const std::string& line : standby_settings) p.standby->configure(line);
    EXPECT_TRUE(p.standby->start({"FAKETIME=" + behind, kFaketime})) << p.standby->log();
    return p;
  }

  static std::vector<std::string> twitter(std::vector<std::string> more = {}) {
    std::vector<std::string> settings = {"shared_preload_libraries = 'idforge'", "idforge.node = 5",
                                         "idforge.max_wait_ms = 300"};
    settings.insert(settings.end(), more.begin(), more.end());
    return settings;
  }
};

// Regression: pg_basebackup copied idforge.mark and idforge.node into a hot
// standby that then issued beside its primary (244,352 of 600,000 IDs shared),
// and after a failover the promoted standby, its clock behind, repeated 138,560 of
// 2,000,000 of its primary's IDs: the mark was a local file.
TEST_F(ExtensionStore, AHotStandbyRefusesAndAfterAFailoverContinuesAfterTheReservationItReplayed) {
  Pair p = primary_and_standby("-5s", {"idforge.max_lead_ms = 20000"});
  Ids before;
  for (int round = 0; round < 4; ++round) {
    const Ids ids = take(*p.primary, 50'000);
    before.insert(before.end(), ids.begin(), ids.end());
    std::string refused;
    EXPECT_TRUE(take(*p.standby, 10, &refused).empty()) << "a standby issues nothing";
    EXPECT_NE(refused.find("this server is in recovery"), std::string::npos) << refused;
  }
  ASSERT_EQ(before.size(), 200'000u);
  // The wide formats rest on their random bits, not on the node: a standby makes them.
  EXPECT_EQ(p.standby->value("SELECT count(DISTINCT idforge_uuidv7()) FROM generate_series(1, 1000);"), "1000");
  EXPECT_EQ(p.standby->value("SELECT count(DISTINCT idforge_ulid()) FROM generate_series(1, 1000);"), "1000");
  // The standby has replayed everything; the primary dies.
  ASSERT_TRUE(p.primary->wait_replayed_by(*p.standby));
  p.primary->stop(SIGQUIT);
  ASSERT_TRUE(p.standby->promote()) << p.standby->log();
  // Its clock is 5 s behind its primary's: it continues after the replayed
  // reservation on logical time (within idforge.max_lead_ms), whatever the clock says.
  Ids after;
  std::string error;
  for (int i = 0; i < 100 && after.empty(); ++i) {
    after = take(*p.standby, 100'000, &error);
    if (after.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(after.size(), 100'000u) << error << p.standby->log();
  expect_apart(before, after);
  EXPECT_GT(*std::min_element(after.begin(), after.end()), *std::max_element(before.begin(), before.end()));
  EXPECT_NE(p.standby->log().find("was a standby of"), std::string::npos) << p.standby->log();
}

TEST_F(ExtensionStore, APromotedStandbyFarBehindTheReplayedReservationRefusesUntilTheLeadAllowsIt) {
  Pair p = primary_and_standby("-60s");
  const Ids before = take(*p.primary, 100'000);
  ASSERT_EQ(before.size(), 100'000u);
  ASSERT_TRUE(p.primary->wait_replayed_by(*p.standby));
  p.primary->stop(SIGQUIT);
  ASSERT_TRUE(p.standby->promote()) << p.standby->log();
  std::string refused;
  for (int i = 0; i < 100; ++i) {
    // Until the keeper has started after the replayed mark, a call may wait for it.
    refused.clear();
    if (!take(*p.standby, 1, &refused).empty()) break;
    if (refused.find("ahead of the clock") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(refused.find("ahead of the clock, past idforge.max_lead_ms (1000 ms)"), std::string::npos) << refused;
  set_max_lead_ms(*p.standby, 7'200'000, "2h");
  const Ids after = take(*p.standby, 100'000);
  ASSERT_EQ(after.size(), 100'000u) << p.standby->log();
  expect_apart(before, after);
}

TEST_F(ExtensionStore, ACopyStartedAsASecondPrimaryIsRefusedUntilItIsGivenANodeOfItsOwn) {
  PostgresServer primary(twitter());
  ASSERT_TRUE(primary.start()) << primary.log();
  create_extension(primary);
  Ids original = take(primary, 50'000);
  PostgresServer copy(primary, /*standby=*/false);
  ASSERT_TRUE(copy.start()) << copy.log();
  std::string refused;
  EXPECT_TRUE(take(copy, 10, &refused).empty());
  EXPECT_NE(refused.find("belongs to another server"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Give this server a node of its own"), std::string::npos) << refused;
  const Ids more = take(primary, 50'000);  // The original goes on.
  original.insert(original.end(), more.begin(), more.end());
  copy.stop();
  copy.configure("idforge.node = 6");
  ASSERT_TRUE(copy.start()) << copy.log();
  const Ids own = take(copy, 50'000);
  ASSERT_EQ(own.size(), 50'000u) << copy.log();
  const Layout layout = Layout::twitter();
  EXPECT_EQ(layout.node_number(layout.decompose(own.front()).node), 6u);
  expect_apart(original, own);
}

TEST_F(ExtensionStore, ACopyWhoseOriginalIsGoneForGoodIsMadeThisServersOwnByARecovery) {
  PostgresServer primary(twitter());
  ASSERT_TRUE(primary.start()) << primary.log();
  create_extension(primary);
  const Ids original = take(primary, 50'000);
  PostgresServer copy(primary, /*standby=*/false);
  primary.stop(SIGQUIT);
  ASSERT_TRUE(copy.start()) << copy.log();
  EXPECT_TRUE(take(copy, 1).empty());
  EXPECT_NE(copy.psql("SET ROLE pg_monitor; SELECT idforge_recover();").second.find("permission denied"),
            std::string::npos) << "superusers only";
  // Regression: a time past the layout's end (a mistyped year) was clamped to it, leaving the node no time.
  EXPECT_NE(copy.psql("SELECT idforge_recover('2100-01-01 00:00:00+00');").second.find("past the end of layout twitter"),
            std::string::npos);
  const std::string answer = copy.value("SELECT idforge_recover();");
  EXPECT_NE(answer.find("node 5 of layout twitter is this server's"), std::string::npos) << answer;
  const Ids after = take(copy, 50'000);
  ASSERT_EQ(after.size(), 50'000u) << copy.log();
  expect_apart(original, after);
}

// Regression: a mark restored from an older copy while the floor was lost too
// would start the node over its own past; here the floor keeps the truth.
TEST_F(ExtensionStore, AMarkLostOrOlderThanTheFloorIsRefusedUntilRecovered) {
  PostgresServer server(twitter());
  ASSERT_TRUE(server.start()) << server.log();
  create_extension(server);
  Ids before = take(server, 20'000);
  server.stop();
  const std::string older = slurp(server.data() / "idforge.mark");
  ASSERT_TRUE(server.start({"FAKETIME=+10s", kFaketime}));
  const Ids later = take(server, 20'000);  // Reserved 10 s further.
  before.insert(before.end(), later.begin(), later.end());
  server.stop();
  for (const bool lost : {false, true}) {
    SCOPED_TRACE(lost ? "mark lost" : "mark restored older");
    if (lost) {
      fs::remove(server.data() / "idforge.mark");
    } else {
      std::ofstream(server.data() / "idforge.mark") << older;
    }
    ASSERT_TRUE(server.start()) << server.log();
    std::string refused;
    EXPECT_TRUE(take(server, 1, &refused).empty());
    EXPECT_NE(refused.find("idforge.floor"), std::string::npos) << refused;
    EXPECT_NE(refused.find("idforge_recover"), std::string::npos) << refused;
    server.stop();
  }
  ASSERT_TRUE(server.start({"FAKETIME=-1s", kFaketime})) << server.log();
  ASSERT_NE(server.value("SELECT idforge_recover();"), "");
  set_max_lead_ms(server, 60'000, "1min");
  const Ids after = take(server, 20'000);
  ASSERT_EQ(after.size(), 20'000u) << server.log();
  expect_apart(before, after);
}

// Regression: the mark counted Unix milliseconds, so a layout of the same geometry
// with an epoch 5 s later started 5 s of stamps back: 182,064 of 2,850,000 IDs
// repeated. In stamps, the later epoch is a clock 5 s behind: refused past the lead.
TEST_F(ExtensionStore, AnEpochMovedWithTheGeometryKeptIsRefusedAsARollbackAndAnotherGeometryOnTheNodeToo) {
  const std::string later_epoch = "timestamp:41-datacenter:5-worker:5-sequence:12/tick=1ms/epoch=" +
                                  format_utc_ms(Layout::twitter().epoch_unix_ms() + 5000);
  PostgresServer server(twitter());
  ASSERT_TRUE(server.start()) << server.log();
  create_extension(server);
  const Ids before = take(server, 50'000);
  server.stop();
  server.configure("idforge.layout = '" + later_epoch + "'");
  ASSERT_TRUE(server.start()) << server.log();
  std::string refused;
  EXPECT_TRUE(take(server, 1, &refused).empty());
  EXPECT_NE(refused.find("ahead of the clock"), std::string::npos) << refused;
  set_max_lead_ms(server, 60'000, "1min");
  const Ids after = take(server, 50'000);
  ASSERT_EQ(after.size(), 50'000u) << server.log();
  expect_apart(before, after);  // One geometry: the same bits, so the integers compare.
  server.stop();
  server.configure("idforge.layout = 'instagram'");
  ASSERT_TRUE(server.start()) << server.log();
  EXPECT_TRUE(take(server, 1, &refused).empty());
  EXPECT_NE(refused.find("two geometries on one node"), std::string::npos) << refused;
}

}  // namespace
}  // namespace idforge::testing
