// SPDX-License-Identifier: Apache-2.0
// HTTP as RFC 9110 and 9112 have it, and the process as supervisors treat it:
// HEAD, caching, content negotiation, empty lines, transfer codings, 100-continue,
// listen addresses, signals, drains and descriptor limits.
#include <set>

#include <nlohmann/json.hpp>

#include "idforge/layout.h"
#include "support/http.h"

namespace idforge::testing {
namespace {

using nlohmann::json;

class ServeProtocol : public Serve {
 protected:
  static std::uint64_t issued_snowflakes(HttpConnection& c) {
    const std::string m = c.get("/metrics").body;
    const std::string key = "idforge_ids_issued_total{format=\"snowflake\"} ";
    return std::stoull(m.substr(m.find(key) + key.size()));
  }
  static Reply send(HttpConnection& c, const std::string& bytes, bool to_head = false) {
    c.send(bytes);
    std::optional<Reply> reply = c.read(to_head);
    EXPECT_TRUE(reply) << "no reply to " << bytes;
    return reply.value_or(Reply{});
  }
};

// Regression: HEAD got 405.
TEST_F(ServeProtocol, HeadAnswersAsGetWouldWithoutABodyOrAnId) {
  auto server = start();
  HttpConnection c(server->port());
  const std::uint64_t before = issued_snowflakes(c);
  const Reply next = send(c, "HEAD /v1/next?count=5 HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.header("content-type"), "application/json");
  EXPECT_EQ(next.header("cache-control"), "no-store");
  EXPECT_TRUE(next.body.empty());
  EXPECT_EQ(issued_snowflakes(c), before) << "HEAD issued IDs";
  EXPECT_EQ(send(c, "HEAD /v1/next?count=0 HTTP/1.1\r\nHost: x\r\n\r\n", true).status, 400);
  const Reply health = c.get("/healthz");
  const Reply head = send(c, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), std::to_string(health.body.size()));
  for (const char* route : {"/v1/info", "/metrics", "/readyz", "/v1/decode/175928847299117063",
                            "/v1/range?from=2026-01-01"}) {
    EXPECT_EQ(send(c, std::string("HEAD ") + route + " HTTP/1.1\r\nHost: x\r\n\r\n", true).status, 200) << route;
  }
  EXPECT_EQ(c.get("/v1/next").status, 200) << "the connection is still in step";
}

TEST_F(ServeProtocol, FreshIdsAreNeverCached) {
  auto server = start();
  HttpConnection c(server->port());
  EXPECT_EQ(c.get("/v1/next").header("cache-control"), "no-store");
  EXPECT_EQ(c.get("/v1/next?count=0").header("cache-control"), "no-store");
}

// Regression: q-values were ignored; only the order of the names counted.
TEST_F(ServeProtocol, AcceptQValuesChooseTheForm) {
  auto server = start();
  HttpConnection c(server->port());
  const std::pair<const char*, const char*> cases[] = {
      {"text/plain", "text/plain; charset=utf-8"},
      {"text/plain;q=0.5, application/json", "application/json"},
      {"application/json;q=0.1, text/plain", "text/plain; charset=utf-8"},
      {"text/plain, application/json", "text/plain; charset=utf-8"},
      {"application/json, text/plain", "application/json"},
      {"text/*", "text/plain; charset=utf-8"},
      {"*/*", "application/json"},
      {"text/plain;q=0", "application/json"},
      {"text/plain;q=0.9, */*;q=0.1", "text/plain; charset=utf-8"},
      {"TEXT/PLAIN", "text/plain; charset=utf-8"},
  };
  for (const auto& [accept, type] : cases) EXPECT_EQ(c.get("/v1/next", accept).header("content-type"), type) << accept;
}

// Regression: empty lines before a request line (RFC 9112 §2.2) were a 400.
TEST_F(ServeProtocol, EmptyLinesBeforeARequestAreIgnored) {
  auto server = start();
  HttpConnection c(server->port());
  EXPECT_EQ(send(c, "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read()->status, 200);
  EXPECT_EQ(c.read()->status, 200);
  c.send("\r\n");
  EXPECT_EQ(c.get("/healthz").status, 200);
}

// Regression: a transfer coding other than chunked was accepted, leaving the end
// of the body (and the start of the next request) to guesswork.
TEST_F(ServeProtocol, TransferCodingsOtherThanChunkedAre501) {
  auto server = start();
  HttpConnection c(server->port());
  const Reply gzip = send(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc");
  EXPECT_EQ(gzip.status, 501) << gzip.body;
  EXPECT_NE(gzip.body.find("gzip"), std::string::npos) << gzip.body;
  EXPECT_FALSE(gzip.keep_alive);
  HttpConnection chunked(server->port());
  EXPECT_EQ(send(chunked, "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                .status,
            200);
}

// Regression: a client that sent "Expect: 100-continue" waited for an answer that
// never came.
TEST_F(ServeProtocol, Expect100ContinueIsAnswered) {
  auto server = start();
  HttpConnection c(server->port());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  const std::optional<Reply> go_on = c.read();
  ASSERT_TRUE(go_on);
  EXPECT_EQ(go_on->status, 100);
  c.send("hello");
  const std::optional<Reply> answer = c.read();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
}

TEST_F(ServeProtocol, ListenTakesLocalhostAndAnEmptyHost) {
  for (const char* listen : {"localhost:0", ":0"}) {
    const fs::path log = dir_ / (std::string("listen-") + (listen[0] == ':' ? "any" : "localhost") + ".log");
    ServerProcess server(dir_ / "data", log, {"--listen", listen});
    ASSERT_TRUE(server.started()) << server.log();
    HttpConnection c(server.port());
    EXPECT_EQ(c.get("/healthz").status, 200) << listen;
    EXPECT_EQ(server.stop(SIGTERM), 0);
  }
}

// Regression: SIGHUP and SIGUSR1 (from log rotators, supervisors) killed the
// service undrained.
TEST_F(ServeProtocol, SighupAndSigusr1AreIgnored) {
  auto server = start();
  HttpConnection c(server->port());
  for (int sig : {SIGHUP, SIGUSR1}) {
    ::kill(server->pid(), sig);
    EXPECT_EQ(c.get("/v1/next").status, 200) << "after signal " << sig;
  }
  EXPECT_EQ(server->stop(SIGTERM), 0) << server->log();
  EXPECT_NE(server->log().find("\"msg\":\"signal ignored\""), std::string::npos) << server->log();
}

// Regression: a request that reached an idle keep-alive connection during a
// drain was reset.
TEST_F(ServeProtocol, ARequestArrivingDuringADrainIsAnswered) {
  auto server = start();
  HttpConnection idle(server->port());
  HttpConnection probe(server->port());
  ASSERT_EQ(idle.get("/healthz").status, 200);
  ::kill(server->pid(), SIGTERM);
  Reply ready;
  for (int i = 0; i < 500 && ready.status != 503; ++i) ready = probe.get("/readyz");  // A guard.
  ASSERT_EQ(ready.status, 503);
  const Reply reply = idle.get("/v1/next");
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(idle.closed_by_server());
  EXPECT_EQ(server->stop(SIGTERM), 0) << server->log();
}

// Regression: --max-connections above the descriptor limit hung new connections.
TEST_F(ServeProtocol, MaxConnectionsBeyondTheDescriptorLimitFitsItAndRefusesTheRest) {
  auto server = start({"--max-connections", "1000"}, {"prlimit", "--nofile=128:128"});
  const std::string log = server->log();
  EXPECT_NE(log.find("\"max_connections\":64"), std::string::npos) << log;
  EXPECT_NE(log.find("fits only 64 connections"), std::string::npos) << log;
  std::vector<std::unique_ptr<HttpConnection>> open;
  for (int i = 0; i < 64; ++i) {
    open.push_back(std::make_unique<HttpConnection>(server->port()));
    ASSERT_EQ(open.back()->get("/healthz").status, 200) << i;
  }
  HttpConnection extra(server->port());
  const std::optional<Reply> refused = extra.read();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
}

TEST_F(ServeProtocol, RangeGivesTheIdsOfASpanOfTime) {
  auto server = start();
  HttpConnection c(server->port());
  const json r = json::parse(c.get("/v1/range?from=2016-04-30T11:18:25.796Z").body);
  const Layout twitter = Layout::twitter();
  EXPECT_EQ(r["min_id"], std::to_string(twitter.min_id_at(1462015105796).value()));
  EXPECT_EQ(r["max_id"], std::to_string(twitter.max_id_at(1462015105796).value()));
  const json span = json::parse(c.get("/v1/range?from=1462015105000&to=2016-05-01").body);
  EXPECT_EQ(span["from"], "2016-04-30T11:18:25.000Z");
  EXPECT_EQ(span["to"], "2016-05-01T00:00:00.000Z");
  EXPECT_EQ(c.get("/v1/range?from=2016-05-01&to=2016-04-30").status, 400);
  EXPECT_EQ(c.get("/v1/range?from=1999-01-01").status, 400);
  EXPECT_EQ(c.get("/v1/range").status, 400);
  EXPECT_EQ(c.get("/v1/range?from=yesterday").status, 400);
}

}  // namespace
}  // namespace idforge::testing
