// SPDX-License-Identifier: Apache-2.0
// idforge gen --format and idforge decode on every wide format, run as a user would,
// with Python's standard uuid module as an outside judge of our UUIDs.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "support/cli.h"

namespace idforge {
namespace {

using testing::Cli;
using testing::lines;

class FormatsCli : public Cli {};

TEST_F(FormatsCli, EveryFormatRoundTripsThroughDecode) {
  for (const char* format : {"ulid", "uuidv4", "uuidv7", "objectid", "ksuid", "flake128"}) {
    SCOPED_TRACE(format);
    const testing::Ran made = run(std::string("gen -n 500 --format ") + format);
    ASSERT_EQ(made.exit_code, 0) << made.err;
    const std::vector<std::string> ids = lines(made.out);
    ASSERT_EQ(ids.size(), 500u);
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "duplicate";
    const testing::Ran decoded = run("decode --json", made.out);
    ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
    const std::vector<std::string> objects = lines(decoded.out);
    ASSERT_EQ(objects.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const nlohmann::json j = nlohmann::json::parse(objects[i]);
      ASSERT_EQ(j["format"], format);
      ASSERT_EQ(j["id"], ids[i]);
      if (std::string(format) != "uuidv4") {
        ASSERT_EQ(j["future"], false);
      }
    }
  }
}

TEST_F(FormatsCli, TimeOrderedFormatsPrintInStrictOrder) {
  for (const char* format : {"ulid", "uuidv7", "flake128"}) {
    const std::vector<std::string> ids = lines(run(std::string("gen -n 20000 --format ") + format).out);
    ASSERT_EQ(ids.size(), 20000u) << format;
    EXPECT_TRUE(std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) == ids.end()) << format;
  }
}

TEST_F(FormatsCli, PythonsUuidModuleAgreesOnVersionAndVariant) {
  for (const char* format : {"uuidv4", "uuidv7"}) {
    const testing::Ran made = run(std::string("gen -n 2000 --format ") + format);
    ASSERT_EQ(made.exit_code, 0) << made.err;
    std::ofstream(dir_ / "uuids.txt") << made.out;
    const std::string script =
        "import sys, uuid\n"
        "want = int(sys.argv[1])\n"
        "bad = [l for l in open(sys.argv[2]).read().split()\n"
        "       if uuid.UUID(l).version != want or uuid.UUID(l).variant != uuid.RFC_4122 or str(uuid.UUID(l)) != l]\n"
        "print(len(bad), bad[:3])\n"
        "sys.exit(1 if bad else 0)\n";
    std::ofstream(dir_ / "check.py") << script;
    const std::string command = "python3 '" + (dir_ / "check.py").string() + "' " + (format[5]) + " '" +
                                (dir_ / "uuids.txt").string() + "' > '" + (dir_ / "py.out").string() + "' 2>&1";
    const int status = std::system(command.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << format << ": " << testing::slurp(dir_ / "py.out");
  }
}

TEST_F(FormatsCli, Flake128WorkersAreHeldLikeNodes) {
  const testing::Ran a = run("gen --format flake128 --worker 77 -n 3");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const nlohmann::json j = nlohmann::json::parse(lines(run("decode --json", a.out).out).at(0));
  EXPECT_EQ(j["worker"], 77);
  // A second run on the same worker starts after the first one's reservation.
  const testing::Ran b = run("gen --format flake128 --worker 77 -n 1");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_GT(lines(b.out).at(0), lines(a.out).back());
  // Automatic picks take the lowest free worker.
  EXPECT_EQ(nlohmann::json::parse(run("decode --json", run("gen --format flake128").out).out)["worker"], 0);
}

TEST_F(FormatsCli, DecodeSaysWhenTextIsAmbiguousOrMatchesNothing) {
  const testing::Ran ambiguous = run("decode 1234567890123456");
  EXPECT_EQ(ambiguous.exit_code, 2);
  EXPECT_NE(ambiguous.err.find("ambiguous: it reads as snowflake, snowflake (hex)"), std::string::npos)
      << ambiguous.err;
  const testing::Ran pinned = run("decode --encoding hex --json 1234567890123456");
  ASSERT_EQ(pinned.exit_code, 0) << pinned.err;
  EXPECT_EQ(nlohmann::json::parse(pinned.out)["id"], "1311768467284833366");
  expect_one_error_line(run("decode --format uuidv7 919108f7-52d1-4320-9bac-f847db4148a8"), 2, "version is 4");
  expect_one_error_line(run("decode 6ba7b810-9dad-11d1-80b4-00c04fd430c8"), 2, "a UUID of version 1");
  expect_one_error_line(run("decode 8ZZZZZZZZZZZZZZZZZZZZZZZZZ"), 2, "above 7ZZZ");
  expect_one_error_line(run("decode --format ulid --encoding hex 1"), 2, "--format snowflake only");
}

// Regression: decode once aborted (exit 134) on instants past the year 9999 and
// dropped the lines after them.
TEST_F(FormatsCli, DecodeReadsEveryInstantAndKeepsGoingPastBadLines) {
  const testing::Ran ran = run("decode --json",
                               "7ZZZZZZZZZZZZZZZZZZZZZZZZZ\nacbd18db4cc2f85cedef654fccc4a4d8\n"
                               "ffffffff-ffff-7fff-bfff-ffffffffffff 01ARZ3NDEKTSV4RRFFQ69G5FAV\n");
  EXPECT_EQ(ran.exit_code, 2) << ran.err;
  const std::vector<std::string> out = testing::lines(ran.out);
  ASSERT_EQ(out.size(), 3u) << ran.out;
  EXPECT_EQ(nlohmann::json::parse(out[0])["time"], "+010889-08-02T05:31:50.655Z");
  EXPECT_EQ(nlohmann::json::parse(out[1])["time"], "+010889-08-02T05:31:50.655Z");
  EXPECT_EQ(nlohmann::json::parse(out[2])["time"], "2016-07-30T23:54:10.259Z");
  EXPECT_EQ(testing::lines(ran.err).size(), 1u) << ran.err;
  EXPECT_NE(ran.err.find("past the year 292,278,994"), std::string::npos) << ran.err;
}

TEST_F(FormatsCli, GenRefusesFlagsThatDoNotApply) {
  expect_one_error_line(run("gen --format ksuid --layout discord"), 2, "--format snowflake only");
  expect_one_error_line(run("gen --format uuidv4 --node 3"), 2, "takes no node");
  expect_one_error_line(run("gen --format flake128 --worker 281474976710656"), 2, "0 to 281474976710655");
  expect_one_error_line(run("gen --format flake128 --worker -1"), 2, "must be a whole number");
  expect_one_error_line(run("gen --format uuid"), 2, "unknown format 'uuid'");
}

}  // namespace
}  // namespace idforge
