// SPDX-License-Identifier: Apache-2.0
// `idforge serve --etcd`: real instances against real etcd members that the
// tests start on free loopback ports (Debian's etcd-server).
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "idforge/layout.h"
#include "support/cluster.h"
#include "support/eventually.h"

namespace idforge::testing {
namespace {

using nlohmann::json;

TEST_F(ClusterServe, ThreeInstancesTakeThreeNodesAndAFourthIsRefusedClearly) {
  std::vector<std::unique_ptr<ServerProcess>> servers;
  std::set<std::uint64_t> nodes;
  for (int i = 0; i < 3; ++i) {
    servers.push_back(start({"--nodes", "0-2"}));
    const json i_info = info(*servers.back());
    nodes.insert(i_info["node"].get<std::uint64_t>());
    EXPECT_EQ(i_info["coordination"]["source"], "etcd");
    EXPECT_EQ(i_info["coordination"]["lease_ttl_s"], kTtlS);
    EXPECT_EQ(i_info["coordination"]["lease_state"], "held");
  }
  EXPECT_EQ(nodes, (std::set<std::uint64_t>{0, 1, 2}));
  std::vector<std::vector<std::uint64_t>> ids;
  for (auto& s : servers) ids.push_back(fetch_ids(*s, 20));
  expect_no_duplicates(ids);

  const Ran fourth = run("serve --listen 127.0.0.1:0 --etcd " + etcd_.urls() + " --nodes 0-2");
  expect_one_json_error_line(fourth, 1, "every node in 0-2 of snowflake-node10-seq12 under /idforge is taken");
  EXPECT_NE(fourth.err.find("--wait-for-node"), std::string::npos);
}

TEST_F(ClusterServe, AnInstanceThatWaitsForANodeGetsOneTheMomentAnotherStops) {
  auto a = start({"--nodes", "0-1"});
  auto b = start({"--nodes", "0-1"});
  auto waiting = start({"--nodes", "0-1", "--wait-for-node"}, {}, false);
  ASSERT_TRUE(eventually([&] { return waiting->log().find("waiting for a free node") != std::string::npos; }));
  EXPECT_FALSE(waiting->started());
  // A waiting instance stops on SIGTERM too, cleanly.
  auto stopped = start({"--nodes", "0-1", "--wait-for-node"}, {}, false);
  ASSERT_TRUE(eventually([&] { return stopped->log().find("waiting for a free node") != std::string::npos; }));
  EXPECT_EQ(stopped->stop(SIGTERM), 0) << stopped->log();
  EXPECT_NE(stopped->log().find("stopped while waiting for a node"), std::string::npos);
  const std::uint64_t b_node = info(*b)["node"];
  const std::vector<std::uint64_t> before = fetch_ids(*b, 5);
  // SIGTERM writes the final mark and revokes the lease: the node is free at
  // once, not after the TTL.
  EXPECT_EQ(b->stop(SIGTERM), 0) << b->log();
  EXPECT_NE(b->log().find("\"msg\":\"stopped\""), std::string::npos);
  ASSERT_TRUE(waiting->wait_listening(kTtlS - 1)) << waiting->log();
  EXPECT_EQ(info(*waiting)["node"], b_node);
  const std::vector<std::uint64_t> after = fetch_ids(*waiting, 5);
  EXPECT_GT(*std::min_element(after.begin(), after.end()), *std::max_element(before.begin(), before.end()));
}

TEST_F(ClusterServe, AKilledInstancesNodeIsFreeAfterItsTtlAndASuccessorWithTheClockBehindNeverRepeats) {
  auto dead = start({"--node", "3"});
  const std::vector<std::uint64_t> before = fetch_ids(*dead, 20);
  EXPECT_EQ(dead->stop(SIGKILL), 128 + SIGKILL);

  // An hour behind, with the default lead: it waits for the node, then refuses
  // to issue (the mark is an hour ahead of its clock) rather than repeat.
  auto behind = start({"--node", "3", "--wait-for-node"}, clock_stepped("-1h"), false);
  ASSERT_TRUE(behind->wait_listening(4 * kTtlS)) << behind->log();
  HttpConnection c(behind->port());
  const Reply refused = c.get("/v1/next");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(json::parse(refused.body)["code"], "clock_regressed");
  EXPECT_EQ(readyz(*behind), 503);
  EXPECT_EQ(behind->stop(SIGTERM), 0) << behind->log();

  // With a lead long enough to ride it out, it issues — every ID after the dead one's.
  auto leading = start({"--node", "3", "--max-lead-ms", "7200000"}, clock_stepped("-1h"));
  const std::vector<std::uint64_t> after = fetch_ids(*leading, 20);
  ASSERT_FALSE(after.empty());
  EXPECT_GT(*std::min_element(after.begin(), after.end()), *std::max_element(before.begin(), before.end()));
}

TEST_F(ClusterServe, APausedInstanceWhoseNodeWasTakenIssuesNothingMoreAndTakesANodeAgain) {
  auto a = start({"--nodes", "4-5"});
  const std::uint64_t a_node = info(*a)["node"];
  std::vector<std::uint64_t> a_ids = fetch_ids(*a, 10);
  ::kill(a->pid(), SIGSTOP);
  // B may take only A's node; it waits until A's lease expires.
  auto b = start({"--node", std::to_string(a_node), "--wait-for-node"}, {}, false);
  ASSERT_TRUE(b->wait_listening(4 * kTtlS)) << b->log();
  const std::vector<std::uint64_t> b_ids = fetch_ids(*b, 10);
  ::kill(a->pid(), SIGCONT);
  // A's deadline has long passed: it refuses at once, and answers 503 until it
  // holds a node again through the acquire transaction.
  HttpConnection c(a->port());
  const Reply first = c.get("/v1/next?count=10");
  EXPECT_EQ(first.status, 503) << first.body;
  EXPECT_EQ(json::parse(first.body)["code"], "lease_lost");
  ASSERT_TRUE(eventually([&] { return readyz(*a) == 200; })) << a->log();
  const json a_info = info(*a);
  EXPECT_NE(a_info["node"].get<std::uint64_t>(), a_node) << "B holds A's old node";
  EXPECT_NE(a->log().find("\"msg\":\"node taken again\""), std::string::npos);
  const std::vector<std::uint64_t> a_after = fetch_ids(*a, 10);
  expect_no_duplicates({a_ids, b_ids, a_after});
  HttpConnection m(a->port());
  const std::string metrics = m.get("/metrics").body;
  EXPECT_NE(metrics.find("idforge_etcd_lease_losses_total 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("idforge_etcd_reacquisitions_total 1"), std::string::npos);
}

TEST_F(ClusterServe, WhenEtcdStopsAnsweringEveryInstanceRefusesBeforeItsDeadlineAndRecovers) {
  auto a = start({"--nodes", "0-1", "--max-wait-ms", "50"});
  auto b = start({"--nodes", "0-1", "--max-wait-ms", "50"});
  IdLoad load_a(a->port());
  IdLoad load_b(b->port());
  ASSERT_TRUE(eventually([&] { return load_a.size() > 10'000 && load_b.size() > 10'000; }));
  etcd_.signal_all(SIGSTOP);
  // Every request is answered — 503 once the fence passes — never held.
  ASSERT_TRUE(eventually([&] { return readyz(*a) == 503 && readyz(*b) == 503; }));
  const std::uint64_t refused = load_a.refusals() + load_b.refusals();
  std::this_thread::sleep_for(std::chrono::seconds(3 * kTtlS - 5));
  EXPECT_GT(load_a.refusals() + load_b.refusals(), refused) << "requests keep being answered during the outage";
  etcd_.signal_all(SIGCONT);
  ASSERT_TRUE(eventually([&] { return readyz(*a) == 200 && readyz(*b) == 200; })) << a->log() << b->log();
  const std::size_t a_before = load_a.size();
  ASSERT_TRUE(eventually([&] { return load_a.size() > a_before + 10'000; }));
  expect_no_duplicates({load_a.finish(), load_b.finish()});
}

TEST_F(ClusterServe, SigtermWritesTheFinalMarkRevokesTheLeaseAndExitsZero) {
  auto a = start({"--node", "9"});
  const std::vector<std::uint64_t> ids = fetch_ids(*a, 3);
  const std::string lease = info(*a)["coordination"]["lease_id"];
  EXPECT_EQ(a->stop(SIGTERM), 0) << a->log();
  EXPECT_EQ(etcd_.etcdctl("get --print-value-only /idforge/snowflake-node10-seq12/holder/9").second, "");
  const auto [code, ttl] = etcd_.etcdctl("lease timetolive " + lease);
  EXPECT_NE(ttl.find("already expired"), std::string::npos) << ttl;
  const std::string mark = etcd_.etcdctl("get --print-value-only /idforge/snowflake-node10-seq12/mark/9").second;
  const std::int64_t newest_stamp = Layout::twitter().decompose(*std::max_element(ids.begin(), ids.end())).tick;
  EXPECT_EQ(mark, std::to_string(newest_stamp) + "\n") << "the final mark is the newest stamp issued";
}

TEST_F(ClusterServe, NodesListsWhoHoldsWhichNodeAndTheMarksLeftBehind) {
  auto a = start({"--node", "4"});
  auto b = start({"--node", "6"});
  (void)fetch_ids(*a, 1);
  (void)fetch_ids(*b, 1);
  EXPECT_EQ(b->stop(SIGTERM), 0) << b->log();
  const Ran held = run("nodes --etcd " + etcd_.urls() + " --json");
  ASSERT_EQ(held.exit_code, 0) << held.err;
  const json shown = json::parse(held.out);
  EXPECT_EQ(shown["space"]["geometry"], "snowflake-node10-seq12");
  EXPECT_EQ(shown["space"]["nodes"], "0-1023");
  EXPECT_EQ(shown["space"]["cluster_id"], shown["etcd"]["cluster_id"]);
  EXPECT_TRUE(shown["rollback"].empty()) << held.out;
  EXPECT_EQ(shown["held"], 2) << "a's node and a's flake-128 worker";
  EXPECT_EQ(shown["nodes"].size(), 2u) << "only the held nodes, without --all";
  const Ran listed = run("nodes --etcd " + etcd_.urls() + " --json --all");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json all = json::parse(listed.out);
  std::map<std::uint64_t, json> snowflake;
  for (const json& n : all["nodes"]) {
    if (n["space"] == "snowflake-node10-seq12") snowflake[n["node"].get<std::uint64_t>()] = n;
  }
  ASSERT_EQ(snowflake.size(), 1024u) << "a mark for every node of the space";
  EXPECT_TRUE(snowflake[4]["held"].get<bool>());
  EXPECT_EQ(snowflake[4]["holder"]["pid"], a->pid());
  EXPECT_EQ(snowflake[4]["lease"], info(*a)["coordination"]["lease_id"]);
  EXPECT_FALSE(snowflake[6]["held"].get<bool>()) << "released on SIGTERM";
  EXPECT_TRUE(snowflake[6]["mark"].is_number()) << "the mark outlives its holder";
  EXPECT_TRUE(snowflake[6]["mark_time"].get<std::string>().starts_with("20"));

  const Ran table = run("nodes --etcd " + etcd_.urls());
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("SPACE"), std::string::npos);
  EXPECT_NE(table.out.find(std::to_string(a->pid())), std::string::npos) << table.out;
  expect_one_error_line(run("nodes"), 2, "give --etcd");
  expect_one_error_line(run("nodes --etcd " + etcd_.urls() + " --etcd-prefix bad"), 2, "is not in its one spelling");
}

TEST_F(ClusterServe, AnotherLayoutGeometryOnThePrefixIsRefusedNamingBoth) {
  auto twitter = start({"--node", "1"});
  const Ran other = run("serve --listen 127.0.0.1:0 --etcd " + etcd_.urls() + " --layout instagram --node 1");
  expect_one_json_error_line(other, 2, "of geometry snowflake-node10-seq12");
  EXPECT_NE(other.err.find("snowflake-node13-seq10"), std::string::npos) << other.err;
  const Ran own_prefix = run("serve --listen 127.0.0.1:0 --etcd " + etcd_.urls() +
                             " --layout instagram --node 1 --etcd-prefix /idforge-instagram --lease-ttl-s 1");
  expect_one_json_error_line(own_prefix, 2, "--lease-ttl-s");
}

TEST_F(ClusterServe, AnInstanceWhoseClockIsFarFromItsPeersIsRefusedAndOneCloseEnoughShowsItsOffset) {
  const std::string listen = "127.0.0.1:" + std::to_string(free_port());
  auto peer = start({"--listen", listen});
  // 20 s ahead of the only peer: past the default 10 s.
  const Ran ahead = run_with("env FAKETIME=+20s LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 "
                             "ASAN_OPTIONS=verify_asan_link_order=0",
                             "serve --listen 127.0.0.1:0 --etcd " + etcd_.urls());
  expect_one_json_error_line(ahead, 1, "ms ahead of the mean of 1 other instances' clocks");
  EXPECT_NE(ahead.err.find("--max-peer-skew-ms 10000"), std::string::npos);
  // 3 s behind: it starts, and measured the peer.
  auto behind = start({"--listen", "127.0.0.1:" + std::to_string(free_port())}, clock_stepped("-3s"));
  const json peers = info(*behind)["clock"]["peers"];
  EXPECT_EQ(peers["asked"], 1);
  EXPECT_EQ(peers["answered"], 1);
  EXPECT_LT(peers["offset_us"].get<std::int64_t>(), -1'000'000);  // Within a second of the 3 s it was set back.
  EXPECT_GT(peers["offset_us"].get<std::int64_t>(), -5'000'000);
  HttpConnection c(behind->port());
  EXPECT_NE(c.get("/metrics").body.find("\nidforge_clock_peer_offset_seconds -"), std::string::npos);
}

TEST_F(ClusterServe, BadEtcdFlagsAreClearErrors) {
  expect_one_json_error_line(run("serve --etcd 127.0.0.1:2379"), 2, "must start with http:// or https://");
  expect_one_json_error_line(run("serve --etcd " + etcd_.urls() + " --etcd-prefix idforge"), 2,
                             "is not in its one spelling");
  expect_one_json_error_line(run("serve --etcd " + etcd_.urls() + " --etcd-user root"), 2, "needs a password");
  expect_one_json_error_line(run("serve --etcd " + etcd_.urls() + " --datacenter US-East"), 2,
                             "--datacenter 'US-East' must be 1 to 64 characters of a-z");
  expect_one_json_error_line(run("serve --etcd " + etcd_.urls() + " --datacenter " + std::string(65, 'a')), 2,
                             "must be 1 to 64 characters");
  expect_one_json_error_line(run("serve --etcd " + etcd_.urls() + " --etcd-cacert /nonexistent.pem"), 1,
                             "cannot read --etcd-cacert file /nonexistent.pem");
  const Ran unreachable =
      run("serve --listen 127.0.0.1:0 --etcd http://127.0.0.1:" + std::to_string(free_port()) + " --node 1");
  expect_one_json_error_line(unreachable, 1, "no etcd member of 1 answered in time");
}

// A CA and a server certificate for 127.0.0.1, made with openssl in `dir`.
EtcdTls make_certificates(const fs::path& dir) {
  fs::create_directories(dir);
  const std::string d = dir.string();
  const std::string script =
      "cd '" + d + "' && "
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem && "
      "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr && "
      "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > ext.cnf && "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf "
      "-out server.pem";
  const auto [code, out] = shell("(" + script + ") 2>&1");
  EXPECT_EQ(code, 0) << out;
  return {d + "/ca.pem", d + "/server.pem", d + "/server.key"};
}

class TlsClusterServe : public Cli {
 protected:
  EtcdTls tls_ = make_certificates(dir_ / "tls");
  EtcdCluster etcd_{dir_ / "etcd", 1, tls_};
};

TEST_F(TlsClusterServe, ATlsOnlyEtcdIsReachedWithItsCaAndRefusedWithout) {
  ASSERT_TRUE(etcd_.ready());
  ASSERT_TRUE(etcd_.urls().starts_with("https://"));
  init_space(etcd_, "--etcd-cacert " + tls_.ca);
  ServerProcess with_ca(dir_ / "data", dir_ / "tls-serve.log",
                        {"--etcd", etcd_.urls(), "--etcd-cacert", tls_.ca, "--node", "2"});
  ASSERT_TRUE(with_ca.started()) << with_ca.log();
  HttpConnection c(with_ca.port());
  EXPECT_EQ(c.get("/v1/next").status, 200);

  const Ran without = run("serve --listen 127.0.0.1:0 --etcd " + etcd_.urls() + " --node 3");
  EXPECT_EQ(without.exit_code, 1) << without.err;
  const std::vector<std::string> err = lines(without.err);
  ASSERT_FALSE(err.empty());
  for (const std::string& line : err) EXPECT_TRUE(json::accept(line)) << "every line is JSON, gRPC's own too: " << line;
  EXPECT_NE(err.back().find("\"msg\":\"cannot start\""), std::string::npos) << err.back();
  EXPECT_NE(err.back().find("certificate was not accepted: give the CA that signed it with --etcd-cacert"),
            std::string::npos) << err.back();
  const Ran plain = run("serve --listen 127.0.0.1:0 --etcd " + etcd_.url(0).replace(0, 5, "http") + " --node 3");
  EXPECT_EQ(plain.exit_code, 1) << plain.err;
  const Ran mixed = run("serve --etcd http://127.0.0.1:1 --etcd-cacert " + tls_.ca);
  expect_one_json_error_line(mixed, 2, "endpoints are http://");
}

TEST_F(ClusterServe, AWrongEtcdPasswordIsRefusedClearlyAndTheRightOneWorks) {
  ASSERT_EQ(etcd_.etcdctl("user add root:right-password").first, 0);
  ASSERT_EQ(etcd_.etcdctl("auth enable").first, 0);
  std::ofstream(dir_ / "wrong") << "wrong-password\n";
  std::ofstream(dir_ / "right") << "right-password\n";
  const Ran wrong = run("serve --listen 127.0.0.1:0 --etcd " + etcd_.urls() + " --etcd-user root --etcd-password-file " +
                        (dir_ / "wrong").string());
  expect_one_json_error_line(wrong, 2, "etcd refused user 'root'");
  EXPECT_EQ(wrong.err.find("wrong-password"), std::string::npos) << "the password is never logged";
  const Ran by_env = run_with("IDFORGE_ETCD_PASSWORD=also-wrong", "serve --listen 127.0.0.1:0 --etcd " + etcd_.urls() +
                                                                   " --etcd-user root");
  expect_one_json_error_line(by_env, 2, "etcd refused user 'root'");

  auto right = start({"--etcd-user", "root", "--etcd-password-file", (dir_ / "right").string(), "--node", "1"});
  ASSERT_TRUE(right->started());
  EXPECT_EQ(fetch_ids(*right, 2).size(), 2000u);
  EXPECT_EQ(right->log().find("right-password"), std::string::npos);
  EXPECT_EQ(right->stop(SIGTERM), 0) << right->log();
  // Leave etcd as the fixture found it, for its teardown's health probe.
  (void)etcd_.etcdctl("--user root:right-password auth disable");
}

class ThreeMemberClusterServe : public ClusterServe {
 protected:
  void SetUp() override {
    ClusterServe::SetUp();
    ASSERT_TRUE(three_.ready());
    init_space(three_);
  }

  EtcdCluster three_{dir_ / "etcd3", 3};
};

TEST_F(ThreeMemberClusterServe, KillingTheEtcdLeaderUnderLoadLeavesInstancesServingOnTheOtherMembers) {
  ASSERT_TRUE(three_.ready());
  std::vector<std::unique_ptr<ServerProcess>> servers;
  for (int i = 0; i < 2; ++i) {
    servers.push_back(std::make_unique<ServerProcess>(
        dir_ / "data", dir_ / ("three-" + std::to_string(i) + ".log"),
        std::vector<std::string>{"--etcd", three_.urls(), "--lease-ttl-s", std::to_string(kTtlS), "--nodes", "0-3"}));
    ASSERT_TRUE(servers.back()->started());
  }
  IdLoad load_a(servers[0]->port());
  IdLoad load_b(servers[1]->port());
  ASSERT_TRUE(eventually([&] { return load_a.size() > 10'000 && load_b.size() > 10'000; }));
  int leader = -1;
  ASSERT_TRUE(eventually([&] { return (leader = three_.leader()) >= 0; }));
  three_.kill(leader);
  // Both keep (or go back to) serving through the two members left, past several TTLs.
  for (int round = 0; round < 3; ++round) {
    const std::size_t a = load_a.size(), b = load_b.size();
    std::this_thread::sleep_for(std::chrono::seconds(kTtlS));
    ASSERT_TRUE(eventually([&] { return load_a.size() > a && load_b.size() > b; }))
        << servers[0]->log() << servers[1]->log();
  }
  EXPECT_EQ(readyz(*servers[0]), 200) << servers[0]->log();
  EXPECT_EQ(readyz(*servers[1]), 200) << servers[1]->log();
  expect_no_duplicates({load_a.finish(), load_b.finish()});
}

// A network namespace of this test process's own, with loopback up, so that the
// nftables rules a test adds touch nothing outside it. Every process the test
// starts afterwards (etcd members, instances) lives in it.
bool enter_private_network() {
  if (::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0) return false;
  return shell("ip link set lo up 2>&1").first == 0;
}

// How a partition answers the cut-off instance's packets.
enum class Cut { drop, reject };

class PartitionedClusterServe : public ::testing::TestWithParam<Cut> {
 protected:
  void SetUp() override {
    if (!enter_private_network()) GTEST_SKIP() << "needs root to make a network namespace (unshare --net)";
    etcd_ = std::make_unique<EtcdCluster>(temp_.path() / "etcd");
    ASSERT_TRUE(etcd_->ready());
    init_space(*etcd_);
  }

  std::unique_ptr<ServerProcess> start(const std::string& name, std::vector<std::string> prefix) {
    std::vector<std::string> args = {"--etcd", etcd_->urls(), "--lease-ttl-s", std::to_string(kTtlS), "--nodes", "0-1",
                                     "--max-wait-ms", "50"};
    auto server = std::make_unique<ServerProcess>(temp_.path() / "data", temp_.path() / (name + ".log"), args,
                                                  std::move(prefix));
    EXPECT_TRUE(server->started());
    return server;
  }

  TempDir temp_;
  std::unique_ptr<EtcdCluster> etcd_;
};

TEST_P(PartitionedClusterServe, ACutOffInstanceRefusesWithoutBlockingWhileTheOtherServesAndBothRecover) {
  // A runs as `nobody`, so a rule on its packets' owner cuts A alone from etcd.
  auto a = start("a", {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  auto b = start("b", {});
  ASSERT_TRUE(a->started() && b->started());
  IdLoad load_a(a->port());
  IdLoad load_b(b->port());
  ASSERT_TRUE(eventually([&] { return load_a.size() > 10'000 && load_b.size() > 10'000; }));

  const std::string port = etcd_->url(0).substr(etcd_->url(0).rfind(':') + 1);
  const std::string verdict = GetParam() == Cut::drop ? "drop" : "reject with tcp reset";
  ASSERT_EQ(shell("nft add table inet partition && nft add chain inet partition out "
                  "'{ type filter hook output priority 0; }' && nft add rule inet partition out meta skuid 65534 "
                  "tcp dport " + port + " " + verdict + " 2>&1").first, 0);
  // From the cut on, A answers every request at once: from its reservation while
  // it lasts, then 503 — a request never waits on etcd, and by its fence A stops.
  std::int64_t slowest_ms = 0;
  int refused = 0;
  const auto cut_ends = std::chrono::steady_clock::now() + std::chrono::seconds(3 * kTtlS);
  HttpConnection probe(a->port());
  std::size_t b_during = load_b.size();
  while (std::chrono::steady_clock::now() < cut_ends) {
    const auto sent = std::chrono::steady_clock::now();
    const Reply reply = probe.get("/v1/next");
    slowest_ms = std::max<std::int64_t>(slowest_ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        std::chrono::steady_clock::now() - sent).count());
    EXPECT_TRUE(reply.status == 200 || reply.status == 503) << reply.status << " " << reply.body;
    refused += reply.status == 503;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GT(refused, 0);
  EXPECT_EQ(readyz(*a), 503) << a->log();
  // A hang detector, far above --max-wait-ms (50): a request that waited on etcd
  // would take a call timeout (2 s) or more.
  EXPECT_LT(slowest_ms, 1500) << "a request to the cut-off instance blocked";
  EXPECT_GT(load_b.size(), b_during) << "B kept serving";
  EXPECT_EQ(readyz(*b), 200);

  ASSERT_EQ(shell("nft delete table inet partition 2>&1").first, 0);
  ASSERT_TRUE(eventually([&] { return readyz(*a) == 200; })) << a->log();
  const std::size_t a_after = load_a.size();
  ASSERT_TRUE(eventually([&] { return load_a.size() > a_after + 10'000; }));
  EXPECT_NE(a->log().find("\"msg\":\"node taken again\""), std::string::npos);
  std::vector<std::uint64_t> all = load_a.finish();
  const std::vector<std::uint64_t> from_b = load_b.finish();
  const std::size_t total = all.size() + from_b.size();
  all.insert(all.end(), from_b.begin(), from_b.end());
  EXPECT_EQ(std::set<std::uint64_t>(all.begin(), all.end()).size(), total) << "duplicate IDs";
}

INSTANTIATE_TEST_SUITE_P(DropAndReject, PartitionedClusterServe, ::testing::Values(Cut::drop, Cut::reject),
                         [](const ::testing::TestParamInfo<Cut>& cut) {
                           return std::string(cut.param == Cut::drop ? "Drop" : "Reject");
                         });

}  // namespace
}  // namespace idforge::testing
