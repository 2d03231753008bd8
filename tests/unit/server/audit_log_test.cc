// SPDX-License-Identifier: Apache-2.0
// AuditLog on real files: whole lines, fsynced batches, rotation by size, and a
// full disk that neither stops the caller nor loses lines once space returns.
#include "server/audit_log.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/temp_dir.h"

namespace idforge::detail {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<json> read_lines(const fs::path& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

ClaimedRange range(std::uint64_t first) { return {5, first, first + 99, 100, 60}; }

AuditLogOptions options(const fs::path& path) {
  AuditLogOptions o;
  o.path = path.string();
  o.host = "host-a";
  o.pid = 42;
  o.flush_interval = std::chrono::milliseconds(10);
  return o;
}

TEST(AuditLog, WritesOneLinePerRangeWithWhoAndWhere) {
  testing::TempDir dir;
  auto log = AuditLog::open(options(dir.path() / "audit.log"));
  ASSERT_TRUE(log) << log.error().message();
  (*log)->record(Layout::discord(), range(1000));
  (*log)->record(Layout::discord(), range(2000));
  ASSERT_TRUE((*log)->close());
  const std::vector<json> lines = read_lines(dir.path() / "audit.log");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["host"], "host-a");
  EXPECT_EQ(lines[0]["pid"], 42);
  EXPECT_EQ(lines[0]["layout"], "discord");
  EXPECT_EQ(lines[0]["space"], "node10-seq12");
  EXPECT_EQ(lines[0]["node"], 5);
  EXPECT_EQ(lines[0]["first"], "1000");
  EXPECT_EQ(lines[0]["last"], "1099");
  EXPECT_EQ(lines[0]["states"], 100);
  EXPECT_EQ(lines[0]["issued"], 60);
  EXPECT_EQ(lines[1]["first"], "2000");
  EXPECT_EQ((*log)->info()["records"], 2);
}

TEST(AuditLog, AppendsToTheFileItFinds) {
  testing::TempDir dir;
  for (int run = 0; run < 2; ++run) {
    auto log = AuditLog::open(options(dir.path() / "audit.log"));
    ASSERT_TRUE(log);
    (*log)->record(Layout::twitter(), range(static_cast<std::uint64_t>(run) * 1000));
  }  // The destructor closes, writing what is left.
  EXPECT_EQ(read_lines(dir.path() / "audit.log").size(), 2u);
}

TEST(AuditLog, RotatesBySizeAndKeepsTheNewestFiles) {
  testing::TempDir dir;
  AuditLogOptions o = options(dir.path() / "audit.log");
  o.max_bytes = 1000;  // About four lines a file.
  o.keep = 2;
  auto log = AuditLog::open(o);
  ASSERT_TRUE(log);
  for (std::uint64_t i = 0; i < 40; ++i) {
    (*log)->record(Layout::twitter(), range(i * 1000));
    std::this_thread::sleep_for(std::chrono::milliseconds(15));  // A batch each.
  }
  ASSERT_TRUE((*log)->close());
  EXPECT_TRUE(fs::exists(dir.path() / "audit.log.1"));
  EXPECT_TRUE(fs::exists(dir.path() / "audit.log.2"));
  EXPECT_FALSE(fs::exists(dir.path() / "audit.log.3"));
  std::size_t kept = 0;
  for (const char* name : {"audit.log", "audit.log.1", "audit.log.2"}) {
    EXPECT_LE(fs::file_size(dir.path() / name), 1000u) << name;
    kept += read_lines(dir.path() / name).size();
  }
  EXPECT_LT(kept, 40u);
  // The newest range is in the current file, whole.
  EXPECT_EQ(read_lines(dir.path() / "audit.log").back()["first"], "39000");
}

TEST(AuditLog, AFullDiskIsCountedAndTheLinesAreWrittenWhenSpaceReturns) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small file system needs root";
  testing::TempDir dir;
  const fs::path disk = dir.path() / "disk";
  fs::create_directory(disk);
  ASSERT_EQ(::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=64k"), 0) << std::strerror(errno);
  {
    std::ofstream filler(disk / "filler");
    filler << std::string(64 * 1024, 'x');  // Fills it (tmpfs rounds to pages).
  }
  auto log = AuditLog::open(options(disk / "audit.log"));
  ASSERT_TRUE(log) << log.error().message();
  for (std::uint64_t i = 0; i < 5; ++i) (*log)->record(Layout::twitter(), range(i * 1000));
  for (int i = 0; i < 500 && (*log)->info()["failing"].is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE((*log)->info()["failing"].get<std::string>().find("No space left"), std::string::npos);
  fs::remove(disk / "filler");
  (*log)->record(Layout::twitter(), range(9000));
  Result<void> closed = (*log)->close();
  EXPECT_TRUE(closed) << closed.error().message();
  const std::vector<json> lines = read_lines(disk / "audit.log");
  ::umount(disk.c_str());
  ASSERT_EQ(lines.size(), 6u);  // Nothing lost, in order, no cut line.
  EXPECT_EQ(lines[0]["first"], "0");
  EXPECT_EQ(lines[5]["first"], "9000");
}

TEST(AuditLog, ADirectoryOrAnEmptyNameIsRefused) {
  testing::TempDir dir;
  EXPECT_EQ(AuditLog::open(options(dir.path())).error().code(), Errc::io);
  EXPECT_EQ(AuditLog::open(options("")).error().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace idforge::detail
