// SPDX-License-Identifier: Apache-2.0
// The data directory under a running service: files removed under it, layouts
// that share bits, crash loops. No case may let two processes issue the same ID.
#include <set>

#include <nlohmann/json.hpp>

#include "idforge/clock.h"
#include "idforge/encoding.h"
#include "idforge/file_reservation.h"
#include "support/http.h"

namespace idforge::testing {
namespace {

using nlohmann::json;

class ServeStore : public Serve {
 protected:
  fs::path data() const { return dir_ / "data"; }
  fs::path folder() const { return FileReservation::space_dir(data(), Layout::twitter()); }

  static std::vector<std::uint64_t> fetch(const ServerProcess& server, int batches) {
    HttpConnection c(server.port());
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < batches; ++i) {
      const Reply reply = c.get("/v1/next?count=1000");
      if (reply.status != 200) break;
      for (const std::string& id : ids_of(reply.body)) ids.push_back(parse_id(id, Encoding::decimal).value());
    }
    return ids;
  }

  // Asks until the server refuses (bounded, as a guard), and returns the refusal.
  static Reply until_refused(const ServerProcess& server) {
    HttpConnection c(server.port());
    Reply reply;
    for (int i = 0; i < 3000; ++i) {
      reply = c.get("/v1/next?count=100");
      if (reply.status != 200) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return reply;
  }

  static void expect_disjoint(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    std::set<std::uint64_t> seen(a.begin(), a.end());
    ASSERT_EQ(seen.size(), a.size());
    for (std::uint64_t id : b) ASSERT_TRUE(seen.insert(id).second) << id << " issued by both";
  }
};

// Regression: `rm node-0.lock`, or a cleanup of the whole data directory, under a
// running service let a second service take the same node; both issued and both
// stayed ready.
TEST_F(ServeStore, FilesRemovedUnderARunningServiceStopItAndKeepOthersOffItsNode) {
  for (bool whole_directory : {false, true}) {
    SCOPED_TRACE(whole_directory ? "data directory removed" : "lock file removed");
    auto first = start({"--node", "0"});
    const std::vector<std::uint64_t> before = fetch(*first, 5);
    if (whole_directory) {
      fs::remove_all(data());
    } else {
      fs::remove(folder() / "node-0.lock");
    }
    // Bounded, so a regression that lets it start fails instead of hanging.
    const Ran same = run_with("timeout 30", "serve --listen 127.0.0.1:0 --data-dir '" + data().string() + "' --node 0");
    EXPECT_EQ(same.exit_code, 1);
    EXPECT_NE(same.err.find("removed or replaced"), std::string::npos) << same.err;
    auto second = start();  // Picks a node: not the first one's.
    HttpConnection c(second->port());
    EXPECT_EQ(json::parse(c.get("/v1/info").body)["node"], 1);
    expect_disjoint(before, fetch(*second, 5));

    // The first stops issuing at its next renewal and says it is not ready.
    const Reply refused = until_refused(*first);
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_EQ(json::parse(refused.body)["code"], "lease_lost") << refused.body;
    HttpConnection probe(first->port());
    EXPECT_EQ(probe.get("/readyz").status, 503);
    EXPECT_EQ(first->stop(SIGTERM), 1) << "a service that lost its node cannot release it cleanly";
    EXPECT_EQ(second->stop(SIGTERM), 0) << second->log();
    // Stopping put its final reservation back: its successor starts above it.
    auto third = start({"--node", "0"});
    const std::vector<std::uint64_t> after = fetch(*third, 2);
    ASSERT_FALSE(after.empty());
    EXPECT_GT(after.front(), before.back());
    third->stop(SIGTERM);
  }
}

// Regression: twitter and the same bits spelled with the README's short field names
// had separate state and both took node 0.
TEST_F(ServeStore, LayoutsOfOneGeometryNeverShareANode) {
  auto a = start({"--layout", "twitter"});
  auto b = start({"--layout", "time:41-datacenter:5-worker:5-seq:12/tick=1ms/epoch=1288834974657"});
  HttpConnection ca(a->port()), cb(b->port());
  EXPECT_NE(json::parse(ca.get("/v1/info").body)["node"], json::parse(cb.get("/v1/info").body)["node"]);
  expect_disjoint(fetch(*a, 5), fetch(*b, 5));
}

// Regression: every start reserved a second ahead though it issued nothing, so 30
// crashed restarts left the node refusing for half a minute.
TEST_F(ServeStore, ACrashLoopThatIssuesNothingLeavesTheMarkAlone) {
  auto first = start({"--node", "2"});
  const std::vector<std::uint64_t> before = fetch(*first, 3);
  ASSERT_EQ(first->stop(SIGKILL), 128 + SIGKILL);
  const std::optional<std::int64_t> mark = FileReservation::recorded_stamp(data(), Layout::twitter(), 2).value();
  for (int i = 0; i < 30; ++i) {
    auto crashing = start({"--node", "2"});
    ASSERT_EQ(crashing->stop(SIGKILL), 128 + SIGKILL);
  }
  EXPECT_EQ(FileReservation::recorded_stamp(data(), Layout::twitter(), 2).value(), mark);
  auto last = start({"--node", "2"});
  const std::vector<std::uint64_t> after = fetch(*last, 1);
  ASSERT_EQ(after.size(), 1000u) << "the node refuses after a crash loop";
  EXPECT_GT(after.front(), before.back());
}

// A crash loop that issues an ID each time pushes the mark at most
// max(reserve_ahead, max_lead + reserve_ahead / 8) past the clock.
TEST_F(ServeStore, ACrashLoopThatIssuesCostsBoundedLead) {
  for (int i = 0; i < 20; ++i) {
    auto crashing = start({"--node", "3"});
    HttpConnection c(crashing->port());
    (void)c.get("/v1/next");
    ASSERT_EQ(crashing->stop(SIGKILL), 128 + SIGKILL);
  }
  const Layout twitter = Layout::twitter();
  const std::int64_t mark = FileReservation::recorded_stamp(data(), twitter, 3).value().value();
  const std::int64_t now_tick = twitter.tick_at_unix_ms(SystemClock().wall_ns() / 1'000'000);
  EXPECT_LE(mark - now_tick, 1000 + 1000 / 8 + 1);
}

}  // namespace
}  // namespace idforge::testing
