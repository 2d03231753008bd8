#include "idforge/file_reservation.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "idforge/generator.h"
#include "support/temp_dir.h"

namespace idforge {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kStartMs = 1767225600000;
constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr std::int64_t kHourMs = 3'600'000;

class FileReservationTest : public ::testing::Test {
 protected:

  std::unique_ptr<FileReservation> hold(std::uint64_t node) {
    auto r = FileReservation::acquire(dir_, layout_, node);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? std::move(*r) : nullptr;
  }

  // Issues up to `count` IDs on `node` with the clock at `wall_ms` and closes cleanly.
  // A refusal stops early and is kept in last_error_.
  std::vector<std::uint64_t> run(std::uint64_t node, std::int64_t wall_ms, int count,
                                 std::int64_t max_lead_ms = 1000) {
    ManualClock clock(wall_ms * kNsPerMs);
    auto reservation = hold(node);
    GeneratorOptions options;
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
  // close(), no destructors; the mark keeps the last extension.
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

  void write_mark(const std::string& text) {
    fs::create_directories(FileReservation::layout_dir(dir_, layout_));
    std::ofstream(FileReservation::layout_dir(dir_, layout_) / "node-7.mark") << text;
  }

  testing::TempDir temp_;
  const fs::path& dir_ = temp_.path();
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

TEST_F(FileReservationTest, TheMarkIsDurableAndChecksummed) {
  run(7, kStartMs, 100);
  const fs::path mark = FileReservation::layout_dir(dir_, layout_) / "node-7.mark";
  Result<std::optional<std::int64_t>> value = FileReservation::read_mark(mark, layout_, 7);
  ASSERT_TRUE(value);
  EXPECT_EQ(value->value(), kStartMs) << "a clean stop records the newest stamp";
  EXPECT_FALSE(fs::exists(mark.string() + ".tmp"));
}

TEST_F(FileReservationTest, ADamagedMarkRefusesToStart) {
  run(7, kStartMs, 10);
  const fs::path mark = FileReservation::layout_dir(dir_, layout_) / "node-7.mark";
  std::string good;
  {
    std::ifstream in(mark);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string flipped = good;
  flipped[flipped.find("reserved_until_unix_ms ") + 24] ^= 1;
  std::string other_node = good;
  other_node.replace(other_node.find("node 7"), 6, "node 8");
  const std::pair<std::string, const char*> damages[] = {
      {"", "empty"},
      {good.substr(0, good.size() / 2), "truncated"},
      {good.substr(0, good.size() - 1), "truncated"},
      {flipped, "checksum"},
      {other_node, "checksum"},
      {"hello\n", "truncated"},
  };
  for (const auto& [text, why] : damages) {
    write_mark(text);
    Result<std::unique_ptr<FileReservation>> r = FileReservation::acquire(dir_, layout_, 7);
    ASSERT_FALSE(r) << why;
    EXPECT_EQ(r.error().code(), Errc::io);
    EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("refusing to start"), std::string::npos);
  }
  write_mark(good);
  EXPECT_TRUE(FileReservation::acquire(dir_, layout_, 7));
}

TEST_F(FileReservationTest, AMarkOfAnotherLayoutIsRefused) {
  run(7, kStartMs, 10);
  const fs::path mark = FileReservation::layout_dir(dir_, layout_) / "node-7.mark";
  Result<std::optional<std::int64_t>> r = FileReservation::read_mark(mark, Layout::discord(), 7);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("another layout"), std::string::npos);
}

TEST_F(FileReservationTest, UnusableDirectoryIsAnIoError) {
  const fs::path file = dir_ / "not-a-dir";
  std::ofstream(file) << "x";
  Result<std::unique_ptr<FileReservation>> r = FileReservation::acquire(file, layout_, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::io);
}

}  // namespace
}  // namespace idforge
