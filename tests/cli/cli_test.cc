// SPDX-License-Identifier: Apache-2.0
// Runs the built idforge binary as a user would and checks what it prints.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "idforge/file_reservation.h"
#include "idforge/layout.h"
#include "support/cli.h"

namespace idforge {
namespace {

using testing::Cli;
using testing::lines;
using testing::Ran;
namespace fs = std::filesystem;

std::vector<std::uint64_t> as_numbers(const std::string& text) {
  std::vector<std::uint64_t> ids;
  for (const std::string& line : lines(text)) ids.push_back(std::stoull(line));
  return ids;
}

TEST_F(Cli, VersionAndHelpAnswerQuestions) {
  const Ran version = run("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(version.out.starts_with("idforge ")) << version.out;
  const Ran help = run("--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* word : {"gen", "decode", "layout", "Exit codes"}) EXPECT_NE(help.out.find(word), std::string::npos) << word;
  const Ran gen_help = run("gen --help");
  EXPECT_EQ(gen_help.exit_code, 0);
  for (const char* word : {"--layout", "--count", "--encoding", "--data-dir", "IDFORGE_DATA_DIR", "--worker",
                           "Exit codes"}) {
    EXPECT_NE(gen_help.out.find(word), std::string::npos) << word;
  }
  EXPECT_EQ(run("decode --help").exit_code, 0);
  EXPECT_EQ(run("layout --help").exit_code, 0);
}

TEST_F(Cli, GenPrintsIncreasingIdsOfTheNodeItHolds) {
  const Ran ran = run("gen -n 1000 --datacenter 2 --worker 9");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const std::vector<std::uint64_t> ids = as_numbers(ran.out);
  ASSERT_EQ(ids.size(), 1000u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  const Parts parts = Layout::twitter().decompose(ids.front());
  EXPECT_EQ(parts.node[0], 2u);
  EXPECT_EQ(parts.node[1], 9u);
}

TEST_F(Cli, GenEncodingsRoundTripThroughDecode) {
  for (const char* encoding : {"hex", "base62", "base32", "base58"}) {
    const Ran ran = run(std::string("gen -n 3 --layout discord --encoding ") + encoding);
    ASSERT_EQ(ran.exit_code, 0) << ran.err;
    const Ran decoded = run(std::string("decode --json --layout discord --encoding ") + encoding, ran.out);
    ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
    const std::vector<std::string> objects = lines(decoded.out);
    ASSERT_EQ(objects.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(nlohmann::json::parse(objects[i])[encoding], lines(ran.out)[i]);
    }
  }
}

TEST_F(Cli, DecodesDiscordsDocumentedExample) {
  const Ran ran = run("decode --layout discord --json 175928847299117063");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const nlohmann::json j = nlohmann::json::parse(ran.out);
  EXPECT_EQ(j["id"], "175928847299117063");
  EXPECT_EQ(j["time"], "2016-04-30T11:18:25.796Z");
  EXPECT_EQ(j["worker"], 1);
  EXPECT_EQ(j["process"], 0);
  EXPECT_EQ(j["increment"], 7);
  EXPECT_EQ(j["future"], false);
  const Ran table = run("decode --layout discord 175928847299117063");
  EXPECT_NE(table.out.find("2016-04-30T11:18:25.796Z"), std::string::npos);
  EXPECT_NE(table.out.find("INCREMENT"), std::string::npos);
}

TEST_F(Cli, DecodeReadsStandardInputAndFlagsTheFuture) {
  const Layout twitter = Layout::twitter();
  const std::uint64_t future = twitter.min_id_at(twitter.capacity().last_unix_ms).value();
  const Ran ran = run("decode --json", "1010040286003654656\n" + std::to_string(future) + "\n");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const std::vector<std::string> objects = lines(ran.out);
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(objects[0])["future"], false);
  EXPECT_EQ(nlohmann::json::parse(objects[1])["future"], true);
  EXPECT_NE(run("decode " + std::to_string(future)).out.find("future"), std::string::npos);
}

TEST_F(Cli, BadInputGetsOneClearLineAndExitCodeTwo) {
  expect_one_error_line(run("decode 12abc"), 2, "not a dec ID");
  expect_one_error_line(run("decode 9223372036854775808"), 2, "above the largest ID");
  expect_one_error_line(run("decode --encoding base64 1"), 2, "unknown encoding");
  expect_one_error_line(run("gen --layout snowfake"), 2, "unknown layout");
  expect_one_error_line(run("gen --layout 'time:41-seq:30'"), 2, "71 bits");
  expect_one_error_line(run("gen -n 0"), 2, "--count");
  expect_one_error_line(run("gen -n -5"), 2, "--count");
  expect_one_error_line(run("gen -n 1e3"), 2, "--count");
  expect_one_error_line(run("gen -n abc"), 2, "-n/--count 'abc' must be a whole number");
  expect_one_error_line(run("gen --node -1"), 2, "--node '-1' must be a whole number from 0 to 1023");
  expect_one_error_line(run("gen --worker 3 --worker 4"), 2, "--worker is given twice");
  expect_one_error_line(run("gen --data-dir ''"), 2, "--data-dir is empty");
  expect_one_json_error_line(run("serve --node -1"), 2, "--node '-1' is outside layout twitter");
  expect_one_error_line(run("gen --worker 32"), 2, "0 to 31");
  expect_one_error_line(run("gen --wrker 3"), 2, "--datacenter, --worker");
  expect_one_error_line(run("gen --layout discord --datacenter 1"), 2, "--worker, --process");
  expect_one_error_line(run("gen --node 1 --worker 1"), 2, "not both");
  expect_one_error_line(run("frobnicate"), 2, "unknown command 'frobnicate'");
  expect_one_error_line(run("--frobnicate"), 2, "unknown option '--frobnicate': options follow the command");
  expect_one_error_line(run("layout 'time:63-seq:1'"), 2, "a 63-bit timestamp (62 bits below the sign bit)");
  expect_one_error_line(run(""), 2, "a command is required");
  expect_one_error_line(run("layout 'time:41-Worker:3-seq:12'"), 2, "field name");
  const Ran mixed = run("decode 1010040286003654656 nope");
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.out.find("2018-06-22T06:02:24"), std::string::npos) << "the valid ID is still decoded";
}

TEST_F(Cli, RangeGivesTheIdsOfASpanOfTime) {
  // Discord's documented ID lies within its instant's range.
  const Ran one = run("range --layout discord --json 2016-04-30T11:18:25.796Z");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const nlohmann::json j = nlohmann::json::parse(one.out);
  EXPECT_LE(std::stoull(j["min_id"].get<std::string>()), 175928847299117063u);
  EXPECT_GE(std::stoull(j["max_id"].get<std::string>()), 175928847299117063u);
  const Ran span = run("range 1462015105000 2016-05-01");
  ASSERT_EQ(span.exit_code, 0) << span.err;
  EXPECT_NE(span.out.find("from    2016-04-30T11:18:25.000Z\nto      2016-05-01T00:00:00.000Z\n"), std::string::npos)
      << span.out;
  expect_one_error_line(run("range 2016-05-01 2016-04-30"), 2, "after its end");
  expect_one_error_line(run("range 1999-01-01"), 2, "outside layout twitter's lifetime");
  expect_one_error_line(run("range soon"), 2, "is not an instant");
}

// The SQL is run against a real server in tests/postgres; here, what it is built
// from and the refusals.
TEST_F(Cli, SqlPrintsAGeneratorForTheNodeAndRefusesBadFlags) {
  const Ran sql = run("sql --layout instagram --shard 5 --schema ids --function photo_id");
  ASSERT_EQ(sql.exit_code, 0) << sql.err;
  for (const std::string part : {"CREATE SCHEMA IF NOT EXISTS \"ids\";", "CREATE OR REPLACE FUNCTION \"ids\".photo_id()",
                                 "\"ids\".photo_id_time(id bigint)", "\"ids\".photo_id_fields(id bigint",
                                 "OUT \"shard\" bigint", "\"ids\".photo_id_min_at(t timestamptz)",
                                 "\"ids\".photo_id_max_at(t timestamptz)", "layout timestamp:41-shard:13-sequence:10",
                                 "| 5120;"}) {  // Shard 5's bits: 5 << 10.
    EXPECT_NE(sql.out.find(part), std::string::npos) << part;
  }
  EXPECT_EQ(run("sql --layout instagram --node 5 --schema ids --function photo_id").out, sql.out);
  expect_one_error_line(run("sql"), 2, "a node is required: --node N, or the layout's node fields (--datacenter --worker)");
  expect_one_error_line(run("sql --node 1024"), 2, "--node '1024' must be a whole number from 0 to 1023");
  expect_one_error_line(run("sql --layout instagram --shard 5 --worker 1"), 2, "sets its node with --shard (see 'idforge sql --help')");
  expect_one_error_line(run("sql --node 1 --function 'x; DROP TABLE t'"), 2, "--function 'x; DROP TABLE t' must be");
  expect_one_error_line(run("sql --node 1 --schema Public"), 2, "--schema 'Public' must be");
  expect_one_error_line(run("sql --node 1 --function " + std::string(57, 'f')), 2, "1 to 56 characters");
  expect_one_error_line(run("sql --node 1 --max-lead-ms 86400001"), 2, "--max-lead-ms must be from 0 to 86400000");
  expect_one_error_line(run("sql --node 1 --max-wait-ms -1"), 2, "--max-wait-ms must be from 0 to 3600000");
  expect_one_error_line(run("sql --node 1 --layout nope"), 2, "unknown layout");
}

// Regression: gen said stamps were "already issued" when the epoch was in the future.
TEST_F(Cli, AFutureEpochIsNamedAsSuch) {
  const std::string layout = "'time:41-worker:10-seq:12/epoch=2099-01-01'";
  expect_one_error_line(run("gen --layout " + layout), 1, "before layout custom's epoch 2099-01-01");
  const Ran planned = run("layout " + layout);
  EXPECT_EQ(planned.exit_code, 0);
  EXPECT_NE(planned.out.find("epoch 2099-01-01T00:00:00.000Z is in the future"), std::string::npos) << planned.out;
}

// A run that will take more than a few seconds at the layout's cap says so on a
// terminal (script(1) gives it one; the run is stopped after a second).
TEST_F(Cli, ASlowRunSaysHowLongItWillTakeOnATerminal) {
  const std::string command = "timeout -s INT 1 " IDFORGE_CLI_PATH " gen --data-dir '" + (dir_ / "state").string() +
                              "' --layout sonyflake -n 1000000 >/dev/null";
  const fs::path transcript = dir_ / "transcript";
  const std::string script = "script -qec \"" + command + "\" '" + transcript.string() + "' >/dev/null 2>&1";
  ASSERT_GE(std::system(script.c_str()), 0);
  const std::string said = testing::slurp(transcript);
  EXPECT_NE(said.find("1000000 IDs at layout sonyflake's cap of 25600 per second take about 39 s"), std::string::npos)
      << said;
  EXPECT_NE(said.find("stopped by SIGINT"), std::string::npos) << said;
}

TEST_F(Cli, AHeldNodeIsAClearFailure) {
  auto held = FileReservation::acquire(dir_ / "state", Layout::twitter(), 37);
  ASSERT_TRUE(held);
  expect_one_error_line(run("gen --node 37"), 1, "held by process " + std::to_string(getpid()));
  const Ran other = run("gen --node 38");
  EXPECT_EQ(other.exit_code, 0) << other.err;
}

TEST_F(Cli, ConsecutiveRunsOnOneNodeNeverOverlap) {
  std::uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    const Ran ran = run("gen --node 3 -n 5000");
    ASSERT_EQ(ran.exit_code, 0) << ran.err;
    const std::vector<std::uint64_t> ids = as_numbers(ran.out);
    ASSERT_EQ(ids.size(), 5000u);
    EXPECT_GT(ids.front(), last);
    last = ids.back();
  }
}

TEST_F(Cli, FourConcurrentGeneratorsNeverPrintTheSameId) {
  constexpr int kRuns = 4;
  std::vector<Ran> results(kRuns);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRuns; ++i) {
    threads.emplace_back([&, i] { results[static_cast<std::size_t>(i)] = run("gen -n 200000", "", "gen" + std::to_string(i)); });
  }
  for (std::thread& t : threads) t.join();
  std::set<std::uint64_t> all;
  std::size_t total = 0;
  for (const Ran& ran : results) {
    ASSERT_EQ(ran.exit_code, 0) << ran.err;
    const std::vector<std::uint64_t> ids = as_numbers(ran.out);
    ASSERT_EQ(ids.size(), 200000u);
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    all.insert(ids.begin(), ids.end());
    total += ids.size();
  }
  // Runs that overlap take different nodes; runs that do not may share one. Either
  // way no ID repeats.
  EXPECT_EQ(all.size(), total) << "two processes printed the same ID";
}

TEST_F(Cli, AutoPickSkipsHeldNodes) {
  // Whether concurrent runs overlap is up to the scheduler; holding nodes here is not.
  auto node0 = FileReservation::acquire(dir_ / "state", Layout::twitter(), 0);
  auto node1 = FileReservation::acquire(dir_ / "state", Layout::twitter(), 1);
  ASSERT_TRUE(node0 && node1);
  const Ran ran = run("gen -n 1");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const std::uint64_t id = as_numbers(ran.out).at(0);
  EXPECT_EQ(Layout::twitter().node_number(Layout::twitter().decompose(id).node), 2u);
}

TEST_F(Cli, LayoutPlansCapacityAndWarnsAboutTheEndOfTime) {
  const Ran twitter = run("layout twitter --json");
  ASSERT_EQ(twitter.exit_code, 0) << twitter.err;
  const nlohmann::json j = nlohmann::json::parse(twitter.out);
  EXPECT_EQ(j["ids_per_second_per_node"], 4096000.0);
  EXPECT_EQ(j["nodes"], 1024);
  EXPECT_EQ(j["last_time"], "2080-07-10T17:30:30.208Z");
  EXPECT_TRUE(j["warning"].is_null());
  const Ran baidu = run("layout baidu");
  EXPECT_EQ(baidu.exit_code, 0);
  EXPECT_NE(baidu.out.find("WARNING: layout baidu ran out of time on 2024-11-20"), std::string::npos) << baidu.out;
  const Ran all = run("layout");
  for (std::string_view name : Layout::preset_names()) EXPECT_NE(all.out.find(name), std::string::npos) << name;
  const Ran js = run("layout js53");
  EXPECT_NE(js.out.find("every ID stays below 2^53"), std::string::npos) << js.out;
}

}  // namespace
}  // namespace idforge
