// SPDX-License-Identifier: Apache-2.0
// When the store forgets: real instances against real etcd members that are
// restored from a snapshot, wiped and made again, pointed at by a prefix spelled
// another way, or mixed with another cluster or datacenter. Each case ends with no
// ID returned twice and the refusal it should give; then `idforge nodes recover`
// and a clean start.
#include <signal.h>

#include <nlohmann/json.hpp>

#include "idforge/layout.h"
#include "support/cluster.h"
#include "support/eventually.h"

namespace idforge::testing {
namespace {

using nlohmann::json;

// The environment prefix of run_with() that shows a command a clock `offset` away.
std::string stepped(const std::string& offset) {
  std::string out = "env";
  for (const std::string& part : clock_stepped(offset)) {
    if (part != "env") out += " '" + part + "'";
  }
  return out;
}

// The readiness code an instance answers /readyz with ("" when ready).
std::string not_ready_code(const ServerProcess& server) {
  HttpConnection c(server.port());
  const Reply reply = c.get("/readyz");
  if (reply.status == 200) return "";
  const json body = json::parse(reply.body, nullptr, false);
  return body.is_object() ? body.value("code", "?") : "?";
}

class ClusterStore : public ClusterServe {
 protected:
  // `idforge serve` with exactly `args` (no fixture etcd), on host `host`.
  std::unique_ptr<ServerProcess> start_on(const std::string& host, std::vector<std::string> args) {
    args.insert(args.end(), {"--lease-ttl-s", std::to_string(kTtlS)});
    auto server = std::make_unique<ServerProcess>(dir_ / host, dir_ / ("serve-" + host + ".log"), std::move(args));
    EXPECT_TRUE(server->started());
    return server;
  }
  std::string serve_args() const {
    return "serve --listen 127.0.0.1:0 --lease-ttl-s " + std::to_string(kTtlS) + " --etcd " + etcd_.urls();
  }
};

TEST_F(ClusterStore, AStoreRestoredWithANewTokenIsRefusedUntilRecoveredAndNothingRepeats) {
  auto a = start({"--node", "0"});
  IdLoad load(a->port());
  ASSERT_TRUE(eventually([&] { return load.size() > 20'000; }));
  ASSERT_TRUE(etcd_.save_snapshot(dir_ / "snapshot.db"));
  // Issuing goes on past the snapshot: the marks that cover it are not in it.
  const std::uint64_t at_snapshot = etcd_.revision();
  ASSERT_TRUE(eventually([&] { return etcd_.revision() > at_snapshot + 8; }));
  const std::vector<std::uint64_t> before = load.finish();
  EXPECT_EQ(a->stop(SIGTERM), 0) << a->log();
  const std::uint64_t old_cluster = etcd_.cluster_id();
  ASSERT_TRUE(etcd_.restore_snapshot(dir_ / "snapshot.db", /*new_token=*/true));
  ASSERT_NE(etcd_.cluster_id(), old_cluster) << "a new token makes a new cluster ID";

  // A new instance on another host, its clock 30 s behind, would start right after
  // the restored marks, inside the IDs issued after the snapshot: refused.
  const Ran behind = run_with(stepped("-30s"), serve_args() + " --node 0 --data-dir '" + (dir_ / "host-b").string() + "'");
  expect_one_json_error_line(behind, 1, "was made on etcd cluster");
  EXPECT_NE(behind.err.find("idforge nodes recover"), std::string::npos) << behind.err;
  const Ran shown = run("nodes --etcd " + etcd_.urls() + " --json");
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const json nodes = json::parse(shown.out);
  ASSERT_EQ(nodes["rollback"].size(), 1u) << shown.out;
  EXPECT_NE(nodes["rollback"][0].get<std::string>().find("restored from a snapshot"), std::string::npos);

  // A time past the layout's end would leave every node nothing to issue in: refused, the space untouched.
  expect_one_error_line(run("nodes recover --etcd " + etcd_.urls() + " --issued-until 2100-01-01T00:00:00Z"), 2,
                        "is past the end of layout twitter's time");
  EXPECT_NE(run("nodes --etcd " + etcd_.urls()).out.find("ROLLBACK"), std::string::npos) << "still to recover";
  const Ran recovered = run("nodes recover --etcd " + etcd_.urls());
  ASSERT_EQ(recovered.exit_code, 0) << recovered.err;
  EXPECT_NE(recovered.out.find("recovered ID space"), std::string::npos) << recovered.out;
  auto b = start({"--node", "0", "--max-lead-ms", "3600000"}, clock_stepped("-30s"), true, "host-b");
  const std::vector<std::uint64_t> after = fetch_ids(*b, 50);
  ASSERT_EQ(after.size(), 50'000u);
  expect_no_duplicates({before, after});
  EXPECT_GT(*std::min_element(after.begin(), after.end()), *std::max_element(before.begin(), before.end()));
}

TEST_F(ClusterStore, AStoreRestoredUnderRunningInstancesIsRefusedByThemAndByTheirHostUntilRecovered) {
  auto a = start({"--node", "0"});
  auto b = start({"--node", "1"});
  IdLoad load_a(a->port());
  IdLoad load_b(b->port());
  ASSERT_TRUE(eventually([&] { return load_a.size() > 20'000 && load_b.size() > 20'000; }));
  ASSERT_TRUE(etcd_.save_snapshot(dir_ / "snapshot.db"));
  // Issuing goes on past the snapshot, through several mark extensions that it
  // does not hold (with none, nothing the snapshot lacks was issued).
  const std::uint64_t at_snapshot = etcd_.revision();
  ASSERT_TRUE(eventually([&] { return etcd_.revision() > at_snapshot + 8; }));
  // The same token: the same cluster ID, and a revision that went back.
  const std::uint64_t cluster = etcd_.cluster_id();
  ASSERT_TRUE(etcd_.restore_snapshot(dir_ / "snapshot.db", /*new_token=*/false));
  ASSERT_EQ(etcd_.cluster_id(), cluster);
  ASSERT_TRUE(eventually([&] { return not_ready_code(*a) == "store_refused" && not_ready_code(*b) == "store_refused"; }))
      << a->log();
  EXPECT_TRUE(eventually([&] {
    return a->log().find("\"msg\":\"etcd store refused\",\"reason\":\"revision\"") != std::string::npos;
  })) << a->log();
  HttpConnection c(a->port());
  const Reply refused = c.get("/v1/next");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("went back from"), std::string::npos) << refused.body;
  HttpConnection m(a->port());
  EXPECT_NE(m.get("/metrics").body.find("idforge_etcd_store_refused{reason=\"revision\"} 1"), std::string::npos);
  // A new instance on their host, its clock behind: the host remembers.
  const Ran again = run_with(stepped("-30s"), serve_args() + " --node 2 --data-dir '" + (dir_ / "data").string() + "'");
  expect_one_json_error_line(again, 1, "refused on this host");

  const Ran recovered = run("nodes recover --etcd " + etcd_.urls() + " --margin-ms 2000");
  ASSERT_EQ(recovered.exit_code, 0) << recovered.err;
  // The running instances take their nodes again by themselves, past the recovery.
  ASSERT_TRUE(eventually([&] { return readyz(*a) == 200 && readyz(*b) == 200; })) << a->log();
  const std::size_t a_then = load_a.size(), b_then = load_b.size();
  ASSERT_TRUE(eventually([&] { return load_a.size() > a_then + 20'000 && load_b.size() > b_then + 20'000; }));
  expect_no_duplicates({load_a.finish(), load_b.finish()});
}

TEST_F(ClusterStore, AWipedStoreIsRefusedAndAKilledInstancesFutureIsNotRepeatedAfterTheRecovery) {
  // An instance whose clock runs 9 s ahead issues IDs stamped in everyone's future.
  auto ahead = start({"--node", "1", "--max-lead-ms", "0"}, clock_stepped("+9s"), true, "host-ahead");
  auto survivor = start({"--node", "2"});
  const std::string space = info(*survivor)["coordination"]["space"]["id"];
  IdLoad load_ahead(ahead->port());
  IdLoad load_survivor(survivor->port());
  ASSERT_TRUE(eventually([&] { return load_ahead.size() > 50'000 && load_survivor.size() > 20'000; }));
  // etcd is lost, and the instance ahead is killed during the outage.
  ahead->stop(SIGKILL);
  const std::vector<std::uint64_t> future = load_ahead.finish();
  ASSERT_TRUE(etcd_.wipe());
  ASSERT_TRUE(eventually([&] { return not_ready_code(*survivor) == "store_refused"; })) << survivor->log();
  EXPECT_NE(survivor->log().find("is gone from etcd"), std::string::npos) << survivor->log();
  // Started again on its host, it is refused too: the host used the space.
  const Ran restarted = run(serve_args() + " --node 1 --data-dir '" + (dir_ / "data").string() + "'");
  expect_one_json_error_line(restarted, 1, "the ID space " + space + " under /idforge is gone");
  EXPECT_NE(restarted.err.find("--space-id " + space), std::string::npos) << restarted.err;

  const Ran recovered = run("nodes recover --etcd " + etcd_.urls() + " --space-id " + space);
  ASSERT_EQ(recovered.exit_code, 0) << recovered.err;
  // The killed instance's node, taken by a newcomer: after everything it issued.
  auto successor = start({"--node", "1", "--max-lead-ms", "3600000"});
  const std::vector<std::uint64_t> after = fetch_ids(*successor, 20);
  ASSERT_EQ(after.size(), 20'000u);
  EXPECT_GT(*std::min_element(after.begin(), after.end()), *std::max_element(future.begin(), future.end()));
  ASSERT_TRUE(eventually([&] { return readyz(*survivor) == 200; })) << survivor->log();
  const std::size_t then = load_survivor.size();
  ASSERT_TRUE(eventually([&] { return load_survivor.size() > then + 20'000; }));
  expect_no_duplicates({future, load_survivor.finish(), after});
}

TEST_F(ClusterStore, APrefixHasOneSpelling) {
  for (const char* other : {"//idforge", "/IDFORGE", "/idforge/"}) {
    const Ran serve = run(serve_args() + " --etcd-prefix " + other);
    expect_one_json_error_line(serve, 2, "(write it /idforge)");
    expect_one_error_line(run("gen --etcd " + etcd_.urls() + " --etcd-prefix " + other), 2, "is not in its one spelling");
    expect_one_error_line(run("nodes init --etcd " + etcd_.urls() + " --etcd-prefix " + other), 2,
                          "two ID spaces handing out the same nodes");
  }
  auto one = start({"--etcd-prefix", "/idforge"});
  EXPECT_EQ(fetch_ids(*one, 2).size(), 2000u);
}

TEST_F(ClusterStore, DatacentersClaimDisjointRangesInARegistryAndAMisdirectedInstanceIsRefused) {
  EtcdCluster eu{dir_ / "etcd-eu"};
  EtcdCluster registry{dir_ / "etcd-registry"};
  ASSERT_TRUE(eu.ready() && registry.ready());
  const std::string us_etcd = etcd_.urls(), eu_etcd = eu.urls(), reg = " --registry " + registry.urls();
  const Ran us = run("nodes init --etcd " + us_etcd + " --etcd-prefix /idforge/us-east --nodes 0-199 --datacenter "
                     "us-east" + reg);
  ASSERT_EQ(us.exit_code, 0) << us.err;
  const Ran overlapping = run("nodes init --etcd " + eu_etcd + " --etcd-prefix /idforge/eu-west --nodes 150-399 "
                              "--datacenter eu-west" + reg);
  expect_one_error_line(overlapping, 2, "nodes 150-399 overlap datacenter us-east's nodes 0-199");
  EXPECT_NE(run("nodes --etcd " + eu_etcd + " --etcd-prefix /idforge/eu-west").out.find("space     none"),
            std::string::npos) << "nothing was made for the refused range";
  const Ran renamed = run("nodes init --etcd " + eu_etcd + " --etcd-prefix /idforge/eu-west --nodes 300-399 "
                          "--datacenter us-east" + reg);
  expect_one_error_line(renamed, 2, "datacenter us-east is registered already");
  const Ran eu_made = run("nodes init --etcd " + eu_etcd + " --etcd-prefix /idforge/eu-west --nodes 200-399 "
                          "--datacenter eu-west" + reg);
  ASSERT_EQ(eu_made.exit_code, 0) << eu_made.err;
  const Ran listed = run("nodes --registry " + registry.urls() + " --json");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json dcs = json::parse(listed.out)["datacenters"];
  ASSERT_EQ(dcs.size(), 2u) << listed.out;
  EXPECT_EQ(dcs[0]["datacenter"], "us-east");
  EXPECT_EQ(dcs[0]["nodes"], "0-199");
  EXPECT_EQ(dcs[1]["datacenter"], "eu-west");
  EXPECT_EQ(dcs[1]["etcd"], eu_etcd);

  auto eu_instance = start_on("eu-host", {"--etcd", eu_etcd, "--etcd-prefix", "/idforge/eu-west", "--datacenter", "eu-west"});
  EXPECT_EQ(info(*eu_instance)["node"], 200) << "the lowest node of its datacenter's range";
  // An eu-west instance pointed at us-east's etcd: never handed a free-looking node.
  const std::string misdirected = "serve --listen 127.0.0.1:0 --etcd " + us_etcd;
  expect_one_json_error_line(run(misdirected + " --etcd-prefix /idforge/eu-west --datacenter eu-west"), 1,
                             "no ID space under etcd prefix /idforge/eu-west");
  expect_one_json_error_line(run(misdirected + " --etcd-prefix /idforge/us-east --datacenter eu-west"), 2,
                             "belongs to datacenter us-east");
  expect_one_json_error_line(run(misdirected + " --etcd-prefix /idforge/us-east --nodes 200-399"), 2,
                             "which owns nodes 0-199");
  // gen has no --datacenter flag (twitter's node field has the name): a cluster host's IDFORGE_DATACENTER says it.
  expect_one_error_line(run_with("IDFORGE_DATACENTER=eu-west",
                                 "gen -n 1 --data-dir " + (dir_ / "gen-host").string() + " --etcd " + us_etcd +
                                     " --etcd-prefix /idforge/us-east"),
                        2, "belongs to datacenter us-east");
  auto us_instance = start_on("us-host", {"--etcd", us_etcd, "--etcd-prefix", "/idforge/us-east", "--datacenter", "us-east"});
  expect_no_duplicates({fetch_ids(*us_instance, 10), fetch_ids(*eu_instance, 10)});
}

TEST_F(ClusterStore, EndpointsOfTwoClustersAreRefusedAtStart) {
  EtcdCluster other{dir_ / "etcd-other"};
  ASSERT_TRUE(other.ready());
  init_space(other);
  const Ran both = run("serve --listen 127.0.0.1:0 --etcd " + etcd_.url(0) + "," + other.url(0));
  expect_one_json_error_line(both, 2, "the etcd endpoints name members of 2 different clusters");
  expect_one_error_line(run("nodes --etcd " + other.url(0) + "," + etcd_.url(0)), 2, "2 different clusters");
}

TEST_F(ClusterStore, GenOnAClusterHostLeasesTheClustersNodesAndTheFileStoreStandsAside) {
  auto serving = start({"--node", "0"});
  IdLoad load(serving->port());
  ASSERT_TRUE(eventually([&] { return load.size() > 10'000; }));
  const std::string host = "IDFORGE_DATA_DIR='" + (dir_ / "data").string() + "'";
  std::vector<std::vector<std::uint64_t>> populations;
  for (int run_no = 0; run_no < 3; ++run_no) {
    const Ran gen = run_with("IDFORGE_ETCD=" + etcd_.urls() + " " + host, "gen -n 200000", "", "gen");
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    std::vector<std::uint64_t> ids;
    for (const std::string& line : lines(gen.out)) ids.push_back(as_id(line));
    ASSERT_EQ(ids.size(), 200'000u);
    const Layout twitter = Layout::twitter();
    EXPECT_NE(twitter.node_number(twitter.decompose(ids.front()).node), 0u) << "the serving instance holds node 0";
    populations.push_back(std::move(ids));
  }
  // The same host's data directory, without etcd: it hands out none of the cluster's nodes.
  expect_one_error_line(run_with(host, "gen -n 10"), 2, "this host takes its nodes of snowflake-node10-seq12 from etcd");
  expect_one_error_line(run_with(host, "gen --format flake128 -n 10"), 2, "from etcd");
  populations.push_back(load.finish());
  expect_no_duplicates(populations);
}

}  // namespace
}  // namespace idforge::testing
