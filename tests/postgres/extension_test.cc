// SPDX-License-Identifier: Apache-2.0
// The idforge extension in a real PostgreSQL 15: one generator in shared memory
// for every session, its mark kept durable across a crash and a restart with the
// clock an hour behind, its decoders agreeing with `idforge decode --json`, and
// clear errors for bad settings, a missing preload and a damaged mark.
//
// PostgreSQL 15 loads extensions only from its own directories, so the suite
// installs the built extension there first and removes it after (putting back
// any files it found there).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>

#include "support/extension.h"

namespace idforge::testing {
namespace {

TEST_F(Extension, EightSessionsShareOneGeneratorAndNeverRepeatAnId) {
  PostgresServer server(preloaded());
  ASSERT_TRUE(server.start()) << server.log();
  create_extension(server);
  ASSERT_EQ(server.psql("CREATE UNLOGGED TABLE ids (id bigint);").first, 0);
  std::string errors;
  ASSERT_TRUE(take_concurrently(server, "idforge_next()", 8, 100'000, errors)) << errors;
  EXPECT_EQ(count_ids(server), std::make_pair(800'000L, 800'000L));
  EXPECT_EQ(server.value("SELECT count(*) FROM ids WHERE (id >> 10) & 8191 <> 5 OR id < 0;"), "0");
  // Batches are consecutive, above every ID before them, and unique with them.
  ASSERT_EQ(server.psql("CREATE TABLE batch AS SELECT row_number() OVER () AS n, id FROM idforge_next(5000) AS id;").first, 0);
  EXPECT_EQ(server.value("SELECT count(*) FROM batch b JOIN batch c ON c.n = b.n + 1 WHERE c.id <= b.id;"), "0");
  EXPECT_EQ(server.value("SELECT min(id) > (SELECT max(id) FROM ids) FROM batch;"), "t");
}

TEST_F(Extension, ACrashAndARestartWithTheClockAnHourBehindRepeatNothing) {
  PostgresServer server(preloaded());
  ASSERT_TRUE(server.start()) << server.log();
  create_extension(server);
  ASSERT_EQ(server.psql("CREATE TABLE ids (id bigint);"
                        "INSERT INTO ids SELECT idforge_next() FROM generate_series(1, 50000);").first, 0);
  const std::string last_before = server.value("SELECT max(id) FROM ids;");
  server.stop(SIGQUIT);  // An immediate shutdown, as a crash: shared memory is gone.
  const std::string mark = slurp(server.data() / "idforge.mark");
  ASSERT_TRUE(mark.starts_with("idforge-mark 3\n")) << mark;

  ASSERT_TRUE(server.start({"FAKETIME=-3600", kFaketime})) << server.log();
  ASSERT_EQ(server.value("SELECT now() < idforge_time(" + last_before + ") - interval '59 minutes';"), "t");
  // The default lead (1 s) cannot ride an hour: a clear refusal after the wait.
  auto [code, out] = server.psql("SELECT idforge_next();");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("ahead of the clock, past idforge.max_lead_ms (1000 ms)"), std::string::npos) << out;
  EXPECT_NE(server.log().find("starts after stamp"), std::string::npos) << server.log();

  // A lead of two hours rides it: the IDs go on after the last one before the crash.
  set_max_lead_ms(server, 7'200'000, "2h");
  auto [code2, out2] = server.psql("INSERT INTO ids SELECT idforge_next() FROM generate_series(1, 50000);");
  ASSERT_EQ(code2, 0) << out2;
  EXPECT_EQ(count_ids(server), std::make_pair(100'000L, 100'000L));
  EXPECT_EQ(server.value("SELECT count(*) FROM ids WHERE id > " + last_before + ";"), "50000");
}

TEST_F(Extension, ADamagedMarkRefusesIdsAndSaysWhy) {
  PostgresServer server(preloaded({"idforge.max_wait_ms = 200"}));
  ASSERT_TRUE(server.start()) << server.log();
  create_extension(server);
  ASSERT_EQ(server.psql("SELECT idforge_next();").first, 0);
  server.stop();
  std::ofstream(server.data() / "idforge.mark") << "reserved_until_unix_ms twelve\n";
  ASSERT_TRUE(server.start()) << server.log();
  auto [code, out] = server.psql("SELECT idforge_next();");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("idforge.mark is damaged"), std::string::npos) << out;
  EXPECT_NE(server.log().find("idforge.mark is damaged"), std::string::npos) << server.log();
  // The UUIDv7 and ULID generators need no mark and go on.
  EXPECT_EQ(server.value("SELECT count(DISTINCT idforge_uuidv7()) FROM generate_series(1, 1000);"), "1000");
}

// A directory in the way of the mark's temporary file makes every write fail, as
// a full or read-only disk would: IDs stop at the last durable mark, with the
// keeper's error, and go on once it can write again.
TEST_F(Extension, AMarkThatCannotBeWrittenStopsIdsUntilItCanBe) {
  PostgresServer server(preloaded({"idforge.reserve_ahead_ms = 50", "idforge.max_wait_ms = 500"}));
  ASSERT_TRUE(server.start()) << server.log();
  create_extension(server);
  ASSERT_EQ(server.psql("SELECT idforge_next();").first, 0);
  // The keeper writes nothing while no IDs are made; retried only in case it was writing.
  std::error_code made;
  for (int i = 0; i < 100 && !fs::create_directory(server.data() / "idforge.mark.tmp", made); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(fs::is_directory(server.data() / "idforge.mark.tmp")) << made.message();
  auto [code, out] = server.psql("SELECT count(idforge_next()) FROM generate_series(1, 1000000);");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("no durable reservation after 500 ms: cannot create"), std::string::npos) << out;
  EXPECT_NE(out.find("idforge.mark.tmp: Is a directory"), std::string::npos) << out;
  fs::remove(server.data() / "idforge.mark.tmp");
  EXPECT_EQ(server.value("SELECT count(DISTINCT idforge_next()) FROM generate_series(1, 100000);"), "100000");
}

TEST_F(Extension, WithoutPreloadingCreateExtensionSaysWhatToAdd) {
  PostgresServer server;
  ASSERT_TRUE(server.start()) << server.log();
  auto [code, out] = server.psql("CREATE EXTENSION idforge;");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("idforge must be loaded when the server starts"), std::string::npos) << out;
  EXPECT_NE(out.find("shared_preload_libraries = 'idforge'"), std::string::npos) << out;
}

TEST_F(Extension, BadSettingsStopTheServerWithAClearMessage) {
  for (const auto& [settings, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {preloaded({"idforge.layout = 'time:41-seq:30'"}), "idforge.layout = 'time:41-seq:30' is not a layout"},
           {{"shared_preload_libraries = 'idforge'"}, "idforge.node is not set"},
           {preloaded({"idforge.node = 8192"}), "idforge.node = 8192 is outside layout instagram's nodes, 0 to 8191"},
       }) {
    PostgresServer server(settings);
    EXPECT_FALSE(server.start()) << message;
    EXPECT_NE(server.log().find(message), std::string::npos) << server.log();
  }
  // PostgreSQL itself refuses an out-of-range number for a loaded library's
  // setting: it says so in the log and keeps the default.
  PostgresServer server(preloaded({"idforge.max_lead_ms = -1"}));
  ASSERT_TRUE(server.start()) << server.log();
  EXPECT_NE(server.log().find("-1 ms is outside the valid range for parameter \"idforge.max_lead_ms\""), std::string::npos)
      << server.log();
  EXPECT_EQ(server.value("SHOW idforge.max_lead_ms;"), "1s");
  create_extension(server);
  for (const auto& [query, message] : std::vector<std::pair<std::string, std::string>>{
           {"SELECT idforge_next(0);", "asks for no IDs"},
           {"SELECT idforge_time(-1);", "-1 is not an ID of layout instagram"},
           {"SELECT idforge_min_at('2001-01-01');", "is outside layout instagram's lifetime"},
           {"SELECT idforge_decode('not-an-id');", "idforge: "},
       }) {
    auto [code, out] = server.psql(query);
    EXPECT_NE(code, 0) << query;
    EXPECT_NE(out.find(message), std::string::npos) << query << "\n" << out;
  }
}

TEST_F(Extension, DecodersAgreeWithIdforgeDecode) {
  PostgresServer server(preloaded());
  ASSERT_TRUE(server.start()) << server.log();
  create_extension(server);
  std::mt19937_64 random(15);
  for (int i = 0; i < 20; ++i) {
    // A random ID of instagram's layout: 63 bits with the timestamp's top (sign) bit clear.
    const std::uint64_t id = random() >> 2;
    const Ran decoded = run("decode --json --format snowflake --layout instagram " + std::to_string(id));
    ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
    const nlohmann::json want = nlohmann::json::parse(decoded.out);
    EXPECT_EQ(nlohmann::json::parse(server.value("SELECT idforge_decode('" + std::to_string(id) + "');")), want);
    const nlohmann::json fields = nlohmann::json::parse(server.value(
        "SELECT row_to_json(r) FROM (SELECT (extract(epoch FROM time) * 1000)::bigint AS unix_ms, * "
        "FROM idforge_fields(" + std::to_string(id) + ")) r;"));
    EXPECT_EQ(fields["unix_ms"], want["unix_ms"]) << id;
    EXPECT_EQ(fields["node"], want["shard"]) << id;
    EXPECT_EQ(fields["sequence"], want["sequence"]) << id;
    const Ran range = run("range --json --layout instagram " + want["unix_ms"].dump());
    ASSERT_EQ(range.exit_code, 0) << range.err;
    const nlohmann::json bounds = nlohmann::json::parse(range.out);
    const std::string at = "(timestamptz 'epoch' + " + want["unix_ms"].dump() + " * interval '1 millisecond')";
    EXPECT_EQ(server.value("SELECT idforge_min_at(" + at + ") || ' ' || idforge_max_at(" + at + ");"),
              bounds["min_id"].get<std::string>() + " " + bounds["max_id"].get<std::string>());
  }
  // The wide formats decode as what they are, in increasing order within a session.
  const std::string uuid = server.value("SELECT idforge_uuidv7();");
  EXPECT_EQ(nlohmann::json::parse(run("decode --json " + uuid).out)["format"], "uuidv7");
  const std::string ulid = server.value("SELECT idforge_ulid_text(idforge_ulid());");
  EXPECT_EQ(nlohmann::json::parse(server.value("SELECT idforge_decode('" + ulid + "');"))["format"], "ulid");
  EXPECT_EQ(server.value("SELECT count(*) FROM (SELECT u, lag(u) OVER (ORDER BY n) AS p FROM "
                         "(SELECT n, idforge_uuidv7() AS u FROM generate_series(1, 10000) n) s) t WHERE u <= p;"),
            "0");
}

}  // namespace
}  // namespace idforge::testing
