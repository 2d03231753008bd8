// SPDX-License-Identifier: Apache-2.0
#include "idforge/generator.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "support/fenced_reservation.h"
#include "support/fork_kinds.h"

namespace idforge {
namespace {

constexpr std::int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kNsPerMs = 1'000'000;

struct Rig {
  explicit Rig(GeneratorOptions options = {}, std::optional<std::int64_t> inherited = std::nullopt,
               std::int64_t start_ms = kStartMs)
      : clock(start_ms * kNsPerMs),
        reservation(options.layout.node_bits() > 0 ? 5 : 0, inherited),
        layout(options.layout) {
    auto made = Generator::create(options, clock, reservation);
    EXPECT_TRUE(made) << (made ? "" : made.error().message());
    if (made) generator = std::move(*made);
  }
  std::uint64_t next() {
    Result<std::uint64_t> id = generator->next();
    EXPECT_TRUE(id) << (id ? "" : id.error().message());
    return id ? *id : 0;
  }
  Parts parts(std::uint64_t id) const { return layout.decompose(id); }
  std::int64_t now_tick() { return layout.tick_at_unix_ms(clock.wall_ns() / kNsPerMs); }

  ManualClock clock;
  MemoryReservation reservation;
  Layout layout;
  std::unique_ptr<Generator> generator;
};

GeneratorOptions with(std::int64_t max_lead_ms, std::int64_t max_wait_ms, Layout layout = Layout::twitter()) {
  GeneratorOptions options;
  options.layout = layout;
  options.max_lead_ms = max_lead_ms;
  options.max_wait_ms = max_wait_ms;
  return options;
}

TEST(Generator, StampsTheClocksTickAndRestartsTheSequenceEachTick) {
  Rig rig;
  const std::uint64_t a = rig.next();
  const std::uint64_t b = rig.next();
  EXPECT_EQ(rig.parts(a).tick, rig.now_tick());
  EXPECT_EQ(rig.parts(a).sequence, 0u);
  EXPECT_EQ(rig.parts(b).sequence, 1u);
  EXPECT_EQ(rig.layout.node_number(rig.parts(a).node), 5u);  // The rig holds node 5.
  rig.clock.advance_ms(1);
  const std::uint64_t c = rig.next();
  EXPECT_EQ(rig.parts(c).tick, rig.parts(a).tick + 1);
  EXPECT_EQ(rig.parts(c).sequence, 0u);
  EXPECT_GT(c, b);
  rig.clock.advance_ms(250);
  EXPECT_EQ(rig.parts(rig.next()).tick, rig.now_tick());
}

TEST(Generator, ClassicOverflowWaitsForTheNextTick) {
  Rig rig(with(/*max_lead_ms=*/0, /*max_wait_ms=*/10));
  std::uint64_t last = 0;
  for (int i = 0; i < 4096; ++i) last = rig.next();
  EXPECT_EQ(rig.parts(last).sequence, 4095u);
  const std::int64_t boot_before = rig.clock.boot_ns();
  const std::uint64_t next = rig.next();
  EXPECT_GT(next, last);
  EXPECT_EQ(rig.parts(next).tick, rig.parts(last).tick + 1);
  EXPECT_EQ(rig.parts(next).sequence, 0u);
  EXPECT_GT(rig.clock.boot_ns(), boot_before) << "it waited for the clock";
  EXPECT_LE(rig.parts(next).tick, rig.now_tick()) << "max_lead 0 never stamps ahead of the clock";
  const GeneratorStats stats = rig.generator->stats();
  EXPECT_EQ(stats.waits, 1u);
  EXPECT_EQ(stats.overflows, 1u);
  EXPECT_EQ(stats.issued, 4097u);
}

TEST(Generator, ClassicOverflowWithoutWaitIsOverloaded) {
  Rig rig(with(0, 0));
  std::uint64_t last = 0;
  for (int i = 0; i < 4096; ++i) last = rig.next();
  Result<std::uint64_t> refused = rig.generator->next();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::overloaded);
  EXPECT_EQ(rig.generator->stats().refusals, 1u);
  rig.clock.advance_ms(1);
  EXPECT_GT(rig.next(), last);
}

TEST(Generator, OverflowLeadsIntoFollowingTicksUpToMaxLead) {
  Rig rig(with(/*max_lead_ms=*/5, /*max_wait_ms=*/0));
  const std::int64_t start = rig.now_tick();
  std::uint64_t last = 0;
  for (int i = 0; i < 6 * 4096; ++i) {
    const std::uint64_t id = rig.next();
    ASSERT_GT(id, last);
    last = id;
  }
  EXPECT_EQ(rig.parts(last).tick, start + 5);
  EXPECT_EQ(rig.generator->stats().lead_ms, 5);
  EXPECT_EQ(rig.generator->stats().overflows, 6u) << "ticks start..start+5 were all used up";
  Result<std::uint64_t> refused = rig.generator->next();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::overloaded);
  rig.clock.advance_ms(1);
  EXPECT_EQ(rig.parts(rig.next()).tick, start + 6);
}

TEST(Generator, SmallRollbackContinuesOnLogicalTime) {
  Rig rig(with(/*max_lead_ms=*/10, /*max_wait_ms=*/0));
  rig.clock.advance_ms(3);
  const std::uint64_t before = rig.next();
  rig.clock.set_wall_ns(rig.clock.wall_ns() - 3 * kNsPerMs);
  const std::uint64_t after = rig.next();
  EXPECT_GT(after, before);
  EXPECT_EQ(rig.parts(after).tick, rig.parts(before).tick);
  EXPECT_EQ(rig.parts(after).sequence, rig.parts(before).sequence + 1);
  EXPECT_EQ(rig.generator->stats().rollbacks, 1u);
  EXPECT_EQ(rig.generator->stats().lead_ms, 3);
}

TEST(Generator, LargeRollbackIsRefusedAsClockRegressedWithoutWaiting) {
  Rig rig(with(/*max_lead_ms=*/10, /*max_wait_ms=*/1000));
  const std::uint64_t before = rig.next();
  rig.clock.set_wall_ns(rig.clock.wall_ns() - 3'600'000 * kNsPerMs);
  const std::int64_t boot_before = rig.clock.boot_ns();
  Result<std::uint64_t> refused = rig.generator->next();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::clock_regressed);
  EXPECT_NE(refused.error().message().find("max_lead_ms"), std::string::npos);
  EXPECT_EQ(rig.clock.boot_ns(), boot_before) << "a wait that cannot help is not attempted";
  EXPECT_EQ(rig.generator->stats().next_stamp_lead_ms, 3'600'000) << "how long until it can issue again";
  rig.clock.set_wall_ns(rig.clock.wall_ns() + 3'600'000 * kNsPerMs);
  EXPECT_GT(rig.next(), before);
}

TEST(Generator, RollbackWithinMaxWaitIsWaitedOut) {
  Rig rig(with(/*max_lead_ms=*/0, /*max_wait_ms=*/50));
  const std::uint64_t before = rig.next();
  rig.clock.set_wall_ns(rig.clock.wall_ns() - 20 * kNsPerMs);
  const std::int64_t boot_before = rig.clock.boot_ns();
  const std::uint64_t after = rig.next();
  EXPECT_GT(after, before);
  EXPECT_GE(rig.clock.boot_ns() - boot_before, 20 * kNsPerMs);
  EXPECT_EQ(rig.generator->stats().waits, 1u);
}

TEST(Generator, TheEndOfTimeIsAnErrorNeverAWrap) {
  const Layout tiny = Layout::parse("time:10-seq:4/tick=1ms/epoch=2026-01-01").value();
  const std::int64_t last_tick_ms = tiny.unix_ms_of_tick(tiny.max_tick());
  Rig rig(with(/*max_lead_ms=*/100, /*max_wait_ms=*/0, tiny), std::nullopt, last_tick_ms);
  std::uint64_t last = 0;
  for (int i = 0; i < 16; ++i) last = rig.next();
  EXPECT_EQ(rig.parts(last).tick, tiny.max_tick());
  Result<std::uint64_t> refused = rig.generator->next();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::time_exhausted);
  rig.clock.advance_ms(10);
  EXPECT_EQ(rig.generator->next().error().code(), Errc::time_exhausted);
}

TEST(Generator, AClockFarPastTheEndIsTimeExhaustedEvenWhenTheTickWouldOverflow) {
  // At 2^31 * 1000 ms (2038-01-19) the tick shifted by 33 sequence bits wraps to exactly 0.
  const Layout short_lived = Layout::parse("time:30-seq:33").value();
  Rig rig(with(0, 0, short_lived), std::nullopt, (1LL << 31) * 1000);
  Result<std::uint64_t> refused = rig.generator->next();
  ASSERT_FALSE(refused) << "issued " << *refused;
  EXPECT_EQ(refused.error().code(), Errc::time_exhausted);
}

// A wall clock at either end of int64 nanoseconds (a clock set absurdly far, or
// wrapped) is an error, never a wait that cannot end or an arithmetic overflow.
TEST(Generator, AClockAtEitherEndOfInt64IsAnErrorNeverASpin) {
  const Layout long_lived = Layout::parse("time:40-seq:23/tick=100ms").value();  // Ends in 5454.
  for (const Layout& layout : {Layout::twitter(), long_lived}) {
    for (std::int64_t wall_ns : {INT64_MAX, INT64_MIN}) {
      SCOPED_TRACE(std::string(layout.name()) + " at " + std::to_string(wall_ns));
      ManualClock clock(wall_ns);
      MemoryReservation reservation(0);
      auto generator = Generator::create(with(/*max_lead_ms=*/1000, /*max_wait_ms=*/3'600'000, layout), clock,
                                         reservation).value();
      Result<std::uint64_t> id = generator->next();
      if (layout.capacity().last_unix_ms > INT64_MAX / 1'000'000 && wall_ns == INT64_MAX) {
        ASSERT_TRUE(id) << "2262 is within this layout's lifetime: " << id.error().message();
        continue;
      }
      ASSERT_FALSE(id);
      EXPECT_TRUE(id.error().code() == Errc::time_exhausted || id.error().code() == Errc::clock_regressed)
          << id.error().message();
      EXPECT_EQ(clock.boot_ns(), 0) << "it waited for a clock that cannot catch up";
      (void)generator->stats();
    }
  }
}

TEST(Generator, ClockBeforeTheEpochIsRefused) {
  const Layout late = Layout::parse("time:41-seq:12/epoch=2030-01-01").value();
  Rig rig(with(0, 0, late));
  Result<std::uint64_t> refused = rig.generator->next();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::clock_regressed);
  // Regression: it said stamps were "already issued or reserved" for a node never used.
  EXPECT_NE(refused.error().message().find("before layout custom's epoch 2030-01-01"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(refused.error().message().find("already issued"), std::string::npos) << refused.error().message();
}

TEST(Generator, BatchesAreConsecutiveAndSpanTicks) {
  Rig rig(with(/*max_lead_ms=*/10, /*max_wait_ms=*/0));
  const std::uint64_t before = rig.next();
  std::vector<std::uint64_t> ids(10'000);
  ASSERT_TRUE(rig.generator->next_batch(ids));
  EXPECT_GT(ids.front(), before);
  for (std::size_t i = 1; i < ids.size(); ++i) {
    ASSERT_GT(ids[i], ids[i - 1]);
    const Parts a = rig.parts(ids[i - 1]);
    const Parts b = rig.parts(ids[i]);
    ASSERT_TRUE((b.tick == a.tick && b.sequence == a.sequence + 1) || (b.tick == a.tick + 1 && b.sequence == 0));
  }
  EXPECT_EQ(rig.parts(ids.back()).tick, rig.parts(before).tick + 2);
  EXPECT_EQ(rig.layout.node_number(rig.parts(ids.back()).node), 5u);
  EXPECT_EQ(rig.generator->stats().issued, 10'001u);
}

TEST(Generator, ABatchTooLargeForMaxLeadIsRefusedAndIssuesNothing) {
  Rig rig(with(/*max_lead_ms=*/1, /*max_wait_ms=*/0));
  const std::uint64_t before = rig.next();
  std::vector<std::uint64_t> ids(2 * 4096 + 1);
  Result<void> refused = rig.generator->next_batch(ids);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::invalid_argument);
  const std::uint64_t after = rig.next();
  EXPECT_EQ(rig.parts(after).sequence, rig.parts(before).sequence + 1);
  EXPECT_TRUE(rig.generator->next_batch(std::span<std::uint64_t>()));
}

TEST(Generator, NeverStampsPastTheDurableReservation) {
  GeneratorOptions options = with(/*max_lead_ms=*/50, /*max_wait_ms=*/0);
  options.reserve_ahead_ms = 20;
  Rig rig(options);
  for (int step = 0; step < 300; ++step) {
    const std::uint64_t id = rig.next();
    ASSERT_LE(rig.parts(id).tick, rig.reservation.reserved_stamp().value()) << "step " << step;
    if (step % 3 == 0) rig.clock.advance_ms(7);
  }
  EXPECT_GE(rig.reservation.reserved_stamp().value(), rig.now_tick());
}

TEST(Generator, RenewExtendsOnlyWhenHalfTheReservationIsUsed) {
  Rig rig;  // reserve_ahead_ms = 1000
  ASSERT_TRUE(rig.generator->renew());
  EXPECT_FALSE(rig.reservation.reserved_stamp()) << "nothing issued, nothing reserved";
  rig.next();
  const std::int64_t first = rig.reservation.reserved_stamp().value();
  EXPECT_EQ(first, rig.now_tick() + 1000);
  rig.clock.advance_ms(400);
  ASSERT_TRUE(rig.generator->renew());
  EXPECT_EQ(rig.reservation.reserved_stamp().value(), first);
  rig.clock.advance_ms(200);
  ASSERT_TRUE(rig.generator->renew());
  EXPECT_EQ(rig.reservation.reserved_stamp().value(), rig.now_tick() + 1000);
  EXPECT_EQ(rig.generator->stats().reserved_until_unix_ms, kStartMs + 1600);
}

// Regression: each start reserved a second ahead even when nothing was issued, so
// a crash loop pushed the mark further ahead with every restart.
TEST(Generator, AStartThatIssuesNothingReservesNothing) {
  const std::int64_t inherited = Layout::twitter().tick_at_unix_ms(kStartMs) + 800;
  for (bool clean : {true, false}) {
    Rig rig(with(1000, 0), inherited);
    ASSERT_TRUE(rig.generator->renew());
    EXPECT_EQ(rig.reservation.extensions(), 0);
    if (clean) {
      ASSERT_TRUE(rig.generator->close());
      EXPECT_EQ(rig.reservation.reserved_stamp(), inherited) << "the final mark is what was inherited";
    }
  }
}

// Restarts that crash after one ID each, faster than the clock moves: the lead a
// successor inherits stays within max(reserve_ahead_ms, max_lead_ms +
// reserve_ahead_ms / 8) plus a tick, instead of growing by a second each time.
TEST(Generator, CrashLoopsCostBoundedLead) {
  const GeneratorOptions options = with(/*max_lead_ms=*/1000, /*max_wait_ms=*/0);
  ManualClock clock(kStartMs * kNsPerMs);
  const Layout& layout = options.layout;
  std::optional<std::int64_t> mark;
  int issued = 0;
  for (int restart = 0; restart < 50; ++restart) {
    MemoryReservation reservation(5, mark);
    auto generator = Generator::create(options, clock, reservation).value();
    if (generator->next()) ++issued;
    if (reservation.reserved_stamp()) mark = reservation.reserved_stamp();
    generator.reset();  // Stands for SIGKILL: the last extension is what a successor finds.
    clock.advance_ms(5);
    const std::int64_t now_tick = layout.tick_at_unix_ms(clock.wall_ns() / kNsPerMs);
    ASSERT_LE(mark.value_or(0) - now_tick, 1000 + 1000 / 8 + 1) << "restart " << restart;
  }
  EXPECT_GE(issued, 3) << "a restart issues again once the clock has passed the mark";
}

// A generator whose stamps lead the clock by more than reserve_ahead_ms reserves
// only an eighth of it past the stamp it needs.
TEST(Generator, AnExtensionForALeadingStampReachesOnlyAnEighthPastIt) {
  const std::int64_t inherited = Layout::twitter().tick_at_unix_ms(kStartMs) + 30'000;
  Rig rig(with(/*max_lead_ms=*/60'000, /*max_wait_ms=*/0), inherited);
  rig.next();
  EXPECT_EQ(rig.reservation.reserved_stamp(), inherited + 1 + 1000 / 8);
}

// A reservation that says the node is lost stops the generator for good.
TEST(Generator, ALostReservationStopsIssuing) {
  class Losing final : public Reservation {
   public:
    std::uint64_t node() const override { return 1; }
    std::optional<std::int64_t> inherited_stamp() const override { return std::nullopt; }
    Result<void> extend(std::int64_t) override {
      if (++extensions_ > 1) return Error(Errc::lease_lost, "the lock file was removed");
      return {};
    }
    Result<void> release(std::optional<std::int64_t>) override { return {}; }

   private:
    int extensions_ = 0;
  };
  ManualClock clock(kStartMs * kNsPerMs);
  Losing reservation;
  auto generator = Generator::create(with(1000, 0), clock, reservation).value();
  ASSERT_TRUE(generator->next());
  clock.advance_ms(600);
  Result<void> renewed = generator->renew();
  ASSERT_FALSE(renewed);
  EXPECT_EQ(renewed.error().code(), Errc::lease_lost);
  Result<std::uint64_t> refused = generator->next();
  ASSERT_FALSE(refused) << "issued within a reservation it no longer owns";
  EXPECT_EQ(refused.error().code(), Errc::lease_lost);
  EXPECT_NE(refused.error().message().find("removed"), std::string::npos);
  EXPECT_FALSE(generator->renew());
}

TEST(Generator, ASuccessorStartsAfterItsPredecessorsReservation) {
  const std::int64_t inherited = Layout::twitter().tick_at_unix_ms(kStartMs + 500);
  Rig leading(with(/*max_lead_ms=*/1000, /*max_wait_ms=*/0), inherited);
  const std::uint64_t id = leading.next();
  EXPECT_EQ(leading.parts(id).tick, inherited + 1);

  Rig strict(with(/*max_lead_ms=*/0, /*max_wait_ms=*/0), inherited);
  Result<std::uint64_t> refused = strict.generator->next();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::clock_regressed);
  EXPECT_EQ(strict.generator->stats().lead_ms, 0) << "nothing issued yet";
  EXPECT_EQ(strict.generator->stats().next_stamp_lead_ms, 501) << "the first stamp after the inherited one";
}

TEST(Generator, CloseRecordsTheNewestStampAndStopsIssuing) {
  Rig rig(with(/*max_lead_ms=*/10, /*max_wait_ms=*/0));
  std::uint64_t last = 0;
  for (int i = 0; i < 5000; ++i) last = rig.next();
  ASSERT_TRUE(rig.generator->close());
  EXPECT_TRUE(rig.reservation.released());
  EXPECT_EQ(rig.reservation.reserved_stamp().value(), rig.parts(last).tick);
  Result<std::uint64_t> refused = rig.generator->next();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::lease_lost);
  EXPECT_TRUE(rig.generator->close()) << "close is idempotent";
  EXPECT_EQ(rig.generator->stats().issued, 5000u);
}

TEST(Generator, RefusesInvalidOptions) {
  ManualClock clock(kStartMs * kNsPerMs);
  MemoryReservation reservation(0);
  GeneratorOptions options;
  options.max_lead_ms = -1;
  EXPECT_EQ(Generator::create(options, clock, reservation).error().code(), Errc::invalid_argument);
  options = {};
  options.max_wait_ms = 3'600'001;
  EXPECT_EQ(Generator::create(options, clock, reservation).error().code(), Errc::invalid_argument);
  options = {};
  options.reserve_ahead_ms = 0;
  EXPECT_EQ(Generator::create(options, clock, reservation).error().code(), Errc::invalid_argument);
  MemoryReservation outside(1024);
  EXPECT_EQ(Generator::create({}, clock, outside).error().code(), Errc::invalid_argument);
}

// Regression: children made by _Fork() or a raw system call skip pthread_atfork
// and continued the parent's sequence.
TEST(Generator, AChildOfAnyKindOfForkRefusesToContinueTheParentsSequence) {
  for (testing::ForkKind kind : testing::kForkKinds) {
    SCOPED_TRACE(testing::param_name(kind));
    Rig rig;
    const std::uint64_t before = rig.next();
    const pid_t pid = testing::fork_by(kind);
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      Result<std::uint64_t> id = rig.generator->next();
      std::vector<std::uint64_t> batch(3);
      Result<void> ids = rig.generator->next_batch(batch);
      const bool refused = !id && id.error().code() == Errc::lease_lost && !ids && !rig.generator->renew() &&
                           !rig.generator->close();
      _exit(refused ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the child must get lease_lost";
    EXPECT_GT(rig.next(), before) << "the parent carries on";
  }
}

TEST(GeneratorFence, IssuesBeforeTheFenceAndNothingFromItOn) {
  ManualClock clock(kStartMs * kNsPerMs, /*boot_ns=*/0);
  testing::FencedReservation reservation;
  reservation.fence_.move_to(10 * kNsPerMs);  // 10 ms of boot time.
  auto generator = Generator::create({}, clock, reservation);
  ASSERT_TRUE(generator);
  ASSERT_TRUE((*generator)->next());
  clock.advance_ms(9);
  ASSERT_TRUE((*generator)->next()) << "before the fence";
  clock.advance_ms(1);
  Result<std::uint64_t> at = (*generator)->next();
  ASSERT_FALSE(at) << "at the fence, within the reservation and the clock's tick";
  EXPECT_EQ(at.error().code(), Errc::lease_lost);
  std::vector<std::uint64_t> batch(10);
  EXPECT_EQ((*generator)->next_batch(batch).error().code(), Errc::lease_lost);
  // A fence moved later does not bring a lost generator back.
  reservation.fence_.move_to(1'000 * kNsPerMs);
  EXPECT_EQ((*generator)->next().error().code(), Errc::lease_lost);
  EXPECT_EQ((*generator)->renew().error().code(), Errc::lease_lost);
}

TEST(GeneratorFence, ADroppedFenceStopsTheGeneratorAtTheNextCall) {
  ManualClock clock(kStartMs * kNsPerMs, 0);
  testing::FencedReservation reservation;
  reservation.fence_.move_to(1'000 * kNsPerMs);
  auto generator = Generator::create({}, clock, reservation);
  ASSERT_TRUE(generator);
  ASSERT_TRUE((*generator)->next());
  reservation.fence_.drop();
  // The tick cache may still hold this millisecond's reading; the next reading sees it.
  clock.advance_ms(1);
  EXPECT_EQ((*generator)->next().error().code(), Errc::lease_lost);
  EXPECT_TRUE(reservation.fence_.dropped());
  reservation.fence_.move_to(5'000 * kNsPerMs);
  EXPECT_TRUE(reservation.fence_.dropped()) << "a dropped fence stays dropped";
}

TEST(GeneratorFence, RenewalNoticesAPassedFenceWhileNothingIsAskedFor) {
  ManualClock clock(kStartMs * kNsPerMs, 0);
  testing::FencedReservation reservation;
  reservation.fence_.move_to(100 * kNsPerMs);
  auto generator = Generator::create({}, clock, reservation);
  ASSERT_TRUE(generator);
  ASSERT_TRUE((*generator)->next());
  const int extensions = reservation.extensions;
  clock.advance_ms(900);
  Result<void> renewed = (*generator)->renew();
  ASSERT_FALSE(renewed);
  EXPECT_EQ(renewed.error().code(), Errc::lease_lost);
  EXPECT_EQ(reservation.extensions, extensions) << "nothing is reserved past the fence";
}

TEST(GeneratorExtendOnDemand, OffACallNeverExtendsPastTheFirstAndWaitsOnlyUpToMaxWait) {
  ManualClock clock(kStartMs * kNsPerMs, 0);
  MemoryReservation reservation(5);
  GeneratorOptions options = with(/*max_lead_ms=*/1000, /*max_wait_ms=*/5);
  options.reserve_ahead_ms = 100;
  options.extend_on_demand = false;
  auto generator = Generator::create(options, clock, reservation);
  ASSERT_TRUE(generator);
  ASSERT_TRUE((*generator)->next()) << "the first extension is made in the call";
  EXPECT_EQ(reservation.extensions(), 1);
  clock.advance_ms(150);  // Past the reservation, with no renewal since.
  const std::int64_t before_ns = clock.boot_ns();
  Result<std::uint64_t> id = (*generator)->next();
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code(), Errc::unavailable) << id.error().message();
  EXPECT_EQ(reservation.extensions(), 1) << "the call did not extend the reservation itself";
  EXPECT_LE(clock.boot_ns() - before_ns, 5 * kNsPerMs) << "it waited no longer than max_wait_ms";
  ASSERT_TRUE((*generator)->renew());
  EXPECT_EQ(reservation.extensions(), 2);
  EXPECT_TRUE((*generator)->next()) << "the renewer caught up";
}

TEST(GeneratorExtendOnDemand, OnACallExtendsWhenTheRenewerIsBehind) {
  ManualClock clock(kStartMs * kNsPerMs, 0);
  MemoryReservation reservation(5);
  GeneratorOptions options = with(1000, 5);
  options.reserve_ahead_ms = 100;
  auto generator = Generator::create(options, clock, reservation);
  ASSERT_TRUE(generator);
  ASSERT_TRUE((*generator)->next());
  clock.advance_ms(150);
  EXPECT_TRUE((*generator)->next());
  EXPECT_EQ(reservation.extensions(), 2);
}

TEST(Generator, CountsWallClockStepsByDirectionAndSize) {
  Rig rig;
  (void)rig.next();
  rig.clock.advance_ms(5);  // Wall and boot time together: no step.
  (void)rig.next();
  const std::int64_t now_ns = rig.clock.wall_ns();
  rig.clock.set_wall_ns(now_ns - 50 * kNsPerMs);  // 50 ms back.
  (void)rig.next();
  rig.clock.set_wall_ns(now_ns + 300'000 * kNsPerMs);  // 300 s forward.
  (void)rig.next();
  rig.clock.set_wall_ns(now_ns + 300'003 * kNsPerMs);  // 3 ms forward.
  const GeneratorStats s = rig.generator->stats();    // A reading of its own.
  std::array<std::uint64_t, kStepClasses> back{}, forward{};
  back[2] = 1;        // 16 < 50 <= 64.
  forward[0] = 1;     // 3 <= 4.
  forward[9] = 1;     // Past 262,144 ms.
  EXPECT_EQ(s.steps_back, back);
  EXPECT_EQ(s.steps_forward, forward);
  EXPECT_EQ(s.steps_back_ms, 50u);
  EXPECT_EQ(s.steps_forward_ms, 300'053u);
}

}  // namespace
}  // namespace idforge
