// SPDX-License-Identifier: Apache-2.0
// Runs the built idforge binary in a test's own state directory: the fixture the
// CLI tests share.
#ifndef IDFORGE_TESTS_SUPPORT_CLI_H_
#define IDFORGE_TESTS_SUPPORT_CLI_H_

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"

#ifndef IDFORGE_CLI_PATH
#error "IDFORGE_CLI_PATH must be defined by the build"
#endif

namespace idforge::testing {

namespace fs = std::filesystem;

struct Ran {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class Cli : public ::testing::Test {
 protected:

  // Runs `idforge args` with the test's own state directory; `input` is standard input.
  Ran run(const std::string& args, const std::string& input = "", const std::string& tag = "run") const {
    return run_with("IDFORGE_DATA_DIR='" + (dir_ / "state").string() + "'", args, input, tag);
  }

  // Runs `prefix idforge args`: `prefix` sets the environment (VAR=value …, env -u
  // VAR, setpriv …) in place of the test's state directory.
  Ran run_with(const std::string& prefix, const std::string& args, const std::string& input = "",
               const std::string& tag = "run") const {
    const fs::path in = dir_ / (tag + ".in"), out = dir_ / (tag + ".out"), err = dir_ / (tag + ".err");
    std::ofstream(in) << input;
    const std::string command = prefix + " " IDFORGE_CLI_PATH " " + args + " <'" + in.string() + "' >'" +
                                out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  }

  static void expect_one_error_line(const Ran& ran, int exit_code, const std::string& says) {
    EXPECT_EQ(ran.exit_code, exit_code) << ran.err;
    const std::vector<std::string> err = lines(ran.err);
    ASSERT_EQ(err.size(), 1u) << ran.err;
    EXPECT_TRUE(err[0].starts_with("idforge: ")) << err[0];
    EXPECT_NE(err[0].find(says), std::string::npos) << err[0];
  }

  // `idforge serve` reports failures as one JSON log line.
  static void expect_one_json_error_line(const Ran& ran, int exit_code, const std::string& says) {
    EXPECT_EQ(ran.exit_code, exit_code) << ran.err;
    const std::vector<std::string> err = lines(ran.err);
    ASSERT_EQ(err.size(), 1u) << ran.err;
    EXPECT_TRUE(err[0].starts_with("{\"ts\":")) << err[0];
    EXPECT_NE(err[0].find("\"msg\":\"cannot start\""), std::string::npos) << err[0];
    EXPECT_NE(err[0].find(says), std::string::npos) << err[0];
  }

  TempDir temp_;
  const fs::path& dir_ = temp_.path();
};

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_CLI_H_
