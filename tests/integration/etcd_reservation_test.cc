// SPDX-License-Identifier: Apache-2.0
// EtcdReservation and EtcdLease against a real etcd member (Debian's etcd-server).
#include "idforge/etcd_reservation.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <set>
#include <thread>

#include "idforge/etcd_space.h"
#include "idforge/file_reservation.h"
#include "idforge/generator.h"
#include "support/etcd.h"
#include "support/eventually.h"
#include "support/temp_dir.h"

namespace idforge {
namespace {

using testing::EtcdCluster;
using testing::eventually;
using testing::TempDir;
namespace fs = std::filesystem;

// What an instance of `layout` checks of the space under `prefix`.
EtcdSpaceCheck check_of(const std::string& prefix, const Layout& layout, const fs::path& host_dir = {}) {
  EtcdSpaceCheck check;
  check.prefix = prefix;
  check.layout = layout;
  check.host_dir = host_dir;
  return check;
}

EtcdSpaceSpec spec_of(const std::string& prefix) {
  EtcdSpaceSpec spec;
  spec.prefix = prefix;
  return spec;
}

constexpr const char* kPrefix = "/test";

class EtcdReservationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.ready());
    client_ = client();
    Result<EtcdSpaceRecord> made = EtcdSpace::create(*client_, spec_of(kPrefix), clock_);
    ASSERT_TRUE(made) << made.error().message();
    made_stamp_ = Layout::twitter().tick_at_unix_ms(made->created_unix_ms);
    space_ = open_space();
  }

  std::shared_ptr<EtcdClient> client() {
    EtcdOptions options;
    options.endpoints = {etcd_.url(0)};
    auto c = EtcdClient::connect(options);
    EXPECT_TRUE(c) << c.error().message();
    return *c;
  }
  std::shared_ptr<EtcdSpace> open_space(const Layout& layout = Layout::twitter(), const fs::path& host_dir = {}) {
    auto s = EtcdSpace::open(client_, check_of(kPrefix, layout, host_dir), clock_).space;
    EXPECT_TRUE(s) << s.error().message();
    return s ? *s : nullptr;
  }
  std::shared_ptr<EtcdLease> lease(std::int64_t ttl_s = 10) {
    auto l = EtcdLease::grant(client_, ttl_s, clock_);
    EXPECT_TRUE(l) << l.error().message();
    return *l;
  }

  TempDir dir_;
  EtcdCluster etcd_{dir_.path()};
  SystemClock clock_;
  const Layout layout_ = Layout::twitter();
  std::shared_ptr<EtcdClient> client_;
  std::shared_ptr<EtcdSpace> space_;
  std::int64_t made_stamp_ = 0;
};

TEST_F(EtcdReservationTest, HoldersGetDistinctNodesAndOneTooManyIsRefused) {
  std::vector<std::unique_ptr<EtcdReservation>> held;
  std::set<std::uint64_t> nodes;
  for (int i = 0; i < 3; ++i) {
    auto r = EtcdReservation::acquire_any(lease(), space_, layout_, 0, 2, "{\"i\":" + std::to_string(i) + "}");
    ASSERT_TRUE(r) << r.error().message();
    nodes.insert((*r)->node());
    EXPECT_EQ((*r)->inherited_stamp(), made_stamp_) << "never held: the mark the space was made with";
    held.push_back(std::move(*r));
  }
  EXPECT_EQ(nodes, (std::set<std::uint64_t>{0, 1, 2}));
  auto fourth = EtcdReservation::acquire_any(lease(), space_, layout_, 0, 2, "{}");
  ASSERT_FALSE(fourth);
  EXPECT_EQ(fourth.error().code(), Errc::unavailable);
  EXPECT_NE(fourth.error().message().find("every node in 0-2"), std::string::npos) << fourth.error().message();
  auto named = EtcdReservation::acquire(lease(), space_, layout_, 1, "{}");
  ASSERT_FALSE(named);
  EXPECT_NE(named.error().message().find("held by {\"i\":"), std::string::npos) << named.error().message();
}

TEST_F(EtcdReservationTest, ASuccessorInheritsTheMarkOfAHolderThatVanished) {
  {
    auto first = lease();
    auto r = EtcdReservation::acquire(first, space_, layout_, 5, "{}");
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE((*r)->extend(123'456));
    // A crash: no release; the holder key goes with the lease.
    ASSERT_EQ(etcd_.etcdctl("lease revoke " + [&] {
      char hex[32];
      std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(first->id()));
      return std::string(hex);
    }()).first, 0);
  }
  auto next = EtcdReservation::acquire(lease(), space_, layout_, 5, "{}");
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ((*next)->inherited_stamp(), 123'456);
}

TEST_F(EtcdReservationTest, ReleaseWritesTheFinalMarkAndFreesTheNodeAtOnce) {
  auto r = EtcdReservation::acquire(lease(), space_, layout_, 7, "{}");
  ASSERT_TRUE(r);
  ASSERT_TRUE((*r)->extend(9'000));
  ASSERT_TRUE((*r)->release(8'000));
  EXPECT_EQ((*r)->extend(10'000).error().code(), Errc::lease_lost) << "released";
  auto next = EtcdReservation::acquire(lease(), space_, layout_, 7, "{}");
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ((*next)->inherited_stamp(), 8'000);
}

TEST_F(EtcdReservationTest, AHolderWhoseNodeWasTakenCannotExtend) {
  auto a = EtcdReservation::acquire(lease(), space_, layout_, 3, "{\"who\":\"a\"}");
  ASSERT_TRUE(a);
  ASSERT_TRUE((*a)->extend(100));
  // Someone removes A's holder key by hand, and B takes the node.
  ASSERT_EQ(etcd_.etcdctl(std::string("del ") + kPrefix + "/snowflake-node10-seq12/holder/3").first, 0);
  auto b = EtcdReservation::acquire(lease(), space_, layout_, 3, "{\"who\":\"b\"}");
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ((*b)->inherited_stamp(), 100);
  Result<void> extended = (*a)->extend(200);
  ASSERT_FALSE(extended);
  EXPECT_EQ(extended.error().code(), Errc::lease_lost);
  EXPECT_NE(extended.error().message().find("{\"who\":\"b\"}"), std::string::npos) << extended.error().message();
  EXPECT_FALSE((*a)->release(200)) << "not the owner: the final mark is not written";
  EXPECT_EQ(etcd_.etcdctl(std::string("get --print-value-only ") + kPrefix + "/snowflake-node10-seq12/mark/3").second,
            "100\n");
}

TEST_F(EtcdReservationTest, AnotherGeometryIsRefusedAndAnotherSpellingShares) {
  auto twitter = EtcdReservation::acquire(lease(), space_, layout_, 1, "{}");
  ASSERT_TRUE(twitter);
  EtcdSpace::Opened other = EtcdSpace::open(client_, check_of(kPrefix, Layout::instagram()), clock_);
  ASSERT_FALSE(other.space);
  EXPECT_EQ(other.space.error().code(), Errc::invalid_argument);
  EXPECT_NE(other.space.error().message().find("snowflake-node10-seq12"), std::string::npos) << other.space.error().message();
  EXPECT_NE(other.space.error().message().find(NodeSpace(Layout::instagram()).name), std::string::npos);
  // The same geometry under another epoch shares the nodes: node 1 is held.
  auto twin_layout = Layout::parse("time:41-worker:10-seq:12/epoch=2015-01-01");
  ASSERT_TRUE(twin_layout) << twin_layout.error().message();
  auto twin = EtcdReservation::acquire(lease(), open_space(*twin_layout), *twin_layout, 1, "{}");
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.error().code(), Errc::unavailable);
}

TEST_F(EtcdReservationTest, ADamagedMarkIsRefusedAndSkipped) {
  ASSERT_EQ(etcd_.etcdctl(std::string("put ") + kPrefix + "/snowflake-node10-seq12/mark/0 garbage").first, 0);
  auto named = EtcdReservation::acquire(lease(), space_, layout_, 0, "{}");
  ASSERT_FALSE(named);
  EXPECT_EQ(named.error().code(), Errc::io);
  EXPECT_NE(named.error().message().find("not a stamp"), std::string::npos) << named.error().message();
  auto any = EtcdReservation::acquire_any(lease(), space_, layout_, 0, 1, "{}");
  ASSERT_TRUE(any) << any.error().message();
  EXPECT_EQ((*any)->node(), 1u);
  ASSERT_EQ((*any)->notes().size(), 1u);
  EXPECT_EQ(etcd_.etcdctl(std::string("get --print-value-only ") + kPrefix + "/snowflake-node10-seq12/holder/0").second,
            "") << "the refused node was given back";
}

TEST_F(EtcdReservationTest, ARevokedLeaseStopsItsGenerator) {
  auto l = lease(5);
  auto r = EtcdReservation::acquire(l, space_, layout_, 9, "{}");
  ASSERT_TRUE(r);
  auto generator = Generator::create({}, clock_, **r);
  ASSERT_TRUE(generator);
  ASSERT_TRUE((*generator)->next());
  char hex[32];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(l->id()));
  ASSERT_EQ(etcd_.etcdctl(std::string("lease revoke ") + hex).first, 0);
  // The next keepalive is answered with TTL 0: lost, and the fence drops.
  ASSERT_TRUE(eventually([&] { return l->state() == EtcdLease::State::lost; }));
  EXPECT_TRUE(l->fence().dropped());
  Result<std::uint64_t> id = (*generator)->next();
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code(), Errc::lease_lost);
}

TEST_F(EtcdReservationTest, AnUnansweredLeasePassesItsFenceAndTheGeneratorStops) {
  auto l = lease(5);
  auto r = EtcdReservation::acquire(l, space_, layout_, 4, "{}");
  ASSERT_TRUE(r);
  auto generator = Generator::create({}, clock_, **r);
  ASSERT_TRUE(generator);
  ASSERT_TRUE((*generator)->next());
  etcd_.signal_all(SIGSTOP);
  ASSERT_TRUE(eventually([&] { return l->lapsed(); }));
  Result<std::uint64_t> id = (*generator)->next();
  etcd_.signal_all(SIGCONT);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code(), Errc::lease_lost);
  EXPECT_TRUE(eventually([&] { return l->state() == EtcdLease::State::lost; }));
  EXPECT_TRUE((*generator)->next().error().code() == Errc::lease_lost) << "lost means lost, even once etcd is back";
}

TEST_F(EtcdReservationTest, KeepalivesHoldTheLeasePastItsTtl) {
  auto l = lease(5);
  auto r = EtcdReservation::acquire(l, space_, layout_, 2, "{}");
  ASSERT_TRUE(r);
  std::this_thread::sleep_for(std::chrono::seconds(8));
  EXPECT_EQ(l->state(), EtcdLease::State::held);
  EXPECT_GT(l->ms_until_fence(), 0);
  EXPECT_TRUE((*r)->extend(50)) << "still the owner after more than a TTL";
}

TEST_F(EtcdReservationTest, BadOptionsAreRefusedClearly) {
  EtcdOptions options;
  EXPECT_EQ(EtcdClient::connect(options).error().code(), Errc::invalid_argument);
  options.endpoints = {"127.0.0.1:2379"};
  EXPECT_NE(EtcdClient::connect(options).error().message().find("http://"), std::string::npos);
  options.endpoints = {"http://127.0.0.1:2379/v3"};
  EXPECT_FALSE(EtcdClient::connect(options));
  EXPECT_EQ(EtcdLease::grant(client(), 2, clock_).error().code(), Errc::invalid_argument);
  EXPECT_EQ(check_etcd_prefix("idforge").error().code(), Errc::invalid_argument);
  EXPECT_TRUE(check_etcd_prefix("/idforge"));
  EXPECT_TRUE(check_etcd_prefix("/idforge/eu-west-1/v1.2_x"));
  // One spelling per prefix: each of these would be a second space beside /idforge.
  for (const char* other : {"/idforge/", "//idforge", "/IDFORGE", "/idforge//dc1", "/id forge", "/idforge/./x", "/"}) {
    Result<void> refused = check_etcd_prefix(other);
    ASSERT_FALSE(refused) << other;
    EXPECT_EQ(refused.error().code(), Errc::invalid_argument);
  }
  EXPECT_NE(check_etcd_prefix("//IDforge/").error().message().find("(write it /idforge)"), std::string::npos)
      << check_etcd_prefix("//IDforge/").error().message();
}

TEST_F(EtcdReservationTest, ASpaceIsMadeOnceWithAMarkForEveryNodeAndAPrefixWithoutOneIsRefused) {
  Result<EtcdSpaceRecord> twice = EtcdSpace::create(*client_, spec_of(kPrefix), clock_);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code(), Errc::invalid_argument);
  EXPECT_NE(twice.error().message().find("already holds ID space " + space_->record().id), std::string::npos);
  EXPECT_EQ(space_->record().cluster_id, etcd_.cluster_id());
  EXPECT_EQ(space_->record().first_node, 0u);
  EXPECT_EQ(space_->record().last_node, 1023u);
  // A mark for every node and every flake-128 worker auto-picked.
  auto [code, marks] = etcd_.etcdctl(std::string("get --prefix --keys-only ") + kPrefix + "/");
  EXPECT_EQ(code, 0);
  const auto count = [&marks](const std::string& keys) {
    std::size_t n = 0;
    for (std::size_t at = 0; (at = marks.find(keys, at)) != std::string::npos; at += keys.size()) ++n;
    return n;
  };
  const std::size_t snowflake = count("/snowflake-node10-seq12/mark/");
  const std::size_t flake = count("/flake128/mark/");
  EXPECT_EQ(snowflake, 1024u);
  EXPECT_EQ(flake, kEtcdFlake128Workers);

  EtcdSpaceCheck elsewhere = check_of("/test/other", layout_);
  EtcdSpace::Opened none = EtcdSpace::open(client_, elsewhere, clock_);
  ASSERT_FALSE(none.space);
  EXPECT_EQ(none.refused, EtcdSpace::Refusal::missing);
  EXPECT_EQ(none.space.error().code(), Errc::io);
  EXPECT_NE(none.space.error().message().find("idforge nodes init"), std::string::npos) << none.space.error().message();
  // With create_if_missing it is made as init makes it, with the check's range.
  elsewhere.create_if_missing = true;
  elsewhere.nodes = std::pair<std::uint64_t, std::uint64_t>{10, 19};
  EtcdSpace::Opened made = EtcdSpace::open(client_, elsewhere, clock_);
  ASSERT_TRUE(made.space) << made.space.error().message();
  EXPECT_EQ((*made.space)->record().first_node, 10u);
  EXPECT_EQ((*made.space)->record().last_node, 19u);
  EXPECT_NE((*made.space)->record().id, space_->record().id);
}

TEST_F(EtcdReservationTest, NodesOutsideTheSpaceAndAnotherDatacenterAreRefused) {
  EtcdSpaceSpec spec = spec_of("/test/dc1");
  spec.nodes = std::pair<std::uint64_t, std::uint64_t>{0, 99};
  spec.datacenter = "us-east";
  ASSERT_TRUE(EtcdSpace::create(*client_, spec, clock_));
  EtcdSpaceCheck outside = check_of("/test/dc1", layout_);
  outside.nodes = std::pair<std::uint64_t, std::uint64_t>{100, 199};
  EtcdSpace::Opened refused = EtcdSpace::open(client_, outside, clock_);
  ASSERT_FALSE(refused.space);
  EXPECT_EQ(refused.space.error().code(), Errc::invalid_argument);
  EXPECT_NE(refused.space.error().message().find("owns nodes 0-99"), std::string::npos) << refused.space.error().message();
  EtcdSpaceCheck other_dc = check_of("/test/dc1", layout_);
  other_dc.datacenter = "eu-west";
  refused = EtcdSpace::open(client_, other_dc, clock_);
  ASSERT_FALSE(refused.space);
  EXPECT_NE(refused.space.error().message().find("belongs to datacenter us-east"), std::string::npos);
  other_dc.datacenter = "us-east";
  EXPECT_TRUE(EtcdSpace::open(client_, other_dc, clock_).space);
}

TEST_F(EtcdReservationTest, AMissingMarkIsAStoreThatForgotAndTheRefusalStaysUntilARecovery) {
  ASSERT_EQ(etcd_.etcdctl(std::string("del ") + kPrefix + "/snowflake-node10-seq12/mark/5").first, 0);
  auto taken = EtcdReservation::acquire(lease(), space_, layout_, 5, "{}");
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code(), Errc::io);
  EXPECT_NE(taken.error().message().find("has no mark"), std::string::npos) << taken.error().message();
  EXPECT_EQ(etcd_.etcdctl(std::string("get --print-value-only ") + kPrefix + "/snowflake-node10-seq12/holder/5").second,
            "") << "given back";
  EXPECT_EQ(space_->refusal_reason(), EtcdSpace::Refusal::mark_missing);
  // Every other node of the space too, and a new open of the same incarnation.
  EXPECT_FALSE(EtcdReservation::acquire(lease(), space_, layout_, 6, "{}"));
  EtcdSpace::Opened again = EtcdSpace::open(client_, check_of(kPrefix, layout_), clock_, space_.get());
  ASSERT_FALSE(again.space);
  EXPECT_EQ(again.refused, EtcdSpace::Refusal::mark_missing);

  const std::int64_t until_ms = clock_.wall_ns() / 1'000'000 + 60'000;
  Result<EtcdSpace::Recovery> recovered = EtcdSpace::recover(*client_, spec_of(kPrefix), until_ms, 0, std::nullopt, clock_);
  ASSERT_TRUE(recovered) << recovered.error().message();
  EXPECT_GT(recovered->record.incarnation, space_->record().incarnation);
  EXPECT_EQ(recovered->raised_to_unix_ms, until_ms);
  auto fresh = EtcdSpace::open(client_, check_of(kPrefix, layout_), clock_, space_.get()).space;
  ASSERT_TRUE(fresh) << fresh.error().message();
  auto node = EtcdReservation::acquire(lease(), *fresh, layout_, 5, "{}");
  ASSERT_TRUE(node) << node.error().message();
  EXPECT_EQ((*node)->inherited_stamp(), layout_.tick_at_unix_ms(until_ms)) << "raised past everything issued";
}

TEST_F(EtcdReservationTest, ARevisionBelowOneSeenRefusesTheSpaceAndAHolderStops) {
  auto l = lease();
  auto r = EtcdReservation::acquire(l, space_, layout_, 8, "{}");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE((*r)->extend(made_stamp_ + 1000));
  // An answer from a store with a lower revision than one already seen.
  Result<void> back = space_->witness(1);
  ASSERT_FALSE(back);
  EXPECT_NE(back.error().message().find("went back from"), std::string::npos) << back.error().message();
  Result<void> extended = (*r)->extend(made_stamp_ + 2000);
  ASSERT_FALSE(extended);
  EXPECT_EQ(extended.error().code(), Errc::lease_lost) << "the holder stops for good";
  EXPECT_EQ(space_->refusal_reason(), EtcdSpace::Refusal::revision);
  EXPECT_EQ(etcd_.etcdctl(std::string("get --print-value-only ") + kPrefix + "/snowflake-node10-seq12/mark/8").second,
            std::to_string(made_stamp_ + 1000) + "\n");
}

TEST_F(EtcdReservationTest, AMarkBelowWhatThisHostReservedIsRefusedAndTheFileStoreStandsAside) {
  const fs::path host = dir_.path() / "host";
  std::shared_ptr<EtcdSpace> space = open_space(layout_, host);
  {
    auto l = lease();
    auto r = EtcdReservation::acquire(l, space, layout_, 3, "{}");
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE((*r)->extend(made_stamp_ + 5000));
    // Gone without a release (its lease ends, its holder key with it); then etcd
    // loses the mark's last value.
    ASSERT_TRUE(l->revoke());
  }
  ASSERT_EQ(etcd_.etcdctl(std::string("put ") + kPrefix + "/snowflake-node10-seq12/mark/3 " +
                          std::to_string(made_stamp_ + 10)).first, 0);
  auto again = EtcdReservation::acquire(lease(), space, layout_, 3, "{}");
  ASSERT_FALSE(again) << "the mark is below what this host reserved";
  EXPECT_EQ(again.error().code(), Errc::io);
  EXPECT_NE(again.error().message().find("below what this host itself reserved"), std::string::npos)
      << again.error().message();
  EXPECT_NE(again.error().message().find("--issued-until"), std::string::npos);
  EXPECT_EQ(space->refusal_reason(), EtcdSpace::Refusal::mark_below_host);
  // This host's nodes of the geometry now come from etcd: the file store refuses them.
  auto local = FileReservation::acquire(host, layout_, 4);
  ASSERT_FALSE(local);
  EXPECT_EQ(local.error().code(), Errc::invalid_argument);
  EXPECT_NE(local.error().message().find("from etcd"), std::string::npos) << local.error().message();
  EXPECT_FALSE(FileReservation::acquire_any(host, NodeSpace::flake128(), 0, 3)) << "and its flake-128 workers";
}

TEST_F(EtcdReservationTest, EndpointsOfTwoClustersAreRefusedAndAMemberFoundForeignLaterIsNeverUsed) {
  EtcdCluster second{dir_.path() / "second"};
  ASSERT_TRUE(second.ready());
  EtcdOptions both;
  both.endpoints = {etcd_.url(0), second.url(0)};
  auto refused = EtcdClient::connect(both);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::invalid_argument);
  EXPECT_NE(refused.error().message().find("2 different clusters"), std::string::npos) << refused.error().message();
  // The other cluster's member down at start: the client begins on this cluster,
  // and when the member is back it is found foreign and never used.
  second.kill(0);
  both.endpoints = {second.url(0), etcd_.url(0)};
  auto client = EtcdClient::connect(both);
  ASSERT_TRUE(client) << client.error().message();
  EXPECT_EQ((*client)->cluster_id(), etcd_.cluster_id());
  second.restart(0);
  ASSERT_TRUE(second.wait_healthy());
  auto space = EtcdSpace::open(*client, check_of(kPrefix, layout_), clock_).space;
  ASSERT_TRUE(space) << space.error().message();
  // This cluster's member goes away: the calls fail over — and find only the foreign one.
  etcd_.kill(0);
  auto stranded = EtcdLease::grant(*client, 10, clock_);
  ASSERT_FALSE(stranded) << "no member of this cluster answers";
  EXPECT_EQ(second.etcdctl("get --prefix --keys-only /").second, "") << "nothing was written to the other cluster";
  EXPECT_NE(second.etcdctl("lease list").second.find("found 0 leases"), std::string::npos);
  EXPECT_FALSE((*client)->cluster_replaced()) << "one member is still of this cluster";
  etcd_.restart(0);
  ASSERT_TRUE(etcd_.wait_healthy());
  ASSERT_TRUE(eventually([&] { return EtcdLease::grant(*client, 10, clock_).has_value(); }));
}

}  // namespace
}  // namespace idforge
