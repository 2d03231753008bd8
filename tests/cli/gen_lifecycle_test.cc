// SPDX-License-Identifier: Apache-2.0
// Where `idforge gen` keeps its state and how a run ends: the host-wide default
// data directory, refusing empty paths, closed pipes and stop signals — each ends
// the run at once with its final reservation written.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "idforge/file_reservation.h"
#include "idforge/layout.h"
#include "support/cli.h"

namespace idforge {
namespace {

using testing::Cli;
using testing::lines;
using testing::Ran;
namespace fs = std::filesystem;

class GenLifecycle : public Cli {
 protected:
  fs::path state() const { return dir_ / "state"; }
  std::string with_state() const { return "IDFORGE_DATA_DIR='" + state().string() + "'"; }

  // Runs a shell script with IDFORGE (the binary) and STATE (the data directory) set.
  int sh(const std::string& script) const {
    const std::string command = "IDFORGE='" IDFORGE_CLI_PATH "' STATE='" + state().string() + "' DIR='" +
                                dir_.string() + "' bash -c '" + script + "'";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

TEST_F(GenLifecycle, EmptyDataDirectoriesAreRefusedNotTheWorkingDirectory) {
  expect_one_error_line(run_with("IDFORGE_DATA_DIR=", "gen"), 2, "IDFORGE_DATA_DIR is empty");
  expect_one_error_line(run("gen --data-dir ''"), 2, "--data-dir is empty");
  expect_one_error_line(run("gen --data-dir '" + (dir_ / "no" / "such").string() + "'"), 1, "neither does its parent");
  EXPECT_FALSE(fs::exists(fs::current_path() / "snowflake-node10-seq12"));
}

// Regression: the default was per user, so an operator's gen and a service running
// as another user both took node 0.
TEST_F(GenLifecycle, TheDefaultDataDirectoryIsHostWide) {
  const Ran help = run("gen --help");
  EXPECT_NE(help.out.find("/var/lib/idforge"), std::string::npos) << help.out;
  const Ran ran = run_with("env -u IDFORGE_DATA_DIR", "gen --verbose -n 1");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  if (::geteuid() == 0) {
    EXPECT_NE(ran.err.find("in /var/lib/idforge/snowflake-node10-seq12"), std::string::npos) << ran.err;
    EXPECT_EQ(ran.err.find("warning"), std::string::npos) << ran.err;
  } else {
    EXPECT_NE(ran.err.find("/var/lib/idforge is not writable by this user"), std::string::npos) << ran.err;
  }
}

TEST_F(GenLifecycle, AUserWhoCannotWriteTheDefaultIsWarnedWithTheRisk) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run as another user";
  const fs::path home = dir_ / "home";
  fs::create_directories(home);
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::permissions(home, fs::perms::all);
  const Ran ran = run_with("env -u IDFORGE_DATA_DIR -u XDG_STATE_HOME HOME='" + home.string() +
                               "' setpriv --reuid=65534 --regid=65534 --clear-groups",
                           "gen --verbose -n 1");
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const std::vector<std::string> err = lines(ran.err);
  ASSERT_EQ(err.size(), 2u) << ran.err;
  EXPECT_NE(err[0].find("warning: /var/lib/idforge is not writable by this user (uid 65534)"), std::string::npos)
      << err[0];
  EXPECT_NE(err[0].find((home / ".local/state/idforge").string()), std::string::npos) << err[0];
  EXPECT_NE(err[0].find("may take the same nodes"), std::string::npos) << err[0];
  EXPECT_NE(err[1].find("holding node 0 of snowflake-node10-seq12"), std::string::npos) << err[1];
}

// Regression: with SIGPIPE ignored (as many supervisors leave it), `gen | head -1`
// ran on for the whole count and printed an error line per buffer.
TEST_F(GenLifecycle, AClosedPipeStopsTheRunWithOneLineAndTheFinalReservation) {
  const int status = sh("trap \"\" PIPE; $IDFORGE gen --data-dir \"$STATE\" --node 3 -n 100000000 "
                        "2>\"$DIR/err\" | head -1 >\"$DIR/out\"; exit ${PIPESTATUS[0]}");
  EXPECT_EQ(status, 1);
  EXPECT_EQ(lines(testing::slurp(dir_ / "out")).size(), 1u);
  const std::vector<std::string> err = lines(testing::slurp(dir_ / "err"));
  ASSERT_EQ(err.size(), 1u) << testing::slurp(dir_ / "err");
  EXPECT_NE(err[0].find("Broken pipe"), std::string::npos) << err[0];
  // The final reservation is what was issued, not a second ahead: a strict run on
  // the node starts at once.
  const Ran next = run("gen --node 3 --max-lead-ms 0 --max-wait-ms 200 -n 1");
  EXPECT_EQ(next.exit_code, 0) << next.err;
}

TEST_F(GenLifecycle, SigtermStopsTheRunAndWritesTheFinalReservation) {
  const int status = sh("$IDFORGE gen --data-dir \"$STATE\" --node 4 --max-lead-ms 0 -n 100000000000 "
                        ">\"$DIR/out\" 2>\"$DIR/err\" & pid=$!; "
                        "while [ ! -s \"$DIR/out\" ]; do sleep 0.01; done; kill -TERM $pid; wait $pid");
  EXPECT_EQ(status, 1);
  const std::vector<std::string> err = lines(testing::slurp(dir_ / "err"));
  ASSERT_EQ(err.size(), 1u) << testing::slurp(dir_ / "err");
  EXPECT_NE(err[0].find("stopped by SIGTERM after "), std::string::npos) << err[0];
  EXPECT_NE(err[0].find("the final reservation is written"), std::string::npos) << err[0];
  const Ran next = run("gen --node 4 --max-lead-ms 0 --max-wait-ms 200 -n 1");
  EXPECT_EQ(next.exit_code, 0) << next.err;
  // The last line written is whole: the run stopped between IDs.
  const std::string out = testing::slurp(dir_ / "out");
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
}

// `nodes recover --data-dir`, the one way back for a data directory whose records
// went back in time, as the refusal names it.
TEST_F(GenLifecycle, ADataDirectoryThatWentBackIsRefusedUntilNodesRecoverRaisesItsRecords) {
  ASSERT_EQ(run("gen --node 2 -n 1000").exit_code, 0);
  const fs::path folder = FileReservation::space_dir(state(), Layout::twitter());
  fs::remove(folder / "node-2.mark");
  fs::remove(folder / "floor");
  const Ran refused = run("gen --node 2 -n 1");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("went back in time"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("idforge nodes recover --data-dir " + state().string()), std::string::npos) << refused.err;

  EXPECT_EQ(run("nodes recover --data-dir '" + (dir_ / "empty").string() + "'").exit_code, 1)
      << "a directory without the layout's space has nothing to recover";
  // Regression: a time past the layout's end (a mistyped year) was clamped to it, leaving the node no time, for good.
  expect_one_error_line(run("nodes recover --data-dir '" + state().string() + "' --issued-until 2100-01-01T00:00:00Z"),
                        2, "is past the end of layout twitter's time (2080-07-10");
  const Ran recovered = run("nodes recover --data-dir '" + state().string() + "' --issued-until 2079-01-01T00:00:00Z");
  ASSERT_EQ(recovered.exit_code, 0) << recovered.err;
  EXPECT_NE(recovered.out.find("raised 1 nodes of snowflake-node10-seq12"), std::string::npos) << recovered.out;
  // The node is usable again, and only past the time given: a run now leads the clock by decades.
  const Ran far = run("gen --node 2 -n 1 --max-wait-ms 0");
  EXPECT_EQ(far.exit_code, 1);
  EXPECT_NE(far.err.find("behind stamps already issued or reserved"), std::string::npos) << far.err;
  EXPECT_TRUE(FileReservation::recorded_stamp(state(), Layout::twitter(), 2).value() >=
              Layout::twitter().tick_at_unix_ms(3439756800000));
}

}  // namespace
}  // namespace idforge
