// SPDX-License-Identifier: Apache-2.0
// What the tests of the PostgreSQL extension share: the built extension installed
// into PostgreSQL's own directories for the suite (PostgreSQL 15 loads extensions
// only from there; files found there are put back after), and servers that
// preload it.
#ifndef IDFORGE_TESTS_SUPPORT_EXTENSION_H_
#define IDFORGE_TESTS_SUPPORT_EXTENSION_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/cli.h"
#include "support/postgres.h"

namespace idforge::testing {

inline constexpr const char* kFaketime = "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

// The extension's files, and where PostgreSQL looks for them.
inline const std::vector<std::pair<fs::path, fs::path>>& extension_files() {
  static const std::vector<std::pair<fs::path, fs::path>> files = {
      {IDFORGE_PG_EXTENSION_SO, fs::path(IDFORGE_PG_PKGLIBDIR) / "idforge.so"},
      {fs::path(IDFORGE_PG_EXTENSION_SRC) / "idforge.control", fs::path(IDFORGE_PG_SHAREDIR) / "extension/idforge.control"},
      {fs::path(IDFORGE_PG_EXTENSION_SRC) / "idforge--0.2.0.sql",
       fs::path(IDFORGE_PG_SHAREDIR) / "extension/idforge--0.2.0.sql"},
      {fs::path(IDFORGE_PG_EXTENSION_SRC) / "idforge--0.1.0--0.2.0.sql",
       fs::path(IDFORGE_PG_SHAREDIR) / "extension/idforge--0.1.0--0.2.0.sql"},
  };
  return files;
}

inline fs::path backup_of(const fs::path& file) { return file.string() + ".idforge-test-backup"; }

class Extension : public Cli {
 protected:
  static void SetUpTestSuite() {
    for (const auto& [built, installed] : extension_files()) {
      if (fs::exists(installed)) fs::rename(installed, backup_of(installed));
      fs::copy_file(built, installed);
    }
  }
  static void TearDownTestSuite() {
    for (const auto& [built, installed] : extension_files()) {
      fs::remove(installed);
      if (fs::exists(backup_of(installed))) fs::rename(backup_of(installed), installed);
    }
  }

  // The settings of a server that preloads the extension as node 5 of instagram.
  static std::vector<std::string> preloaded(std::vector<std::string> more = {}) {
    std::vector<std::string> settings = {"shared_preload_libraries = 'idforge'", "idforge.layout = 'instagram'",
                                         "idforge.node = 5"};
    settings.insert(settings.end(), more.begin(), more.end());
    return settings;
  }

  static void create_extension(const PostgresServer& server) {
    auto [code, out] = server.psql("CREATE EXTENSION idforge;");
    ASSERT_EQ(code, 0) << out;
  }

  // Sets idforge.max_lead_ms on a running server and waits until new sessions see
  // it as `shown` ("2h"): the postmaster rereads its configuration on the reload
  // signal (bounded, as a guard).
  static void set_max_lead_ms(const PostgresServer& server, std::int64_t ms, const std::string& shown) {
    ASSERT_EQ(server.psql("ALTER SYSTEM SET idforge.max_lead_ms = " + std::to_string(ms) +
                          "; SELECT pg_reload_conf();").first,
              0);
    for (int i = 0; i < 100 && server.value("SHOW idforge.max_lead_ms;") != shown; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(server.value("SHOW idforge.max_lead_ms;"), shown);
  }
};

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_EXTENSION_H_
