// SPDX-License-Identifier: Apache-2.0
// Restart safety and the node's life cycle: no ID after a crash and restart —
// even with the clock stepped back — equals one from before; two services on one
// data directory hold different nodes; SIGTERM drains and releases.
#include <atomic>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "idforge/encoding.h"
#include "idforge/file_reservation.h"
#include "support/http.h"
#include "support/load.h"

namespace idforge::testing {
namespace {

using nlohmann::json;

class ServeRestart : public Serve {
 protected:

  // Runs load against `server` until it has handed out `enough` IDs, then kills
  // it with SIGKILL while the load goes on; returns every ID a client received.
  static std::vector<std::uint64_t> kill_under_load(ServerProcess& server, std::size_t enough) {
    IdLoad load(server.port());
    for (int i = 0; i < 6000 && load.size() < enough; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_GE(load.size(), enough);
    EXPECT_EQ(server.stop(SIGKILL), 128 + SIGKILL);
    return load.finish();
  }

  // Every ID of `after` is larger than every ID of `before` (so none is equal).
  static void expect_all_after(const std::vector<std::uint64_t>& before, const std::vector<std::uint64_t>& after) {
    ASSERT_FALSE(before.empty());
    ASSERT_FALSE(after.empty());
    const std::uint64_t newest_before = *std::max_element(before.begin(), before.end());
    const std::uint64_t oldest_after = *std::min_element(after.begin(), after.end());
    EXPECT_GT(oldest_after, newest_before);
    const std::set<std::uint64_t> all_before(before.begin(), before.end());
    EXPECT_EQ(all_before.size(), before.size()) << "duplicates within one run";
  }
};

TEST_F(ServeRestart, KilledUnderLoadThenRestartedIssuesOnlyLaterIds) {
  const std::vector<std::string> args = {"--node", "5", "--max-lead-ms", "60000"};
  auto first = start(args);
  const std::vector<std::uint64_t> before = kill_under_load(*first, 50'000);

  auto second = start(args);
  const std::vector<std::uint64_t> after = fetch_ids(*second, 20);
  expect_all_after(before, after);
}

TEST_F(ServeRestart, RestartedWithTheClockSteppedBackIssuesOnlyLaterIds) {
  // The restarted process sees a clock 5 s behind the one the killed process
  // stamped with; its stamps start after the durable reservation instead.
  const std::vector<std::string> args = {"--node", "6", "--max-lead-ms", "60000"};
  auto first = start(args);
  const std::vector<std::uint64_t> before = kill_under_load(*first, 50'000);

  auto second = start(args, clock_stepped("-5s"));
  const std::vector<std::uint64_t> after = fetch_ids(*second, 20);
  expect_all_after(before, after);
  // The step took effect: the restarted stamps run ahead of the process's clock.
  HttpConnection c(second->port());
  EXPECT_GT(json::parse(c.get("/v1/info").body)["lead_ms"].get<std::int64_t>(), 1000);
  // And once more, killed under load again with the stepped-back clock.
  const std::vector<std::uint64_t> during = kill_under_load(*second, 50'000);
  auto third = start(args, clock_stepped("-10s"));
  expect_all_after(during, fetch_ids(*third, 20));
}

TEST_F(ServeRestart, ClockBehindBeyondTheLeadIsRefusedNotDuplicated) {
  auto first = start({"--node", "7"});
  const std::vector<std::uint64_t> before = fetch_ids(*first, 5);
  ASSERT_EQ(first->stop(SIGKILL), 128 + SIGKILL);

  // 60 s behind with the default 1 s lead: every request is refused.
  auto second = start({"--node", "7"}, clock_stepped("-60s"));
  HttpConnection c(second->port());
  for (int i = 0; i < 3; ++i) {
    const Reply reply = c.get("/v1/next?count=10");
    EXPECT_EQ(reply.status, 503) << reply.body;
    EXPECT_EQ(json::parse(reply.body)["code"], "clock_regressed") << reply.body;
    // Retry-After is when the clock catches up: 60 s, plus what was reserved
    // ahead (under 1 s), less the 1 s lead and the seconds the restart took.
    const int retry_after = std::stoi(reply.header("retry-after"));
    EXPECT_GE(retry_after, 50);
    EXPECT_LE(retry_after, 61);
  }
  EXPECT_FALSE(before.empty());
  // Regression: /readyz said ready for the whole time /v1/next refused.
  const Reply ready = c.get("/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_EQ(json::parse(ready.body)["code"], "clock_regressed") << ready.body;
  EXPECT_GE(std::stoi(ready.header("retry-after")), 50);
  const json info = json::parse(c.get("/v1/info").body);
  EXPECT_EQ(info["ready"], false);
  EXPECT_GE(info["next_stamp_lead_ms"].get<std::int64_t>(), 55'000);
  const std::string metrics = c.get("/metrics").body;
  EXPECT_NE(metrics.find("idforge_ready 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("idforge_generator_rollbacks_total 1\n"), std::string::npos) << metrics;
  const std::string gauge = "\nidforge_next_stamp_lead_seconds ";
  ASSERT_NE(metrics.find(gauge), std::string::npos) << metrics;
  EXPECT_GE(std::stod(metrics.substr(metrics.find(gauge) + gauge.size())), 55.0) << metrics;
}

TEST_F(ServeRestart, ReadinessComesBackByItselfWhenTheClockCatchesUp) {
  auto first = start({"--node", "8"});
  const std::vector<std::uint64_t> before = fetch_ids(*first, 5);
  ASSERT_EQ(first->stop(SIGKILL), 128 + SIGKILL);
  // 5 s behind: far more than a start takes even on a loaded machine, so the first
  // probe comes while the clock is still behind.
  auto second = start({"--node", "8", "--max-lead-ms", "0", "--max-wait-ms", "0"}, clock_stepped("-5s"));
  HttpConnection c(second->port());
  EXPECT_EQ(c.get("/readyz").status, 503);
  Reply ready;
  for (int i = 0; i < 2000 && ready.status != 200; ++i) {  // A guard, not a timing: about 6 s.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ready = c.get("/readyz");
  }
  EXPECT_EQ(ready.status, 200) << ready.body;
  // Single IDs: with no lead and no wait, a batch that does not fit in what is
  // left of the current tick is refused (it would lead), so batches here would
  // depend on where in its millisecond the clock is.
  std::vector<std::uint64_t> after;
  for (int i = 0; i < 3; ++i) {
    const Reply reply = c.get("/v1/next");
    ASSERT_EQ(reply.status, 200) << reply.body;
    after.push_back(as_id(json::parse(reply.body)["id"]));
  }
  expect_all_after(before, after);
}

TEST_F(ServeRestart, TwoServicesOnOneDataDirectoryHoldDifferentNodes) {
  auto a = start();
  auto b = start();
  HttpConnection ca(a->port()), cb(b->port());
  const json info_a = json::parse(ca.get("/v1/info").body);
  const json info_b = json::parse(cb.get("/v1/info").body);
  EXPECT_NE(info_a["node"], info_b["node"]);
  EXPECT_NE(info_a["flake128_worker"], info_b["flake128_worker"]);
  std::set<std::uint64_t> seen;
  for (const auto& server : {a.get(), b.get()}) {
    for (std::uint64_t id : fetch_ids(*server, 5)) EXPECT_TRUE(seen.insert(id).second);
  }
  // A third asking for a node another holds is refused at start-up, naming it.
  const Ran taken = run("serve --listen 127.0.0.1:0 --data-dir '" + (dir_ / "data").string() + "' --node " +
                        info_a["node"].dump());
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_NE(taken.err.find("held by"), std::string::npos) << taken.err;
}

TEST_F(ServeRestart, SigtermDrainsWritesTheFinalReservationAndReleasesTheNode) {
  auto first = start({"--node", "9"});
  const std::vector<std::uint64_t> before = fetch_ids(*first, 3);
  HttpConnection idle(first->port());
  ASSERT_EQ(idle.get("/healthz").status, 200);
  EXPECT_EQ(first->stop(SIGTERM), 0) << first->log();
  const std::string log = first->log();
  EXPECT_NE(log.find("\"msg\":\"draining\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"msg\":\"stopped\""), std::string::npos) << log;
  EXPECT_TRUE(idle.closed_by_server());

  // The records hold the newest stamp issued, no less.
  const Layout twitter = Layout::twitter();
  Result<std::optional<std::int64_t>> recorded = FileReservation::recorded_stamp(dir_ / "data", twitter, 9);
  ASSERT_TRUE(recorded && *recorded);
  EXPECT_GE(**recorded, twitter.decompose(before.back()).tick);

  // The node is free again, and its next holder continues after it.
  auto second = start({"--node", "9"});
  expect_all_after(before, fetch_ids(*second, 3));
}

}  // namespace
}  // namespace idforge::testing
