// SPDX-License-Identifier: Apache-2.0
// EtcdReservation and EtcdLease against a real etcd member (Debian's etcd-server).
#include "idforge/etcd_reservation.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <set>
#include <thread>

#include "idforge/generator.h"
#include "support/etcd.h"
#include "support/eventually.h"
#include "support/temp_dir.h"

namespace idforge {
namespace {

using testing::EtcdCluster;
using testing::eventually;
using testing::TempDir;

constexpr const char* kPrefix = "/test";

class EtcdReservationTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(etcd_.ready()); }

  std::shared_ptr<EtcdClient> client() {
    EtcdOptions options;
    options.endpoints = {etcd_.url(0)};
    auto c = EtcdClient::connect(options);
    EXPECT_TRUE(c) << c.error().message();
    return *c;
  }
  std::shared_ptr<EtcdLease> lease(std::int64_t ttl_s = 10) {
    auto l = EtcdLease::grant(client(), ttl_s, clock_);
    EXPECT_TRUE(l) << l.error().message();
    return *l;
  }

  TempDir dir_;
  EtcdCluster etcd_{dir_.path()};
  SystemClock clock_;
  const Layout layout_ = Layout::twitter();
};

TEST_F(EtcdReservationTest, HoldersGetDistinctNodesAndOneTooManyIsRefused) {
  std::vector<std::unique_ptr<EtcdReservation>> held;
  std::set<std::uint64_t> nodes;
  for (int i = 0; i < 3; ++i) {
    auto r = EtcdReservation::acquire_any(lease(), kPrefix, layout_, 0, 2, "{\"i\":" + std::to_string(i) + "}");
    ASSERT_TRUE(r) << r.error().message();
    nodes.insert((*r)->node());
    EXPECT_FALSE((*r)->inherited_stamp()) << "never held";
    held.push_back(std::move(*r));
  }
  EXPECT_EQ(nodes, (std::set<std::uint64_t>{0, 1, 2}));
  auto fourth = EtcdReservation::acquire_any(lease(), kPrefix, layout_, 0, 2, "{}");
  ASSERT_FALSE(fourth);
  EXPECT_EQ(fourth.error().code(), Errc::unavailable);
  EXPECT_NE(fourth.error().message().find("every node in 0-2"), std::string::npos) << fourth.error().message();
  auto named = EtcdReservation::acquire(lease(), kPrefix, layout_, 1, "{}");
  ASSERT_FALSE(named);
  EXPECT_NE(named.error().message().find("held by {\"i\":"), std::string::npos) << named.error().message();
}

TEST_F(EtcdReservationTest, ASuccessorInheritsTheMarkOfAHolderThatVanished) {
  {
    auto first = lease();
    auto r = EtcdReservation::acquire(first, kPrefix, layout_, 5, "{}");
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE((*r)->extend(123'456));
    // A crash: no release; the holder key goes with the lease.
    ASSERT_EQ(etcd_.etcdctl("lease revoke " + [&] {
      char hex[32];
      std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(first->id()));
      return std::string(hex);
    }()).first, 0);
  }
  auto next = EtcdReservation::acquire(lease(), kPrefix, layout_, 5, "{}");
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ((*next)->inherited_stamp(), 123'456);
}

TEST_F(EtcdReservationTest, ReleaseWritesTheFinalMarkAndFreesTheNodeAtOnce) {
  auto r = EtcdReservation::acquire(lease(), kPrefix, layout_, 7, "{}");
  ASSERT_TRUE(r);
  ASSERT_TRUE((*r)->extend(9'000));
  ASSERT_TRUE((*r)->release(8'000));
  EXPECT_EQ((*r)->extend(10'000).error().code(), Errc::lease_lost) << "released";
  auto next = EtcdReservation::acquire(lease(), kPrefix, layout_, 7, "{}");
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ((*next)->inherited_stamp(), 8'000);
}

TEST_F(EtcdReservationTest, AHolderWhoseNodeWasTakenCannotExtend) {
  auto a = EtcdReservation::acquire(lease(), kPrefix, layout_, 3, "{\"who\":\"a\"}");
  ASSERT_TRUE(a);
  ASSERT_TRUE((*a)->extend(100));
  // Someone removes A's holder key by hand, and B takes the node.
  ASSERT_EQ(etcd_.etcdctl(std::string("del ") + kPrefix + "/snowflake-node10-seq12/holder/3").first, 0);
  auto b = EtcdReservation::acquire(lease(), kPrefix, layout_, 3, "{\"who\":\"b\"}");
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
  auto twitter = EtcdReservation::acquire(lease(), kPrefix, layout_, 1, "{}");
  ASSERT_TRUE(twitter);
  auto other = EtcdReservation::acquire_any(lease(), kPrefix, Layout::instagram(), 0, 3, "{}");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), Errc::invalid_argument);
  EXPECT_NE(other.error().message().find("snowflake-node10-seq12"), std::string::npos) << other.error().message();
  EXPECT_NE(other.error().message().find(NodeSpace(Layout::instagram()).name), std::string::npos);
  // The same geometry under another epoch shares the nodes: node 1 is held.
  auto twin_layout = Layout::parse("time:41-worker:10-seq:12/epoch=2015-01-01");
  ASSERT_TRUE(twin_layout) << twin_layout.error().message();
  auto twin = EtcdReservation::acquire(lease(), kPrefix, *twin_layout, 1, "{}");
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.error().code(), Errc::unavailable);
}

TEST_F(EtcdReservationTest, ADamagedMarkIsRefusedAndSkipped) {
  ASSERT_EQ(etcd_.etcdctl(std::string("put ") + kPrefix + "/snowflake-node10-seq12/mark/0 garbage").first, 0);
  auto named = EtcdReservation::acquire(lease(), kPrefix, layout_, 0, "{}");
  ASSERT_FALSE(named);
  EXPECT_EQ(named.error().code(), Errc::io);
  EXPECT_NE(named.error().message().find("not a stamp"), std::string::npos) << named.error().message();
  auto any = EtcdReservation::acquire_any(lease(), kPrefix, layout_, 0, 1, "{}");
  ASSERT_TRUE(any) << any.error().message();
  EXPECT_EQ((*any)->node(), 1u);
  ASSERT_EQ((*any)->notes().size(), 1u);
  EXPECT_EQ(etcd_.etcdctl(std::string("get --print-value-only ") + kPrefix + "/snowflake-node10-seq12/holder/0").second,
            "") << "the refused node was given back";
}

TEST_F(EtcdReservationTest, ARevokedLeaseStopsItsGenerator) {
  auto l = lease(5);
  auto r = EtcdReservation::acquire(l, kPrefix, layout_, 9, "{}");
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
  auto r = EtcdReservation::acquire(l, kPrefix, layout_, 4, "{}");
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
  auto r = EtcdReservation::acquire(l, kPrefix, layout_, 2, "{}");
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
  EXPECT_FALSE(check_etcd_prefix("/idforge/"));
  EXPECT_TRUE(check_etcd_prefix("/idforge"));
}

}  // namespace
}  // namespace idforge
