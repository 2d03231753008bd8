// SPDX-License-Identifier: Apache-2.0
// The wide-format generators on a manual clock and a seeded random source: fields,
// order, the per-tick counter start, rollback and overflow under the time policy.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "idforge/flake128.h"
#include "support/fenced_reservation.h"
#include "idforge/ksuid.h"
#include "idforge/object_id.h"
#include "idforge/ulid.h"
#include "idforge/uuid.h"

namespace idforge {
namespace {

constexpr std::int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kNsPerMs = 1'000'000;

// A source that hands out one byte value, to reach the edges of counters.
class ConstantRandom final : public Random {
 public:
  explicit ConstantRandom(std::uint8_t byte) : byte_(byte) {}
  void fill(std::span<std::uint8_t> out) override { std::fill(out.begin(), out.end(), byte_); }

 private:
  std::uint8_t byte_;
};

std::uint64_t v7_counter(const Uuid& u) {
  return std::uint64_t{u.bytes[6] & 0x0fu} << 12 | std::uint64_t{u.bytes[7]} << 4 | ((u.bytes[8] >> 2) & 0x0fu);
}

TEST(UuidV4, VersionAndVariantAlwaysSet) {
  SeededRandom random(1);
  std::set<Uuid> seen;
  for (int i = 0; i < 10'000; ++i) {
    const Uuid u = Uuid::v4(random);
    ASSERT_EQ(u.version(), 4);
    ASSERT_TRUE(u.rfc_variant());
    ASSERT_TRUE(seen.insert(u).second);
  }
  ConstantRandom ones(0xff);
  EXPECT_EQ(to_string(Uuid::v4(ones)), "ffffffff-ffff-4fff-bfff-ffffffffffff");
}

TEST(UuidV7, FieldsOrderAndCounterStartPerTick) {
  ManualClock clock(kStartMs * kNsPerMs);
  SeededRandom random(2);
  auto gen = UuidV7Generator::create({}, clock, random).value();
  std::vector<std::uint64_t> starts;
  Uuid last{};
  for (int tick = 0; tick < 16; ++tick) {
    for (int i = 0; i < 100; ++i) {
      const Uuid u = gen->next().value();
      ASSERT_EQ(u.version(), 7);
      ASSERT_TRUE(u.rfc_variant());
      ASSERT_EQ(u.v7_unix_ms(), kStartMs + tick);
      ASSERT_LT(last, u);
      ASSERT_LT(to_string(last), to_string(u));
      if (i == 0) {
        starts.push_back(v7_counter(u));
        EXPECT_LT(v7_counter(u), 0x8000u) << "the guard bit is set at a tick's start";
      } else {
        EXPECT_EQ(v7_counter(u), v7_counter(last) + 1);
      }
      last = u;
    }
    clock.advance_ms(1);
  }
  std::sort(starts.begin(), starts.end());
  EXPECT_GT(std::unique(starts.begin(), starts.end()) - starts.begin(), 12) << "counter starts are not random";
}

TEST(UuidV7, AFullMillisecondLeadsIntoTheNextWithoutRepeating) {
  ManualClock clock(kStartMs * kNsPerMs);
  SeededRandom random(3);
  auto gen = UuidV7Generator::create({}, clock, random).value();
  Uuid last = gen->next().value();
  for (int i = 0; i < 40'000; ++i) {  // More than one millisecond's 32,768.
    const Uuid u = gen->next().value();
    ASSERT_LT(last, u);
    last = u;
  }
  EXPECT_EQ(last.v7_unix_ms(), kStartMs + 1) << "stamps lead one millisecond ahead";
}

TEST(UuidV7, RollbackKeepsThePreviousTimestampWithinTheLead) {
  ManualClock clock(kStartMs * kNsPerMs);
  SeededRandom random(4);
  auto gen = UuidV7Generator::create({.max_lead_ms = 1000, .max_wait_ms = 0}, clock, random).value();
  const Uuid before = gen->next().value();
  clock.set_wall_ns((kStartMs - 500) * kNsPerMs);  // Back 500 ms.
  const Uuid after = gen->next().value();
  EXPECT_EQ(after.v7_unix_ms(), kStartMs);
  EXPECT_LT(before, after);
  clock.set_wall_ns((kStartMs - 5000) * kNsPerMs);  // Back 5 s: past the lead.
  Result<Uuid> refused = gen->next();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::clock_regressed);
}

TEST(Ulid, MonotonicRandomPartCountsByOneWithinAMillisecond) {
  ManualClock clock(kStartMs * kNsPerMs);
  SeededRandom random(5);
  auto gen = UlidGenerator::create({}, clock, random).value();
  Ulid last = gen->next().value();
  EXPECT_EQ(last.unix_ms(), kStartMs);
  EXPECT_LT(last.bytes[6], 0x80) << "the guard bit is set at a millisecond's start";
  for (int i = 0; i < 1000; ++i) {
    const Ulid u = gen->next().value();
    ASSERT_EQ(u.unix_ms(), kStartMs);
    // u == last + 1 as a 128-bit number.
    Ulid expected = last;
    for (int b = 15; b >= 0 && ++expected.bytes[static_cast<std::size_t>(b)] == 0; --b) {
    }
    ASSERT_EQ(u, expected);
    ASSERT_LT(to_string(last), to_string(u));
    last = u;
  }
  clock.advance_ms(1);
  const Ulid next_ms = gen->next().value();
  EXPECT_EQ(next_ms.unix_ms(), kStartMs + 1);
  EXPECT_LT(last, next_ms);
}

TEST(Ulid, OverflowIsATypedErrorNeverAWrap) {
  // With no lead allowed and no waiting, the millisecond's increments run out and
  // the call fails; nothing wraps.
  ManualClock clock(kStartMs * kNsPerMs);
  SeededRandom random(6);
  auto gen = UlidGenerator::create({.max_lead_ms = 0, .max_wait_ms = 0}, clock, random).value();
  Ulid last{};
  int made = 0;
  for (;; ++made) {
    Result<Ulid> u = gen->next();
    if (!u) {
      EXPECT_EQ(u.error().code(), Errc::overloaded);
      break;
    }
    ASSERT_LT(last, *u);
    last = *u;
  }
  EXPECT_EQ(made, 32768);
}

TEST(Ulid, RandomRefusesATimeOutsideItsRange) {
  SeededRandom random(7);
  EXPECT_EQ(Ulid::random(-1, random).error().code(), Errc::invalid_argument);
  EXPECT_EQ(Ulid::random(kUlidMaxUnixMs + 1, random).error().code(), Errc::invalid_argument);
  EXPECT_EQ(Ulid::random(kUlidMaxUnixMs, random)->unix_ms(), kUlidMaxUnixMs);
}

TEST(ObjectId, FieldsAndCounterPerSecond) {
  ManualClock clock(kStartMs * kNsPerMs);
  SeededRandom random(8);
  auto gen = ObjectIdGenerator::create({}, clock, random).value();
  const ObjectId first = gen->next().value();
  EXPECT_EQ(first.unix_seconds(), kStartMs / 1000);
  ObjectId last = first;
  for (int i = 0; i < 100; ++i) {
    const ObjectId o = gen->next().value();
    EXPECT_TRUE(std::equal(o.bytes.begin() + 4, o.bytes.begin() + 9, first.bytes.begin() + 4)) << "process value";
    const auto counter = [](const ObjectId& id) { return id.bytes[9] << 16 | id.bytes[10] << 8 | id.bytes[11]; };
    EXPECT_EQ(counter(o), (counter(last) + 1) & 0xffffff);
    last = o;
  }
  SeededRandom other_seed(9);
  auto other = ObjectIdGenerator::create({}, clock, other_seed).value();
  const ObjectId o = other->next().value();
  EXPECT_FALSE(std::equal(o.bytes.begin() + 4, o.bytes.begin() + 9, first.bytes.begin() + 4));
}

TEST(ObjectId, CounterWrapsFromFFFFFFToZero) {
  ManualClock clock(kStartMs * kNsPerMs);
  ConstantRandom ones(0xff);
  auto gen = ObjectIdGenerator::create({}, clock, ones).value();
  EXPECT_EQ(to_string(gen->next().value()).substr(18), "ffffff");
  EXPECT_EQ(to_string(gen->next().value()).substr(18), "000000");
}

TEST(ObjectId, ASecondHoldsAtMost2To24ThenLeads) {
  ManualClock clock(kStartMs * kNsPerMs);
  SeededRandom random(10);
  auto gen = ObjectIdGenerator::create({.max_lead_ms = 1000, .max_wait_ms = 0}, clock, random).value();
  const ObjectId first = gen->next().value();
  for (int i = 1; i < (1 << 24); ++i) ASSERT_EQ(gen->next()->unix_seconds(), first.unix_seconds());
  const ObjectId next = gen->next().value();
  EXPECT_EQ(next.unix_seconds(), first.unix_seconds() + 1);
  EXPECT_EQ(to_string(next).substr(18), to_string(first).substr(18)) << "a new second restarts the counter";
}

TEST(Ksuid, TimeAndRange) {
  ManualClock clock(kStartMs * kNsPerMs + 999'999'999);
  SeededRandom random(11);
  auto gen = KsuidGenerator::create({}, clock, random).value();
  const Ksuid k = gen->next().value();
  EXPECT_EQ(k.unix_seconds(), kStartMs / 1000);
  EXPECT_NE(k, gen->next().value());
  EXPECT_EQ(Ksuid::random(kKsuidEpochUnixSeconds - 1, random).error().code(), Errc::invalid_argument);
  EXPECT_EQ(Ksuid::random(kKsuidEpochUnixSeconds + 0x100000000LL, random).error().code(), Errc::invalid_argument);
  EXPECT_EQ(to_string(Ksuid::random(kKsuidEpochUnixSeconds, random).value()).substr(0, 1), "0");
  // Round trip through text.
  EXPECT_EQ(parse_ksuid(to_string(k)).value(), k);
}

TEST(Ksuid, SecondsFollowTheTimePolicy) {
  ManualClock clock(kStartMs * kNsPerMs);
  SeededRandom random(12);
  auto gen = KsuidGenerator::create({.max_lead_ms = 1000, .max_wait_ms = 0}, clock, random).value();
  EXPECT_EQ(gen->next().value().unix_seconds(), kStartMs / 1000);
  clock.set_wall_ns((kStartMs - 1000) * kNsPerMs);  // Within the lead: the second does not go back.
  EXPECT_EQ(gen->next().value().unix_seconds(), kStartMs / 1000);
  clock.set_wall_ns((kStartMs - 6000) * kNsPerMs);  // Past it: refused, not a KSUID from the past.
  EXPECT_EQ(gen->next().error().code(), Errc::clock_regressed);
}

TEST(Ksuid, ClockOutsideTheKsuidRangeIsRefused) {
  SeededRandom random(13);
  ManualClock before((kKsuidEpochUnixSeconds - 10) * 1000 * kNsPerMs);
  EXPECT_EQ(KsuidGenerator::create({}, before, random).value()->next().error().code(), Errc::clock_regressed);
  ManualClock after((kKsuidEpochUnixSeconds + 0x100000000LL) * 1000 * kNsPerMs);
  EXPECT_EQ(KsuidGenerator::create({}, after, random).value()->next().error().code(), Errc::time_exhausted);
}

TEST(Flake128, WorkerFromTheReservationAndSequence) {
  ManualClock clock(kStartMs * kNsPerMs);
  MemoryReservation worker(0xabcdef123456);
  auto gen = Flake128Generator::create({}, clock, worker).value();
  const Flake128 a = gen->next().value();
  const Flake128 b = gen->next().value();
  EXPECT_EQ(a.unix_ms(), static_cast<std::uint64_t>(kStartMs));
  EXPECT_EQ(a.worker(), 0xabcdef123456u);
  EXPECT_EQ(b.sequence(), a.sequence() + 1);
  EXPECT_LT(a, b);
  EXPECT_LT(to_string(a), to_string(b));
  ASSERT_TRUE(gen->close());
  EXPECT_TRUE(worker.released());
  EXPECT_EQ(worker.reserved_stamp(), kStartMs) << "flake-128's stamps are Unix milliseconds";
  EXPECT_EQ(gen->next().error().code(), Errc::lease_lost);
}

TEST(Flake128, SuccessorStartsAfterItsPredecessorsReservation) {
  ManualClock clock(kStartMs * kNsPerMs);
  MemoryReservation worker(9, /*inherited_stamp=*/kStartMs + 500);  // The clock is behind it.
  auto gen = Flake128Generator::create({}, clock, worker).value();
  EXPECT_EQ(gen->next()->unix_ms(), static_cast<std::uint64_t>(kStartMs + 501));
}

TEST(Flake128, RefusesAWorkerWiderThan48Bits) {
  ManualClock clock(kStartMs * kNsPerMs);
  MemoryReservation worker(kFlake128Workers);
  Result<std::unique_ptr<Flake128Generator>> gen = Flake128Generator::create({}, clock, worker);
  ASSERT_FALSE(gen);
  EXPECT_EQ(gen.error().code(), Errc::invalid_argument);
}

// Runs `child` in a forked process and returns its exit code.
template <class Child>
int in_child(Child&& child) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(child());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(WideGenerators, AForkedChildMakesItsOwnGenerator) {
  SystemClock clock;
  auto parent = ObjectIdGenerator::create({}, clock, SystemRandom::instance()).value();
  const ObjectId before = parent->next().value();
  std::array<std::uint8_t, 5> child_process{};
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const int code = in_child([&] {
    // The inherited generator refuses; a new one draws a new process value.
    Result<ObjectId> inherited = parent->next();
    if (inherited || inherited.error().code() != Errc::lease_lost) return 3;
    auto own = ObjectIdGenerator::create({}, clock, SystemRandom::instance());
    if (!own) return 4;
    const ObjectId id = (*own)->next().value();
    return ::write(fds[1], id.bytes.data() + 4, 5) == 5 ? 0 : 5;
  });
  ::close(fds[1]);
  ASSERT_EQ(code, 0);
  ASSERT_EQ(::read(fds[0], child_process.data(), 5), 5);
  ::close(fds[0]);
  EXPECT_FALSE(std::equal(child_process.begin(), child_process.end(), before.bytes.begin() + 4));
  EXPECT_TRUE(parent->next()) << "the parent keeps its generator";
}

TEST(WideGenerators, PolicyOutOfRangeIsRefused) {
  ManualClock clock(kStartMs * kNsPerMs);
  SeededRandom random(12);
  EXPECT_EQ(UlidGenerator::create({.max_lead_ms = -1}, clock, random).error().code(), Errc::invalid_argument);
  EXPECT_EQ(UuidV7Generator::create({.max_wait_ms = 3'600'001}, clock, random).error().code(),
            Errc::invalid_argument);
}

TEST(Flake128Generator, StopsAtItsWorkersFence) {
  ManualClock clock(1'767'225'600'000'000'000, 0);
  testing::FencedReservation worker;
  worker.fence_.move_to(10'000'000);  // 10 ms of boot time.
  auto gen = Flake128Generator::create({}, clock, worker);
  ASSERT_TRUE(gen);
  ASSERT_TRUE((*gen)->next());
  clock.advance_ms(10);
  Result<Flake128> id = (*gen)->next();
  ASSERT_FALSE(id) << "a flake-128 worker leased from etcd stops with its lease";
  EXPECT_EQ(id.error().code(), Errc::lease_lost);
}

}  // namespace
}  // namespace idforge
