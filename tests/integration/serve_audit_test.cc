// SPDX-License-Identifier: Apache-2.0
// The audit log of the real service (--audit-log): every ID a client received lies
// in a recorded range of its node, restarts (clean, killed, with the clock behind)
// never produce overlapping ranges, and `idforge verify --ranges` agrees.
#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/http.h"
#include "support/load.h"

namespace idforge::testing {
namespace {

using nlohmann::json;

struct Range {
  std::uint64_t node, first, last, issued;
};

class ServeAudit : public Serve {
 protected:
  std::string audit_path() const { return (dir_ / "audit.log").string(); }

  // The log's ranges of `kind`: "claimed" (issued counts the IDs handed out) or
  // "reserved" (what a holder may issue, recorded before it issues).
  std::vector<Range> ranges(const std::string& kind = "claimed") const {
    std::vector<Range> out;
    std::ifstream in(audit_path());
    for (std::string line; std::getline(in, line);) {
      const json r = json::parse(line);
      EXPECT_EQ(r["space"], "node10-seq12");
      if (r["kind"] != kind) continue;
      out.push_back({r["node"], std::stoull(r["first"].get<std::string>()), std::stoull(r["last"].get<std::string>()),
                     r.value("issued", std::uint64_t{0})});
    }
    std::sort(out.begin(), out.end(), [](const Range& a, const Range& b) { return a.first < b.first; });
    return out;
  }

  // The IDs of `ids` that lie in no range of `node`.
  static std::vector<std::uint64_t> uncovered(const std::vector<Range>& ranges, std::uint64_t node,
                                              const std::vector<std::uint64_t>& ids) {
    std::vector<std::uint64_t> out;
    for (const std::uint64_t id : ids) {
      const bool in = std::any_of(ranges.begin(), ranges.end(),
                                  [&](const Range& r) { return r.node == node && r.first <= id && id <= r.last; });
      if (!in) out.push_back(id);
    }
    return out;
  }

  json verify_ranges(int exit_code) const {
    const Ran ran = run("verify --ranges --json " + audit_path());
    EXPECT_EQ(ran.exit_code, exit_code) << ran.out << ran.err << "\nthe log:\n" << slurp(audit_path());
    return json::parse(ran.out);
  }
};

TEST_F(ServeAudit, EveryIdServedLiesInARecordedRangeAcrossRestarts) {
  const std::vector<std::string> args = {"--node", "3", "--max-lead-ms", "60000", "--audit-log", audit_path()};
  std::vector<std::uint64_t> ids;
  {
    auto first = start(args);
    IdLoad load(first->port());
    for (int i = 0; i < 2000 && load.size() < 100'000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ids = load.finish();
    const std::vector<std::uint64_t> singles = fetch_ids(*first, 3);
    ids.insert(ids.end(), singles.begin(), singles.end());
    EXPECT_EQ(first->stop(SIGTERM), 0) << first->log();
  }
  EXPECT_TRUE(uncovered(ranges(), 3, ids).empty()) << "a clean stop records every ID";
  {
    auto second = start(args, clock_stepped("-5s"));  // Restarted with the clock behind.
    const std::vector<std::uint64_t> more = fetch_ids(*second, 10);
    ids.insert(ids.end(), more.begin(), more.end());
    EXPECT_EQ(second->stop(SIGTERM), 0) << second->log();
  }
  const std::vector<Range> all = ranges();
  EXPECT_TRUE(uncovered(all, 3, ids).empty());
  std::uint64_t issued = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i > 0) {
      EXPECT_GT(all[i].first, all[i - 1].last);
    }
    issued += all[i].issued;
  }
  EXPECT_GE(issued, ids.size());
  const json report = verify_ranges(0);
  EXPECT_EQ(report["overlaps"], 0);
  EXPECT_EQ(report["ranges"], all.size());
  EXPECT_EQ(report["nodes"][0]["node"], 3);
  EXPECT_EQ(report["issued"], issued);
}

// Regression: the claimed range is recorded only after it is used, so holders
// killed under load left about a fifth of their IDs in no audited range. Every ID
// now lies in a range its holder reserved — recorded, fsync'd, before it issued.
TEST_F(ServeAudit, KilledServicesLeftEveryIdInARangeTheyReservedBeforeIssuingAndSuccessorsStartAfterIt) {
  const std::vector<std::string> args = {"--node", "4", "--audit-log", audit_path()};
  std::vector<std::uint64_t> killed;
  for (int round = 0; round < 3; ++round) {
    auto holder = start(args);
    IdLoad load(holder->port());
    for (int i = 0; i < 6000 && load.size() < 200'000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(holder->stop(SIGKILL), 128 + SIGKILL);
    const std::vector<std::uint64_t> ids = load.finish();
    killed.insert(killed.end(), ids.begin(), ids.end());
  }
  const std::vector<Range> reserved = ranges("reserved");
  ASSERT_FALSE(reserved.empty());
  EXPECT_TRUE(uncovered(reserved, 4, killed).empty()) << uncovered(reserved, 4, killed).size() << " of " << killed.size();

  auto successor = start(args);
  const std::vector<std::uint64_t> after = fetch_ids(*successor, 5);
  EXPECT_EQ(successor->stop(SIGTERM), 0);
  EXPECT_TRUE(uncovered(ranges(), 4, after).empty()) << "a clean stop records every claimed ID";
  EXPECT_GT(*std::min_element(after.begin(), after.end()), *std::max_element(killed.begin(), killed.end()));
  const json report = verify_ranges(0);
  EXPECT_EQ(report["overlaps"], 0);
  EXPECT_EQ(report["reservation_overlaps"], 0);
  EXPECT_EQ(report["uncovered"], 0);
  EXPECT_EQ(report["released"], 1) << "only the clean stop gave its node back";
  EXPECT_EQ(report["nodes"][0]["holders"].size(), 4u);
}

TEST_F(ServeAudit, AnAuditLogThatCannotBeOpenedStopsTheStart) {
  const Ran ran = run("serve --listen 127.0.0.1:0 --data-dir " + (dir_ / "data").string() + " --audit-log " +
                      dir_.string());
  expect_one_json_error_line(ran, 1, "audit log");
}

}  // namespace
}  // namespace idforge::testing
