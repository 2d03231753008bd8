// SPDX-License-Identifier: Apache-2.0
// Hostile and broken clients: each case gets its defined answer, and the service
// keeps answering a well-behaved client throughout.
#include <random>

#include <nlohmann/json.hpp>

#include "support/http.h"

namespace idforge::testing {
namespace {

using nlohmann::json;

class ServeHostile : public Serve {
 protected:
  // A fresh, well-behaved client still gets an ID.
  static void expect_still_serving(const ServerProcess& server) {
    HttpConnection c(server.port());
    const Reply reply = c.get("/v1/next");
    EXPECT_EQ(reply.status, 200) << reply.body;
  }

  static void expect_error(const Reply& reply, int status, const std::string& code, const std::string& says) {
    EXPECT_EQ(reply.status, status) << reply.body;
    const json body = json::parse(reply.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << reply.body;
    EXPECT_EQ(body["code"], code) << reply.body;
    EXPECT_NE(body["error"].get<std::string>().find(says), std::string::npos) << reply.body;
  }
};

TEST_F(ServeHostile, BadCountsAre400WithTheReason) {
  auto server = start();
  HttpConnection c(server->port());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0", "it is 0"},
      {"-1", "has a '-'"},
      {"1e3", "has a 'e'"},
      {"0x10", "has a 'x'"},
      {"%205", "has a ' '"},
      {"+5", "has a '+'"},
      {"%2B5", "has a '+'"},
      {"", "it is empty"},
      {"10001", "above the maximum"},
      {"9223372036854775808", "above the maximum"},
      {"99999999999999999999999999", "above the maximum"},
  };
  for (const auto& [count, says] : cases) {
    SCOPED_TRACE("count=" + count);
    expect_error(c.get("/v1/next?count=" + count), 400, "invalid_argument", says);
  }
  expect_still_serving(*server);
}

TEST_F(ServeHostile, BadParametersAre400WithTheReason) {
  auto server = start();
  HttpConnection c(server->port());
  expect_error(c.get("/v1/next?cnt=5"), 400, "invalid_argument", "unknown parameter 'cnt'");
  expect_error(c.get("/v1/next?count=1&count=2"), 400, "invalid_argument", "given twice");
  expect_error(c.get("/v1/next?format=uuidv1"), 400, "invalid_argument", "uuidv1");
  expect_error(c.get("/v1/next?encoding=base64"), 400, "invalid_argument", "base64");
  expect_error(c.get("/v1/next?format=ulid&encoding=hex"), 400, "invalid_argument", "format=snowflake only");
  expect_error(c.get("/v1/next?count=%zz"), 400, "invalid_argument", "two hex digits");
  expect_error(c.get("/v1/info?verbose=1"), 400, "invalid_argument", "takes no parameters");
  expect_still_serving(*server);
}

TEST_F(ServeHostile, DecodeOfGarbageIs400WithTheReason) {
  auto server = start();
  HttpConnection c(server->port());
  expect_error(c.get("/v1/decode/not-an-id"), 400, "invalid_argument", "not-an-id");
  expect_error(c.get("/v1/decode/"), 400, "invalid_argument", "");
  expect_error(c.get("/v1/decode/%00%ff"), 400, "invalid_argument", "");
  expect_error(c.get("/v1/decode/18446744073709551616"), 400, "invalid_argument", "");
  expect_error(c.get("/v1/decode/1234567890123456"), 400, "invalid_argument", "ambiguous");
  expect_still_serving(*server);
}

// Regression: instants past the year 9999 taken from input (the largest ULID, a
// UUIDv7 of all ones, random ULIDs and UUIDv7s) once aborted the process.
TEST_F(ServeHostile, DecodeOfAnyInstantAnswersAndTheServiceLives) {
  auto server = start();
  HttpConnection c(server->port());
  for (const char* id : {"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "ffffffff-ffff-7fff-bfff-ffffffffffff",
                         "7fffffffffffffffffffffffffffffff"}) {
    const Reply reply = c.get(std::string("/v1/decode/") + id);
    ASSERT_EQ(reply.status, 200) << id << ": " << reply.body;
    EXPECT_TRUE(json::parse(reply.body)["time"].get<std::string>().starts_with("+")) << reply.body;
  }
  expect_error(c.get("/v1/decode/acbd18db4cc2f85cedef654fccc4a4d8"), 400, "invalid_argument", "292,278,994");
  // Random ULIDs and UUIDv7s: every top 48-bit time from a fixed seed.
  std::mt19937_64 rng(11);
  static constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  for (int i = 0; i < 200; ++i) {
    std::string ulid(26, '0');
    ulid[0] = kCrockford[rng() % 8];
    for (std::size_t k = 1; k < ulid.size(); ++k) ulid[k] = kCrockford[rng() % 32];
    char uuid[37];
    std::snprintf(uuid, sizeof uuid, "%08llx-%04llx-7%03llx-b%03llx-%012llx",
                  static_cast<unsigned long long>(rng() >> 32), static_cast<unsigned long long>(rng() >> 48),
                  static_cast<unsigned long long>(rng() >> 52), static_cast<unsigned long long>(rng() >> 52),
                  static_cast<unsigned long long>(rng() >> 16));
    for (const std::string& id : {ulid, std::string(uuid)}) {
      EXPECT_EQ(c.get("/v1/decode/" + id).status, 200) << id;
    }
  }
  expect_still_serving(*server);
}

TEST_F(ServeHostile, UnknownPathsAre404AndOtherMethods405) {
  auto server = start();
  HttpConnection c(server->port());
  expect_error(c.get("/v2/next"), 404, "not_found", "/v1/next");
  c.send("DELETE /v1/next HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::optional<Reply> del = c.read();
  ASSERT_TRUE(del);
  expect_error(*del, 405, "method_not_allowed", "DELETE");
  EXPECT_EQ(del->header("allow"), "GET, HEAD");
  c.send("BREW /v1/next HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::optional<Reply> brew = c.read();
  ASSERT_TRUE(brew);
  EXPECT_EQ(brew->status, 405);
  expect_still_serving(*server);
}

TEST_F(ServeHostile, MalformedRequestLinesAre400AndClose) {
  auto server = start();
  for (const std::string& garbage : {std::string("GARBAGE\r\n\r\n"), std::string("GET\r\n\r\n"),
                                    std::string("GET /v1/next HTTP/1.1 extra\r\n\r\n"),
                                    std::string("GET /v1/next HTTP/1.1\r\nNo colon here\r\n\r\n"),
                                    std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)}) {
    HttpConnection c(server->port());
    c.send(garbage);
    const std::optional<Reply> reply = c.read();
    ASSERT_TRUE(reply) << garbage;
    expect_error(*reply, 400, "bad_request", "malformed");
    EXPECT_FALSE(reply->keep_alive);
    EXPECT_TRUE(c.closed_by_server());
  }
  HttpConnection c(server->port());
  c.send("GET /v1/next HTTP/2.0\r\nHost: x\r\n\r\n");
  const std::optional<Reply> v2 = c.read();
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->status, 505) << v2->body;
  expect_still_serving(*server);
}

TEST_F(ServeHostile, OversizedHeadersAre431AndBodies413) {
  auto server = start();
  {
    HttpConnection c(server->port());
    c.send("GET /v1/next HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(10000, 'a') + "\r\n\r\n");
    const std::optional<Reply> reply = c.read();
    ASSERT_TRUE(reply);
    expect_error(*reply, 431, "header_too_large", "8192");
  }
  {
    HttpConnection c(server->port());
    c.send("GET /v1/next?count=" + std::string(9000, '1') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::optional<Reply> reply = c.read();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 431);
  }
  {
    HttpConnection c(server->port());
    c.send("GET /v1/next HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(5000, 'b'));
    const std::optional<Reply> reply = c.read();
    ASSERT_TRUE(reply);
    expect_error(*reply, 413, "body_too_large", "4096");
  }
  {
    // A small body is read and ignored; the connection goes on.
    HttpConnection c(server->port());
    c.send("GET /v1/next HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    const std::optional<Reply> reply = c.read();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(c.get("/healthz").status, 200);
  }
  expect_still_serving(*server);
}

TEST_F(ServeHostile, SlowClientsGet408AndIdleOnesAreClosed) {
  auto server = start({"--header-timeout-ms", "300", "--idle-timeout-ms", "300"});
  HttpConnection slow(server->port());
  slow.send("GET /v1/next HTTP/1.1\r\nHost: x\r\n");  // ... and never the blank line.
  const std::optional<Reply> reply = slow.read();
  ASSERT_TRUE(reply);
  expect_error(*reply, 408, "request_timeout", "300 ms");
  EXPECT_TRUE(slow.closed_by_server());

  HttpConnection idle(server->port());
  EXPECT_TRUE(idle.closed_by_server());
  expect_still_serving(*server);
}

TEST_F(ServeHostile, ClientsThatLeaveMidResponseHurtNoOne) {
  auto server = start();
  for (int i = 0; i < 30; ++i) {
    HttpConnection c(server->port());
    const int tiny = 1;
    ::setsockopt(c.native_handle(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny);
    c.send("GET /v1/next?count=10000 HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/next?count=10000 HTTP/1.1\r\n\r\n");
    const linger reset{1, 0};  // Close with a reset, mid-response.
    ::setsockopt(c.native_handle(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  expect_still_serving(*server);
  EXPECT_FALSE(server->exited());
}

TEST_F(ServeHostile, ConnectionsPastTheCapAreRefused) {
  auto server = start({"--max-connections", "3"});
  std::vector<std::unique_ptr<HttpConnection>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<HttpConnection>(server->port()));
    ASSERT_EQ(open.back()->get("/healthz").status, 200);
  }
  HttpConnection extra(server->port());
  const std::optional<Reply> refused = extra.read();
  ASSERT_TRUE(refused);
  expect_error(*refused, 503, "too_many_connections", "3 connections");
  EXPECT_EQ(refused->header("retry-after"), "1");
  // The open ones keep working, and a freed slot is usable again.
  EXPECT_EQ(open[0]->get("/v1/next").status, 200);
  open.pop_back();
  bool served = false;
  for (int attempt = 0; attempt < 500 && !served; ++attempt) {
    HttpConnection again(server->port());
    again.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::optional<Reply> reply = again.read();
    served = reply && reply->status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(served);
}

TEST_F(ServeHostile, DemandBeyondTheLayoutIs503WithRetryAfterAndNeverADuplicate) {
  // Four IDs a second, no lead, no waiting: the second batch of four in a second
  // cannot be served.
  auto server = start({"--layout", "time:32-worker:10-seq:2/tick=1s/epoch=2024-01-01", "--max-lead-ms", "0",
                       "--max-wait-ms", "0", "--max-count", "4"});
  HttpConnection c(server->port());
  std::set<std::string> seen;
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    const Reply reply = c.get("/v1/next?count=4");
    if (reply.status == 503) {
      ++refused;
      EXPECT_EQ(reply.header("retry-after"), "1");
      EXPECT_EQ(json::parse(reply.body)["code"], "overloaded") << reply.body;
      continue;
    }
    ASSERT_EQ(reply.status, 200) << reply.body;
    for (const std::string& id : ids_of(reply.body)) EXPECT_TRUE(seen.insert(id).second);
  }
  EXPECT_GT(refused, 0);
  const std::string metrics = c.get("/metrics").body;
  EXPECT_NE(metrics.find("idforge_http_requests_total{route=\"/v1/next\",code=\"503\"} " + std::to_string(refused)),
            std::string::npos);
}

}  // namespace
}  // namespace idforge::testing
