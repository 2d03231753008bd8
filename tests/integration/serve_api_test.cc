// SPDX-License-Identifier: Apache-2.0
// The service's API, against the real binary on port 0 with a real HTTP client.
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "idforge/decoder.h"
#include "idforge/encoding.h"
#include "idforge/layout.h"
#include "idforge/ulid.h"
#include "idforge/uuid.h"
#include "support/http.h"

namespace idforge::testing {
namespace {

using nlohmann::json;

class ServeApi : public Serve {};

std::uint64_t as_id(const json& text) {
  Result<std::uint64_t> id = parse_id(text.get<std::string>(), Encoding::decimal);
  EXPECT_TRUE(id) << text;
  return id ? *id : 0;
}

TEST_F(ServeApi, OneIdIsAJsonStringOfThisNode) {
  auto server = start({"--node", "37"});
  HttpConnection c(server->port());
  const Reply reply = c.get("/v1/next");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.header("content-type"), "application/json");
  const json body = json::parse(reply.body);
  ASSERT_TRUE(body["id"].is_string()) << reply.body;
  const Parts parts = Layout::twitter().decompose(as_id(body["id"]));
  EXPECT_EQ(Layout::twitter().node_number(parts.node), 37u);
}

TEST_F(ServeApi, BatchesAreStrictlyIncreasingOnOneKeepAliveConnection) {
  auto server = start();
  HttpConnection c(server->port());
  std::uint64_t last = 0;
  for (int round = 0; round < 20; ++round) {
    const Reply reply = c.get("/v1/next?count=500");
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_TRUE(reply.keep_alive);
    const json ids = json::parse(reply.body)["ids"];
    ASSERT_EQ(ids.size(), 500u);
    for (const json& text : ids) {
      const std::uint64_t id = as_id(text);
      EXPECT_GT(id, last);
      last = id;
    }
  }
}

TEST_F(ServeApi, CountOfOneStillAnswersAList) {
  auto server = start();
  HttpConnection c(server->port());
  const json body = json::parse(c.get("/v1/next?count=1").body);
  ASSERT_TRUE(body.contains("ids")) << body;
  EXPECT_EQ(body["ids"].size(), 1u);
}

TEST_F(ServeApi, TextPlainGivesOneIdPerLine) {
  auto server = start();
  HttpConnection c(server->port());
  const Reply reply = c.get("/v1/next?count=4&encoding=hex", "text/plain");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.header("content-type"), "text/plain; charset=utf-8");
  const std::vector<std::string> got = lines(reply.body);
  ASSERT_EQ(got.size(), 4u);
  for (const std::string& line : got) EXPECT_TRUE(parse_id(line, Encoding::hex)) << line;
  // JSON is preferred when the client names it first.
  EXPECT_EQ(c.get("/v1/next", "application/json, text/plain").header("content-type"), "application/json");
}

TEST_F(ServeApi, EveryFormatAnswersItsOwnValidText) {
  auto server = start();
  HttpConnection c(server->port());
  for (Format format : all_formats()) {
    const std::string name(to_string(format));
    const Reply reply = c.get("/v1/next?count=3&format=" + name);
    ASSERT_EQ(reply.status, 200) << name << ": " << reply.body;
    const json ids = json::parse(reply.body)["ids"];
    ASSERT_EQ(ids.size(), 3u) << name;
    for (const json& text : ids) {
      Result<DecodedId> d = decode_as(text.get<std::string>(), format, Layout::twitter());
      EXPECT_TRUE(d) << name << " " << text;
    }
    if (format != Format::uuidv4 && format != Format::ksuid) {  // KSUIDs are random within a second.
      EXPECT_LT(ids[0].get<std::string>(), ids[2].get<std::string>()) << name;
    }
  }
}

// Several clients at once on every route, spread over the event loops; under
// TSan this is the test that sees the loops share the generators and metrics.
TEST_F(ServeApi, ConcurrentClientsOnEveryRouteGetDistinctIds) {
  auto server = start({"--threads", "2"});
  constexpr std::size_t kClients = 4;
  constexpr std::size_t kRounds = 25;
  std::vector<std::vector<std::string>> issued(kClients);  // "format:id", one list per client.
  std::vector<std::thread> clients;
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      HttpConnection c(server->port());
      for (std::size_t round = 0; round < kRounds; ++round) {
        for (Format format : all_formats()) {
          const std::string name(to_string(format));
          const Reply reply = c.get("/v1/next?count=5&format=" + name);
          ASSERT_EQ(reply.status, 200) << name << ": " << reply.body;
          for (const std::string& id : ids_of(reply.body)) issued[i].push_back(name + ":" + id);
        }
        const Reply one = c.get("/v1/next");
        ASSERT_EQ(one.status, 200) << one.body;
        const std::string id = json::parse(one.body)["id"].get<std::string>();
        issued[i].push_back("snowflake:" + id);
        for (const std::string& target : {"/v1/decode/" + id, std::string("/v1/info"), std::string("/metrics")}) {
          const Reply reply = c.get(target);
          ASSERT_EQ(reply.status, 200) << target << ": " << reply.body;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  std::set<std::string> distinct;
  std::size_t total = 0;
  for (const std::vector<std::string>& list : issued) {
    total += list.size();
    distinct.insert(list.begin(), list.end());
  }
  EXPECT_EQ(total, kClients * kRounds * (5 * all_formats().size() + 1));
  EXPECT_EQ(distinct.size(), total);
}

TEST_F(ServeApi, DecodeAnswersWhatTheCliPrints) {
  auto server = start();
  HttpConnection c(server->port());
  for (const std::string id : {"1541815603606036480", "01ARZ3NDEKTSV4RRFFQ69G5FAV",
                               "017f22e2-79b0-7cc3-98c4-dc0c0c07398f", "5f1b1d1a3b3c3d3e3f404142"}) {
    const Reply reply = c.get("/v1/decode/" + id);
    ASSERT_EQ(reply.status, 200) << reply.body;
    const Ran cli = run("decode --json " + id);
    ASSERT_EQ(cli.exit_code, 0) << cli.err;
    EXPECT_EQ(json::parse(reply.body), json::parse(cli.out)) << id;
  }
  const Reply hex = c.get("/v1/decode/156ab0ad1f800000?encoding=hex");
  ASSERT_EQ(hex.status, 200) << hex.body;
  EXPECT_EQ(json::parse(hex.body)["hex"], "156ab0ad1f800000");
}

TEST_F(ServeApi, InfoDescribesTheNodeAndItsReservation) {
  auto server = start({"--layout", "discord", "--node", "35"});
  HttpConnection c(server->port());
  const json info = json::parse(c.get("/v1/info").body);
  EXPECT_EQ(info["layout"]["name"], "discord");
  EXPECT_EQ(info["node"], 35);
  EXPECT_EQ(info["node_fields"]["worker"], 1);
  EXPECT_EQ(info["node_fields"]["process"], 3);
  EXPECT_EQ(info["capacity"]["ids_per_tick"], 4096);
  EXPECT_EQ(info["capacity"]["max_count"], 10000);
  EXPECT_TRUE(info["reserved_until"].is_null()) << "nothing is reserved before the first ID";
  EXPECT_FALSE(info["version"].get<std::string>().empty());
  EXPECT_EQ(info["ready"], true);
  ASSERT_EQ(c.get("/v1/next").status, 200);
  const json after = json::parse(c.get("/v1/info").body);
  EXPECT_TRUE(after["reserved_until"].is_string());
  EXPECT_GT(after["reserved_until_unix_ms"].get<std::int64_t>(), 0);
}

TEST_F(ServeApi, MetricsCountIdsRequestsAndTheReservation) {
  auto server = start();
  HttpConnection c(server->port());
  ASSERT_EQ(c.get("/v1/next?count=7").status, 200);
  ASSERT_EQ(c.get("/v1/next?format=ulid").status, 200);
  ASSERT_EQ(c.get("/v1/next?count=0").status, 400);
  const Reply reply = c.get("/metrics");
  ASSERT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.header("content-type").starts_with("text/plain; version=0.0.4"));
  const std::string& m = reply.body;
  for (const std::string expected :
       {"idforge_ids_issued_total{format=\"snowflake\"} 7\n", "idforge_ids_issued_total{format=\"ulid\"} 1\n",
        "idforge_http_requests_total{route=\"/v1/next\",code=\"200\"} 2\n",
        "idforge_http_requests_total{route=\"/v1/next\",code=\"400\"} 1\n",
        "idforge_http_request_duration_seconds_count{route=\"/v1/next\"} 3\n", "idforge_lease_held 1\n",
        "idforge_generator_overflows_total", "idforge_generator_waits_total", "idforge_generator_refusals_total 0\n",
        "idforge_lead_seconds", "idforge_reservation_headroom_seconds", "idforge_layout_seconds_remaining",
        "idforge_connections_open 1\n", "idforge_ready 1\n", "idforge_build_info{version=\""}) {
    EXPECT_NE(m.find(expected), std::string::npos) << expected << " missing from:\n" << m;
  }
  // Regression: floats printed with 17 digits (0.59099999999999997 for 0.591).
  const std::string headroom = "\nidforge_reservation_headroom_seconds ";
  const std::string value = m.substr(m.find(headroom) + headroom.size(), m.find('\n', m.find(headroom) + 1) -
                                                                            m.find(headroom) - headroom.size());
  EXPECT_LE(value.size(), 6u) << value;
}

TEST_F(ServeApi, HealthAndReadiness) {
  auto server = start();
  HttpConnection c(server->port());
  EXPECT_EQ(c.get("/healthz").status, 200);
  const Reply ready = c.get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(json::parse(ready.body)["status"], "ready");
}

TEST_F(ServeApi, StartUpLogsTheEffectiveConfigurationInOneJsonLine) {
  auto server = start({"--max-count", "500"});
  const std::vector<std::string> log = lines(server->log());
  ASSERT_FALSE(log.empty());
  const json first = json::parse(log[0]);
  EXPECT_EQ(first["msg"], "listening");
  EXPECT_EQ(first["port"], server->port());
  EXPECT_EQ(first["max_count"], 500);
  EXPECT_EQ(first["layout"], "twitter");
  for (const char* key : {"data_dir", "node", "max_lead_ms", "max_wait_ms", "threads", "max_connections",
                          "header_timeout_ms", "inherited_stamp", "pid"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
}

TEST_F(ServeApi, EveryFlagIsAlsoAnEnvironmentVariable) {
  const Ran help = run("serve --help");
  ASSERT_EQ(help.exit_code, 0);
  for (const std::string flag : {"listen", "data-dir", "layout", "node", "nodes", "max-lead-ms", "max-wait-ms",
                                 "max-count", "threads", "max-connections", "max-header-bytes", "max-body-bytes",
                                 "header-timeout-ms", "idle-timeout-ms", "write-timeout-ms", "drain-timeout-ms",
                                 "audit-log", "audit-log-max-mb", "audit-log-keep", "require-synced-clock",
                                 "max-peer-skew-ms"}) {
    std::string env = "IDFORGE_" + flag;
    for (char& ch : env) ch = ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    EXPECT_NE(help.out.find("--" + flag), std::string::npos) << flag;
    EXPECT_NE(help.out.find(env), std::string::npos) << env;
  }
  // And the environment is obeyed.
  setenv("IDFORGE_NODE", "12", 1);
  auto server = start();
  unsetenv("IDFORGE_NODE");
  HttpConnection c(server->port());
  EXPECT_EQ(json::parse(c.get("/v1/info").body)["node"], 12);
}

// Regression: --max-lead-ms 0 refused to start unless --max-count was lowered too.
TEST_F(ServeApi, TheDefaultCountLimitFollowsTheLead) {
  auto server = start({"--max-lead-ms", "0"});
  HttpConnection c(server->port());
  EXPECT_EQ(json::parse(c.get("/v1/info").body)["capacity"]["max_count"], 4096);
  EXPECT_EQ(c.get("/v1/next?count=4096").status, 200);
  EXPECT_EQ(c.get("/v1/next?count=4097").status, 400);
}

TEST_F(ServeApi, BadFlagsExitWithUsageAndOneLine) {
  // Regression: some start-up errors were plain lines and others JSON.
  expect_one_json_error_line(run("serve --listen 127.0.0.1"), 2, "has no port");
  expect_one_json_error_line(run("serve --listen nowhere:80"), 2, "not an IP address");
  expect_one_json_error_line(run("serve --nodes 5-3"), 2, "FIRST-LAST");
  expect_one_json_error_line(run("serve --node 4096"), 2, "outside layout twitter");
  expect_one_json_error_line(run("serve --max-lead-ms 0 --max-count 5000"), 2, "exceeds the 4096");
  expect_one_json_error_line(run("serve --no-such-flag"), 2, "--no-such-flag");
  expect_one_json_error_line(run("serve --data-dir ''"), 2, "--data-dir is empty");
}

}  // namespace
}  // namespace idforge::testing
