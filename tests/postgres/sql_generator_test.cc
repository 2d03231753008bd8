// SPDX-License-Identifier: Apache-2.0
// `idforge sql` against a real PostgreSQL 15: the generator it prints never
// repeats an ID under concurrent sessions, under a clock that runs slow (so that
// one millisecond holds more calls than a tick has IDs), or across a crash and a
// restart with the clock an hour behind; its decode helpers agree with `idforge
// decode --json`. Instagram's published function faces the same load as the peer.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <thread>

#include "idforge/layout.h"

#include "support/cli.h"
#include "support/postgres.h"

namespace idforge::testing {
namespace {

constexpr const char* kFaketime = "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
constexpr int kSessions = 8;
constexpr int kPerSession = 100'000;

class SqlGenerator : public Cli {
 protected:
  // Installs `idforge sql ARGS` into `server`.
  void install(const PostgresServer& server, const std::string& args) {
    const Ran sql = run("sql " + args);
    ASSERT_EQ(sql.exit_code, 0) << sql.err;
    const std::filesystem::path file = dir_ / "generator.sql";
    std::ofstream(file) << sql.out;
    auto [code, out] = server.psql_file(file);
    ASSERT_EQ(code, 0) << out;
  }

};

TEST_F(SqlGenerator, EightSessionsNeverRepeatAnIdOnRealTime) {
  PostgresServer server;
  ASSERT_TRUE(server.start()) << server.log();
  install(server, "--layout instagram --shard 5");
  ASSERT_EQ(server.psql(std::string("CREATE UNLOGGED TABLE ids (id bigint);")).first, 0);
  // Fewer IDs than below: on real time most calls start a new tick (the jump to
  // the clock), which the slow clock below seldom takes.
  std::string errors;
  ASSERT_TRUE(take_concurrently(server, "next_id()", kSessions, kPerSession / 4, errors)) << errors;
  EXPECT_EQ(count_ids(server), std::make_pair(long{kSessions} * kPerSession / 4, long{kSessions} * kPerSession / 4));
  // Every ID carries shard 5 and decodes under the layout.
  EXPECT_EQ(server.value("SELECT count(*) FROM ids WHERE (id >> 10) & 8191 <> 5 OR id < 0;"), "0");
}

// A clock running at a thousandth of its speed puts thousands of calls into each
// of its milliseconds: what a machine a thousand times faster meets at full speed.
// The generator leads into the next ticks and stays unique; Instagram's function,
// its sequence taken modulo 1024, wraps.
TEST_F(SqlGenerator, ASlowClockLeadsIntoLaterTicksWhileInstagramsFunctionWraps) {
  PostgresServer server;
  ASSERT_TRUE(server.start({"FAKETIME=+0 x0.001", kFaketime})) << server.log();
  install(server, "--layout instagram --shard 5");
  auto [code, out] = server.psql_file(IDFORGE_TESTDATA_DIR "/instagram_next_id.sql");
  ASSERT_EQ(code, 0) << out;

  ASSERT_EQ(server.psql("CREATE UNLOGGED TABLE ids (id bigint);").first, 0);
  std::string errors;
  ASSERT_TRUE(take_concurrently(server, "next_id()", kSessions, kPerSession, errors)) << errors;
  EXPECT_EQ(count_ids(server), std::make_pair(long{kSessions} * kPerSession, long{kSessions} * kPerSession));

  ASSERT_EQ(server.psql("TRUNCATE ids;").first, 0);
  ASSERT_TRUE(take_concurrently(server, "insta5.next_id()", kSessions, kPerSession, errors)) << errors;
  const auto [rows, distinct] = count_ids(server);
  EXPECT_EQ(rows, long{kSessions} * kPerSession);
  EXPECT_LT(distinct, rows) << "Instagram's function repeated no ID: the peer is not what the docs say";
  std::printf("Instagram's function under the slow clock: %ld distinct of %ld IDs\n", distinct, rows);
}

TEST_F(SqlGenerator, ACrashAndARestartWithTheClockAnHourBehindRepeatNothing) {
  PostgresServer server;
  ASSERT_TRUE(server.start()) << server.log();
  // A lead of two hours rides the step; the default lead refuses instead (below).
  install(server, "--layout instagram --shard 5 --function lead_id --max-lead-ms 7200000");
  install(server, "--layout instagram --shard 6");
  ASSERT_EQ(server.psql("CREATE TABLE ids (id bigint);").first, 0);
  ASSERT_EQ(server.psql("INSERT INTO ids SELECT lead_id() FROM generate_series(1, 20000);"
                        "INSERT INTO ids SELECT next_id() FROM generate_series(1, 20000);").first, 0);
  const std::string last_before = server.value("SELECT max(id) FROM ids WHERE (id >> 10) & 8191 = 5;");
  server.stop(SIGQUIT);  // An immediate shutdown: the next start recovers from the WAL.

  ASSERT_TRUE(server.start({"FAKETIME=-3600", kFaketime})) << server.log();
  ASSERT_EQ(server.value("SELECT now() < lead_id_time(" + last_before + ") - interval '59 minutes';"), "t");
  ASSERT_EQ(server.psql("INSERT INTO ids SELECT lead_id() FROM generate_series(1, 20000);").first, 0);
  EXPECT_EQ(count_ids(server), std::make_pair(60000L, 60000L));
  // It went on after the last ID, not from the clock's hour-old reading.
  EXPECT_EQ(server.value("SELECT count(*) FROM ids WHERE (id >> 10) & 8191 = 5 AND id > " + last_before + ";"),
            "20000");

  // With the default lead of 1 s the generator refuses, saying why, after its wait.
  auto [code, out] = server.psql("SELECT next_id();");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("ahead of the clock, past its lead of 1000 ms"), std::string::npos) << out;
  EXPECT_NE(out.find("HINT:  The clock stepped back"), std::string::npos) << out;
  // The refusal released the generator's lock: another session is refused the same way, not blocked.
  auto [code2, out2] = server.psql("SET statement_timeout = '20s'; SELECT next_id();");
  EXPECT_NE(code2, 0);
  EXPECT_NE(out2.find("past its lead"), std::string::npos) << out2;
}

TEST_F(SqlGenerator, DecodeHelpersAgreeWithIdforgeDecode) {
  PostgresServer server;
  ASSERT_TRUE(server.start()) << server.log();
  std::mt19937_64 random(14);
  for (const char* layout : {"twitter", "sonyflake", "time:40-rack:3-host:7-seq:13/tick=10ms/epoch=2020-01-01T12:00:00Z"}) {
    install(server, std::string("--layout '") + layout + "' --node 3 --function f");
    for (int i = 0; i < 20; ++i) {
      // Every layout here sets 63 bits, so any value with the sign bit clear is one of its IDs.
      const std::uint64_t id = random() >> 1;
      const Ran decoded = run("decode --json --format snowflake --layout '" + std::string(layout) + "' " + std::to_string(id));
      ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
      const nlohmann::json want = nlohmann::json::parse(decoded.out);
      const std::string got = server.value("SELECT row_to_json(r) FROM (SELECT (extract(epoch FROM time) * 1000)::bigint "
                                           "AS unix_ms, * FROM f_fields(" + std::to_string(id) + ")) r;");
      const nlohmann::json fields = nlohmann::json::parse(got);
      EXPECT_EQ(fields["unix_ms"], want["unix_ms"]) << id;
      for (const auto& [name, value] : want.items()) {
        if (name == "id" || name == "format" || name == "layout" || name == "time" || name == "future") continue;
        EXPECT_EQ(fields[name], value) << name << " of " << id;
      }
      // The bounds of the ID's own instant hold it, and agree with `idforge range`.
      const std::string at = "(timestamptz 'epoch' + " + want["unix_ms"].dump() + " * interval '1 millisecond')";
      const Ran range = run("range --json --layout '" + std::string(layout) + "' " + want["unix_ms"].dump());
      ASSERT_EQ(range.exit_code, 0) << range.err;
      const nlohmann::json bounds = nlohmann::json::parse(range.out);
      EXPECT_EQ(server.value("SELECT f_min_at(" + at + ") || ' ' || f_max_at(" + at + ");"),
                bounds["min_id"].get<std::string>() + " " + bounds["max_id"].get<std::string>());
    }
    ASSERT_EQ(server.psql("DROP FUNCTION f, f_time, f_fields, f_min_at, f_max_at;").first, 0);
  }
}

TEST_F(SqlGenerator, BadInputGetsAClearError) {
  PostgresServer server;
  ASSERT_TRUE(server.start()) << server.log();
  install(server, "--layout instagram --shard 5");
  for (const auto& [query, message] : std::vector<std::pair<std::string, std::string>>{
           {"SELECT next_id_time(-1);", "-1 is not an ID of layout instagram"},
           {"SELECT next_id_fields(-5);", "-5 is not an ID of layout instagram"},
           {"SELECT next_id_min_at('2001-01-01');", "is outside layout instagram's lifetime"},
           {"SELECT next_id_max_at('2050-01-01');", "is outside layout instagram's lifetime"},
       }) {
    auto [code, out] = server.psql(query);
    EXPECT_NE(code, 0) << query;
    EXPECT_NE(out.find(message), std::string::npos) << query << "\n" << out;
  }
  // A call cancelled in the middle (here by statement_timeout) leaves the node's lock free.
  auto [cancelled, says] = server.psql("\\set ON_ERROR_STOP 0\nSET statement_timeout = '300ms';\n"
                                       "SELECT count(next_id()) FROM generate_series(1, 100000000);\n"
                                       "SELECT 'advisory locks held: ' || count(*) FROM pg_locks "
                                       "WHERE locktype = 'advisory' AND pid = pg_backend_pid();\n");
  EXPECT_NE(says.find("canceling statement due to statement timeout"), std::string::npos) << says;
  EXPECT_NE(says.find("advisory locks held: 0"), std::string::npos) << says;
  EXPECT_EQ(server.value("SET lock_timeout = '5s'; SELECT next_id() > 0;"), "t");
  (void)cancelled;
  // The same function name for another layout keeps the function and refuses.
  const Ran other = run("sql --layout twitter --node 5");
  ASSERT_EQ(other.exit_code, 0);
  const std::filesystem::path file = dir_ / "other.sql";
  std::ofstream(file) << other.out;
  auto [code, out] = server.psql_file(file);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("already makes the IDs of another generator"), std::string::npos) << out;
  // Another layout of the same geometry on the same node (an epoch moved) too: one node, one state.
  const Ran moved = run("sql --layout 'time:41-shard:13-seq:10/epoch=2012-01-01' --node 5 --function moved");
  ASSERT_EQ(moved.exit_code, 0);
  std::ofstream(dir_ / "moved.sql") << moved.out;
  auto [moved_code, moved_out] = server.psql_file(dir_ / "moved.sql");
  EXPECT_NE(moved_code, 0);
  EXPECT_NE(moved_out.find("already has a state in this database, of another layout"), std::string::npos) << moved_out;
}

// Regression: two functions made for one node in one database, under two names
// or schemas, each had a state of its own and shared 44,787 of 90,000 IDs. One
// node has one state (and one lock) per database, whatever the function's name.
TEST_F(SqlGenerator, TwoFunctionsForOneNodeShareItsOneStateAndNeverRepeatEachOther) {
  PostgresServer server;
  ASSERT_TRUE(server.start()) << server.log();
  install(server, "--layout instagram --shard 5");
  install(server, "--layout instagram --shard 5 --schema orders --function order_id");
  ASSERT_EQ(server.psql("CREATE UNLOGGED TABLE ids (id bigint);").first, 0);
  std::vector<std::thread> sessions;
  std::vector<std::pair<int, std::string>> results(4);
  for (int i = 0; i < 4; ++i) {
    sessions.emplace_back([&, i] {
      const std::string function = i % 2 == 0 ? "next_id()" : "orders.order_id()";
      results[static_cast<std::size_t>(i)] =
          server.psql("INSERT INTO ids SELECT " + function + " FROM generate_series(1, 25000);");
    });
  }
  for (std::thread& t : sessions) t.join();
  for (const auto& [code, out] : results) ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(count_ids(server), std::make_pair(100'000L, 100'000L));
  EXPECT_EQ(server.value("SELECT count(*) FROM pg_sequences WHERE schemaname = 'idforge';"), "1");
}

// A state of the version that kept one per function is carried over, never lowered.
TEST_F(SqlGenerator, AStateOfTheEarlierVersionIsCarriedOver) {
  PostgresServer server;
  ASSERT_TRUE(server.start()) << server.log();
  const std::string identity = "idforge generator: layout " + Layout::instagram().spec() + ", node 5";
  // Far ahead of the clock (in 2030), as a state that led it would be.
  const std::uint64_t ahead = static_cast<std::uint64_t>(Layout::instagram().tick_at_unix_ms(1893456000000)) << 10;
  ASSERT_EQ(server.psql("CREATE SEQUENCE next_id_state AS bigint MINVALUE 0; SELECT setval('next_id_state', " +
                        std::to_string(ahead) + "); COMMENT ON SEQUENCE next_id_state IS '" + identity + "';").first,
            0);
  install(server, "--layout instagram --shard 5 --max-wait-ms 0");
  EXPECT_EQ(server.value("SELECT last_value FROM idforge.\"snowflake-node13-seq10-node-5\";"), std::to_string(ahead));
  // It goes on after the old state: years ahead of the clock, it refuses rather than start at the clock.
  auto [code, out] = server.psql("SELECT next_id();");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("ahead of the clock"), std::string::npos) << out;
}

}  // namespace
}  // namespace idforge::testing
