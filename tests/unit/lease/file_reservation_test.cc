// SPDX-License-Identifier: Apache-2.0
#include "idforge/file_reservation.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

#include "idforge/generator.h"
#include "support/temp_dir.h"

namespace idforge {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kStartMs = 1767225600000;
constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr std::int64_t kHourMs = 3'600'000;

Layout parse_or_die(std::string_view spec) { return Layout::parse(spec).value(); }

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FileReservationTest : public ::testing::Test {
 protected:
  std::unique_ptr<FileReservation> hold(std::uint64_t node, const Layout& layout) {
    auto r = FileReservation::acquire(dir_, layout, node);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? std::move(*r) : nullptr;
  }
  std::unique_ptr<FileReservation> hold(std::uint64_t node) { return hold(node, layout_); }

  // Issues up to `count` IDs on `node` with the clock at `wall_ms` and closes cleanly.
  // A refusal stops early and is kept in last_error_.
  std::vector<std::uint64_t> run(std::uint64_t node, std::int64_t wall_ms, int count, std::int64_t max_lead_ms = 1000,
                                 const std::optional<Layout>& layout = std::nullopt) {
    ManualClock clock(wall_ms * kNsPerMs);
    auto reservation = hold(node, layout.value_or(layout_));
    if (!reservation) return {};
    GeneratorOptions options;
    options.layout = layout.value_or(layout_);
    options.max_lead_ms = max_lead_ms;
    options.max_wait_ms = 0;
    auto generator = Generator::create(options, clock, *reservation);
    EXPECT_TRUE(generator) << (generator ? "" : generator.error().message());
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < count; ++i) {
      Result<std::uint64_t> id = (*generator)->next();
      if (!id) {
        last_error_ = id.error();
        break;
      }
      ids.push_back(*id);
      if (i % 1000 == 999) clock.advance_ms(1);
    }
    EXPECT_TRUE((*generator)->close());
    return ids;
  }

  // The same in a child process that is SIGKILLed right after the last ID: no
  // close(), no destructors; the records keep the last extension.
  std::vector<std::uint64_t> run_then_sigkill(std::uint64_t node, std::int64_t wall_ms, int count) {
    const fs::path out = dir_ / "ids.bin";
    const pid_t pid = fork();
    EXPECT_GE(pid, 0);
    if (pid == 0) {
      ManualClock clock(wall_ms * kNsPerMs);
      auto reservation = FileReservation::acquire(dir_, layout_, node);
      if (!reservation) _exit(2);
      auto generator = Generator::create({}, clock, **reservation);
      if (!generator) _exit(3);
      std::ofstream file(out, std::ios::binary);
      for (int i = 0; i < count; ++i) {
        Result<std::uint64_t> id = (*generator)->next();
        if (!id) _exit(4);
        file.write(reinterpret_cast<const char*>(&*id), sizeof(std::uint64_t));
        if (i % 1000 == 999) clock.advance_ms(1);
      }
      file.close();
      kill(getpid(), SIGKILL);
    }
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
    std::ifstream file(out, std::ios::binary);
    std::vector<std::uint64_t> ids(static_cast<std::size_t>(count));
    file.read(reinterpret_cast<char*>(ids.data()), static_cast<std::streamsize>(ids.size() * sizeof(std::uint64_t)));
    EXPECT_TRUE(file) << "the child wrote every ID";
    return ids;
  }

  fs::path folder() const { return FileReservation::space_dir(dir_, layout_); }
  fs::path mark(std::uint64_t node) const { return folder() / ("node-" + std::to_string(node) + ".mark"); }

  // Every ID of `after` is larger than every ID of `before` (so none is equal).
  static void expect_all_after(const std::vector<std::uint64_t>& before, const std::vector<std::uint64_t>& after) {
    ASSERT_FALSE(before.empty());
    ASSERT_FALSE(after.empty());
    EXPECT_GT(*std::min_element(after.begin(), after.end()), *std::max_element(before.begin(), before.end()));
  }

  testing::TempDir temp_;
  const fs::path dir_ = temp_.path() / "data";
  Layout layout_ = Layout::twitter();
  std::optional<Error> last_error_;
};

TEST_F(FileReservationTest, ASecondHolderIsRefusedWithTheHoldersPid) {
  auto first = hold(3);
  Result<std::unique_ptr<FileReservation>> second = FileReservation::acquire(dir_, layout_, 3);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::unavailable);
  EXPECT_NE(second.error().message().find("process " + std::to_string(getpid())), std::string::npos)
      << second.error().message();
  first.reset();
  EXPECT_TRUE(FileReservation::acquire(dir_, layout_, 3)) << "released on destruction";
}

TEST_F(FileReservationTest, AnotherProcessIsRefusedToo) {
  auto held = hold(4);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Result<std::unique_ptr<FileReservation>> r = FileReservation::acquire(dir_, layout_, 4);
    _exit(!r && r.error().code() == Errc::unavailable ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(FileReservationTest, AForkedChildDoesNotReleaseTheParentsLock) {
  auto held = hold(6);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    held.reset();  // The child's destructor must neither write nor unlock.
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  Result<std::unique_ptr<FileReservation>> again = FileReservation::acquire(dir_, layout_, 6);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::unavailable);
}

TEST_F(FileReservationTest, AcquireAnyTakesTheLowestFreeNode) {
  auto zero = hold(0);
  auto one = hold(1);
  auto any = FileReservation::acquire_any(dir_, layout_, 0, 1023);
  ASSERT_TRUE(any);
  EXPECT_EQ((*any)->node(), 2u);
  auto none = FileReservation::acquire_any(dir_, layout_, 0, 1);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Errc::unavailable);
}

TEST_F(FileReservationTest, RestartWithTheClockAnHourBackNeverReusesAStamp) {
  for (bool crash : {false, true}) {
    const std::uint64_t node = crash ? 11 : 10;
    const std::vector<std::uint64_t> before =
        crash ? run_then_sigkill(node, kStartMs, 5000) : run(node, kStartMs, 5000);
    ASSERT_EQ(before.size(), 5000u);

    // With the default max_lead the successor refuses rather than repeat.
    last_error_.reset();
    const std::vector<std::uint64_t> refused = run(node, kStartMs - kHourMs, 10);
    EXPECT_TRUE(refused.empty());
    ASSERT_TRUE(last_error_.has_value());
    EXPECT_EQ(last_error_->code(), Errc::clock_regressed) << last_error_->message();

    // Allowed to lead far enough, it continues after the predecessor's stamps.
    const std::vector<std::uint64_t> after = run(node, kStartMs - kHourMs, 5000, 2 * kHourMs);
    ASSERT_EQ(after.size(), 5000u);
    EXPECT_GT(after.front(), before.back()) << (crash ? "after a crash" : "after a clean stop");
  }
}

TEST_F(FileReservationTest, TheRecordsAreDurableChecksummedAndGroupWritable) {
  const mode_t old_umask = ::umask(022);
  run(7, kStartMs, 100);
  ::umask(old_umask);
  Result<std::optional<std::int64_t>> value = FileReservation::recorded_stamp(dir_, layout_, 7);
  ASSERT_TRUE(value) << value.error().message();
  EXPECT_EQ(value->value(), layout_.tick_at_unix_ms(kStartMs)) << "a clean stop records the newest stamp";
  EXPECT_FALSE(fs::exists(mark(7).string() + ".tmp"));
  const std::string text = slurp(mark(7));
  EXPECT_TRUE(text.starts_with("idforge-mark 2\nspace snowflake-node10-seq12\nnode 7\nstamp ")) << text;
  EXPECT_NE(slurp(folder() / "floor").find("node 7 stamp "), std::string::npos);
  for (const fs::path& p : {folder() / "node-7.lock", mark(7), folder() / "floor"}) {
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_mode & 07777, 0664u) << p;
  }
  struct stat st {};
  ASSERT_EQ(::stat(folder().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02775u);
}

// Regression: twitter and the same bits written another way (the README's short
// field names, an epoch 1 ms later, the node bits split 2 + 8) had separate state
// and each took node 0, printing the same IDs.
TEST_F(FileReservationTest, LayoutsOfOneGeometryShareTheirNodes) {
  const Layout twins[] = {
      parse_or_die("time:41-datacenter:5-worker:5-seq:12/tick=1ms/epoch=1288834974657"),
      parse_or_die("time:41-datacenter:5-worker:5-seq:12/tick=1ms/epoch=1288834974658"),
      parse_or_die("time:41-region:2-host:8-sequence:12/epoch=1288834974657"),
  };
  auto held = hold(0);
  for (const Layout& twin : twins) {
    EXPECT_EQ(NodeSpace(twin).name, "snowflake-node10-seq12");
    Result<std::unique_ptr<FileReservation>> same = FileReservation::acquire(dir_, twin, 0);
    ASSERT_FALSE(same) << twin.spec();
    EXPECT_EQ(same.error().code(), Errc::unavailable);
  }
  held.reset();
  // One after another, each continues above the stamps of the one before.
  std::vector<std::uint64_t> before = run(0, kStartMs, 3000);
  for (const Layout& twin : twins) {
    const std::vector<std::uint64_t> after = run(0, kStartMs, 3000, 1000, twin);
    expect_all_after(before, after);
    before = after;
  }
  EXPECT_NE(NodeSpace(Layout::instagram()).name, NodeSpace(layout_).name) << "another geometry, another ID space";
}

TEST_F(FileReservationTest, ALayoutWithLongerTicksOnTheSameBitsIsRefusedAsBehind) {
  run(0, kStartMs, 10);
  last_error_.reset();
  EXPECT_TRUE(run(0, kStartMs, 10, 1000, parse_or_die("time:41-worker:10-seq:12/tick=10ms/epoch=1288834974657"))
                  .empty());
  ASSERT_TRUE(last_error_);
  EXPECT_EQ(last_error_->code(), Errc::clock_regressed) << last_error_->message();
}

// Regression: a dangling symlink in place of a mark read as "never held", and the
// node started from scratch. One lost, damaged or older copy must not reset a node.
TEST_F(FileReservationTest, OneLostDamagedOrOlderRecordNeverResetsANode) {
  const std::vector<std::uint64_t> first = run_then_sigkill(7, kStartMs, 5000);
  const std::string older = slurp(mark(7));
  const std::vector<std::uint64_t> second = run(7, kStartMs + 10, 5000);
  expect_all_after(first, second);
  const std::vector<std::function<void()>> damages = {
      [&] { fs::remove(mark(7)); },
      [&] {
        fs::remove(mark(7));
        fs::create_symlink(dir_ / "nowhere", mark(7));
      },
      [&] { std::ofstream(mark(7)) << older; },  // A restored older copy.
      [&] { std::ofstream(mark(7)) << "idforge-mark 2\ngarbage\n"; },
      [&] { fs::remove(folder() / "floor"); },
  };
  std::vector<std::uint64_t> last = second;
  for (std::size_t i = 0; i < damages.size(); ++i) {
    SCOPED_TRACE("damage " + std::to_string(i));
    damages[i]();
    // The clock is back where the first run was: only the records keep it apart.
    const std::vector<std::uint64_t> next = run(7, kStartMs, 5000, kHourMs);
    expect_all_after(last, next);
    last = next;
  }
}

// Regression: an operator deleted the floor and restored an older copy of the
// mark, and the next holder started after the old mark: 1,987,712 of 2,000,000 IDs
// repeated, silently. The lock file's own note of the last reservation shows the
// records went back; the node is refused (never skipped) until it is recovered.
TEST_F(FileReservationTest, ADeletedFloorAndAnOlderMarkRestoredAreAStoreThatForgotUntilRecovered) {
  const std::vector<std::uint64_t> first = run(7, kStartMs, 5000);
  const std::string older = slurp(mark(7));
  const std::vector<std::uint64_t> second = run(7, kStartMs + 2000, 5000);
  fs::remove(folder() / "floor");
  std::ofstream(mark(7)) << older;
  Result<std::unique_ptr<FileReservation>> refused = FileReservation::acquire(dir_, layout_, 7);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::io);
  const std::string& why = refused.error().message();
  EXPECT_NE(why.find("went back in time"), std::string::npos) << why;
  EXPECT_NE(why.find("idforge nodes recover --data-dir " + dir_.string()), std::string::npos) << why;
  Result<std::unique_ptr<FileReservation>> any = FileReservation::acquire_any(dir_, layout_, 7, 8);
  ASSERT_FALSE(any) << "a store that forgot is refused, not skipped for the next node";
  EXPECT_EQ(any.error().code(), Errc::io);
  EXPECT_FALSE(FileReservation::recorded_stamp(dir_, layout_, 7)) << "inspection says so too";
  // So is a node whose mark and floor are both gone while its lock file remembers it.
  run(9, kStartMs, 10);
  fs::remove(mark(9));
  fs::remove(folder() / "floor");
  EXPECT_FALSE(FileReservation::acquire(dir_, layout_, 9));

  // The explicit step: every record raised past what may have been issued.
  const std::int64_t recovered_to = layout_.tick_at_unix_ms(kStartMs + 1000);
  Result<std::uint64_t> raised = FileReservation::recover(dir_, layout_, recovered_to);
  ASSERT_TRUE(raised) << raised.error().message();
  EXPECT_EQ(*raised, 2u) << "nodes 7 and 9";
  // The clock is back where the first run was: only the records keep the runs apart.
  const std::vector<std::uint64_t> third = run(7, kStartMs, 5000, kHourMs);
  expect_all_after(second, third);
  EXPECT_TRUE(hold(9));
}

TEST_F(FileReservationTest, ARecoveryTouchesNothingWhileANodeIsHeld) {
  run(3, kStartMs, 10);
  auto held = hold(4);
  const std::string before = slurp(mark(3));
  Result<std::uint64_t> refused = FileReservation::recover(dir_, layout_, layout_.tick_at_unix_ms(kStartMs + kHourMs));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::unavailable);
  EXPECT_NE(refused.error().message().find("node 4"), std::string::npos) << refused.error().message();
  EXPECT_NE(refused.error().message().find("process " + std::to_string(::getpid())), std::string::npos);
  EXPECT_EQ(slurp(mark(3)), before) << "nothing was written";
  held.reset();
  ASSERT_TRUE(FileReservation::recover(dir_, layout_, layout_.tick_at_unix_ms(kStartMs + kHourMs)));
  EXPECT_EQ(FileReservation::recorded_stamp(dir_, layout_, 3).value(), layout_.tick_at_unix_ms(kStartMs + kHourMs));
}

TEST_F(FileReservationTest, ALostFloorIsRebuiltFromTheMarks) {
  run(3, kStartMs, 10);
  run(7, kStartMs, 10);
  fs::remove(folder() / "floor");
  run(7, kStartMs + 5, 10);
  const std::string floor = slurp(folder() / "floor");
  EXPECT_NE(floor.find("node 3 stamp "), std::string::npos) << floor;
  EXPECT_NE(floor.find("node 7 stamp "), std::string::npos) << floor;
  fs::remove(mark(3));
  EXPECT_EQ(FileReservation::recorded_stamp(dir_, layout_, 3).value(), layout_.tick_at_unix_ms(kStartMs));
}

// Regression: the message advised restoring a mark from backup, which repeats IDs
// whenever the clock is behind what was issued since the backup.
TEST_F(FileReservationTest, ADamagedMarkTheFloorDoesNotKnowIsRefusedWithOnlySafeAdvice) {
  run(7, kStartMs, 10);
  fs::remove(folder() / "floor");
  std::ofstream(mark(7)) << "hello\n";
  Result<std::unique_ptr<FileReservation>> r = FileReservation::acquire(dir_, layout_, 7);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::io);
  const std::string& why = r.error().message();
  EXPECT_NE(why.find("truncated"), std::string::npos) << why;
  EXPECT_NE(why.find("refusing it"), std::string::npos) << why;
  EXPECT_NE(why.find("idforge nodes recover --data-dir " + dir_.string() + " --issued-until TIME"), std::string::npos)
      << why;
  EXPECT_EQ(why.find("backup"), std::string::npos) << why;
  EXPECT_EQ(why.find("delete"), std::string::npos) << "deleting leaves the lock file's note, which refuses: " << why;
  // Picking any node skips it, and says so.
  {
    auto any = FileReservation::acquire_any(dir_, layout_, 7, 8);
    ASSERT_TRUE(any) << any.error().message();
    EXPECT_EQ((*any)->node(), 8u);
    ASSERT_FALSE((*any)->notes().empty());
    EXPECT_NE((*any)->notes()[0].find("skipped node 7"), std::string::npos) << (*any)->notes()[0];
  }
  // Following the advice makes the node usable again, after the time given.
  const std::int64_t issued_until = layout_.tick_at_unix_ms(kStartMs + kHourMs);
  ASSERT_TRUE(FileReservation::recover(dir_, layout_, issued_until));
  EXPECT_EQ(FileReservation::recorded_stamp(dir_, layout_, 7).value(), issued_until);
  EXPECT_TRUE(hold(7));
}

TEST_F(FileReservationTest, AMarkOfAnotherLayoutOfTheSameBitsIsNoted) {
  run(7, kStartMs, 10, 1000, parse_or_die("time:41-dc:5-w:5-seq:12/epoch=1288834974657"));
  auto r = hold(7);
  ASSERT_EQ(r->notes().size(), 1u);
  EXPECT_NE(r->notes()[0].find("last held under layout time:41-dc:5-w:5"), std::string::npos) << r->notes()[0];
}

// Regression: `rm node-0.lock` (or of the whole data directory) under a running
// holder let a second process take the node, and both issued.
TEST_F(FileReservationTest, ARemovedLockFileOrDirectoryStopsTheHolderAndKeepsOthersOut) {
  for (bool whole_directory : {false, true}) {
    SCOPED_TRACE(whole_directory ? "data directory removed" : "lock file removed");
    ManualClock clock(kStartMs * kNsPerMs);
    auto reservation = hold(2);
    auto generator = Generator::create({}, clock, *reservation).value();
    ASSERT_TRUE(generator->next());
    if (whole_directory) {
      fs::remove_all(dir_);
    } else {
      fs::remove(folder() / "node-2.lock");
    }
    Result<std::unique_ptr<FileReservation>> second = FileReservation::acquire(dir_, layout_, 2);
    ASSERT_FALSE(second) << "a second holder got the node while the first lives";
    EXPECT_EQ(second.error().code(), Errc::unavailable);
    EXPECT_NE(second.error().message().find("removed or replaced"), std::string::npos) << second.error().message();
    clock.advance_ms(600);
    Result<void> renewed = generator->renew();
    ASSERT_FALSE(renewed);
    EXPECT_EQ(renewed.error().code(), Errc::lease_lost);
    EXPECT_NE(renewed.error().message().find("removed or replaced"), std::string::npos);
    Result<std::uint64_t> refused = generator->next();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::lease_lost);
    // Closing writes the final reservation back where the next holder looks.
    const std::int64_t newest = layout_.tick_at_unix_ms(kStartMs);
    EXPECT_FALSE(generator->close());
    generator.reset();
    reservation.reset();
    Result<std::optional<std::int64_t>> recorded = FileReservation::recorded_stamp(dir_, layout_, 2);
    ASSERT_TRUE(recorded) << recorded.error().message();
    EXPECT_GE(recorded->value_or(-1), newest);
    EXPECT_TRUE(FileReservation::acquire(dir_, layout_, 2)) << "free again once the holder is gone";
  }
}

TEST_F(FileReservationTest, AMissingDataDirectoryIsCreatedOnlyWhenItsParentExists) {
  Result<std::unique_ptr<FileReservation>> deep = FileReservation::acquire(dir_ / "a" / "b", layout_, 0);
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code(), Errc::io);
  EXPECT_NE(deep.error().message().find("neither does its parent"), std::string::npos) << deep.error().message();
  EXPECT_FALSE(fs::exists(dir_));
  EXPECT_TRUE(FileReservation::acquire(dir_, layout_, 0));
  Result<std::unique_ptr<FileReservation>> empty = FileReservation::acquire("", layout_, 0);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), Errc::invalid_argument);
}

TEST_F(FileReservationTest, UnusableDirectoryOrLockFileIsAnIoError) {
  fs::create_directories(temp_.path());
  const fs::path file = temp_.path() / "not-a-dir";
  std::ofstream(file) << "x";
  Result<std::unique_ptr<FileReservation>> r = FileReservation::acquire(file, layout_, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::io);
  hold(0).reset();
  fs::remove(folder() / "node-1.lock");
  fs::create_symlink(file, folder() / "node-1.lock");
  Result<std::unique_ptr<FileReservation>> linked = FileReservation::acquire(dir_, layout_, 1);
  ASSERT_FALSE(linked);
  EXPECT_NE(linked.error().message().find("symbolic link"), std::string::npos) << linked.error().message();
}

}  // namespace
}  // namespace idforge
