// SPDX-License-Identifier: Apache-2.0
// idforge::Client against real `idforge serve` instances, over HTTP and gRPC.
#include "idforge/client.h"

#include <set>
#include <thread>

#include "idforge/layout.h"
#include "support/etcd.h"
#include "support/http.h"

namespace idforge::testing {
namespace {

class ClientTest : public Serve, public ::testing::WithParamInterface<std::string> {
 protected:
  // The endpoint of `server` for the scheme under test.
  std::string endpoint(const ServerProcess& server) const {
    const std::uint16_t port = GetParam() == "grpc" ? server.grpc_port() : server.port();
    return GetParam() + "://127.0.0.1:" + std::to_string(port);
  }
};

std::unique_ptr<Client> connect(const ClientOptions& options) {
  Result<std::unique_ptr<Client>> client = Client::connect(options);
  EXPECT_TRUE(client) << client.error().message();
  return client ? std::move(*client) : nullptr;
}

// Polls (bounded by 30 s, a guard) until `done` holds.
template <class Done>
bool eventually(Done&& done) {
  for (int i = 0; i < 3000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_P(ClientTest, HandsOutIncreasingIdsOfTheServiceFromItsBuffer) {
  auto server = start_grpc({"--node", "9"});
  ClientOptions options;
  options.endpoints = {endpoint(*server)};
  options.wait_ms = 30'000;  // A guard: the first batch comes from a service just started.
  auto client = connect(options);
  ASSERT_TRUE(client);
  std::uint64_t last = 0;
  for (int i = 0; i < 50'000; ++i) {
    Result<std::uint64_t> id = client->next();
    ASSERT_TRUE(id) << id.error().message();
    ASSERT_GT(*id, last);
    last = *id;
  }
  EXPECT_EQ(Layout::twitter().node_number(Layout::twitter().decompose(last).node), 9u);
  std::vector<std::uint64_t> batch(5000);
  ASSERT_TRUE(client->next(batch));
  EXPECT_GT(batch.front(), last);
  EXPECT_TRUE(std::is_sorted(batch.begin(), batch.end()));
  const Client::Stats stats = client->stats();
  EXPECT_EQ(stats.handed_out, 55'000u);
  EXPECT_GE(stats.fetched, 55'000u);
  EXPECT_LT(stats.calls, 5500u);  // Batches, not a call per ID.
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(stats.dropped, 0u);
}

TEST_P(ClientTest, WithNoDemandAnAdaptiveBufferHoldsOneSmallBatch) {
  auto server = start_grpc();
  ClientOptions options;
  options.endpoints = {endpoint(*server)};
  options.min_batch = 250;
  auto client = connect(options);
  ASSERT_TRUE(client);
  ASSERT_TRUE(eventually([&] { return client->stats().buffered >= 250; }));
  const Client::Stats stats = client->stats();
  EXPECT_EQ(stats.buffered, 250u);
  EXPECT_EQ(stats.fetched, 250u);
  EXPECT_EQ(stats.calls, 1u);

  // Not adaptive: the buffer fills to its capacity.
  options.adaptive = false;
  options.capacity = 30'000;
  auto full = connect(options);
  ASSERT_TRUE(full);
  ASSERT_TRUE(eventually([&] { return full->stats().buffered == 30'000; }));
  EXPECT_EQ(full->stats().calls, 3u);  // In batches of max_batch, 10,000.
}

TEST_P(ClientTest, FailsOverWhenItsEndpointStopsAndStaysIncreasing) {
  auto first = start_grpc({"--node", "1"});
  auto second = start_grpc({"--node", "2"});
  ClientOptions options;
  options.endpoints = {endpoint(*first), endpoint(*second)};
  options.capacity = 2000;
  options.adaptive = false;
  options.wait_ms = 30'000;
  auto client = connect(options);
  ASSERT_TRUE(client);
  std::set<std::uint64_t> seen;
  std::uint64_t last = 0;
  const auto take = [&](int n) {
    for (int i = 0; i < n; ++i) {
      Result<std::uint64_t> id = client->next();
      ASSERT_TRUE(id) << id.error().message();
      ASSERT_GT(*id, last);
      last = *id;
      ASSERT_TRUE(seen.insert(*id).second);
    }
  };
  take(5000);
  EXPECT_EQ(client->stats().endpoint, 0u);
  EXPECT_EQ(first->stop(), 0);
  take(20'000);
  const Client::Stats stats = client->stats();
  EXPECT_EQ(stats.endpoint, 1u);
  EXPECT_GE(stats.failures, 1u);
  EXPECT_EQ(Layout::twitter().node_number(Layout::twitter().decompose(last).node), 2u);
}

TEST_P(ClientTest, EveryEndpointDownAndTheBufferEmptyIsAClearError) {
  ClientOptions options;
  const std::string a = GetParam() + "://127.0.0.1:" + std::to_string(free_port());
  const std::string b = GetParam() + "://127.0.0.1:" + std::to_string(free_port());
  options.endpoints = {a, b};
  options.wait_ms = 30'000;  // It does not wait this long: every endpoint failing ends the wait.
  options.timeout_ms = 5000;
  auto client = connect(options);
  ASSERT_TRUE(client);
  Result<std::uint64_t> id = client->next();
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code(), Errc::unavailable);
  EXPECT_NE(id.error().message().find("every endpoint fails"), std::string::npos) << id.error().message();
  EXPECT_NE(id.error().message().find(a), std::string::npos) << id.error().message();
  EXPECT_NE(id.error().message().find(b), std::string::npos) << id.error().message();
}

INSTANTIATE_TEST_SUITE_P(Transports, ClientTest, ::testing::Values("http", "grpc"),
                         [](const ::testing::TestParamInfo<std::string>& param) { return param.param; });

TEST(ClientOptionsTest, BadOptionsAreRefusedSayingWhich) {
  const auto refused = [](const ClientOptions& options, const std::string& says) {
    Result<std::unique_ptr<Client>> client = Client::connect(options);
    ASSERT_FALSE(client);
    EXPECT_EQ(client.error().code(), Errc::invalid_argument);
    EXPECT_NE(client.error().message().find(says), std::string::npos) << client.error().message();
  };
  ClientOptions options;
  refused(options, "at least one endpoint");
  for (const auto& [endpoint, says] : std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1:8080", "has no scheme"},
           {"https://127.0.0.1:8080", "has scheme 'https'"},
           {"http://127.0.0.1", "no HOST:PORT"},
           {"http://127.0.0.1:0", "port from 1 to 65535"},
           {"http://127.0.0.1:99999", "port from 1 to 65535"},
           {"http://127.0.0.1:80x", "port from 1 to 65535"},
           {"http://user@host:80", "path or user"}}) {
    options.endpoints = {endpoint};
    refused(options, says);
  }
  options.endpoints = {"http://127.0.0.1:8080"};
  options.capacity = 0;
  refused(options, "capacity");
  options.capacity = 10;
  options.ahead_ms = 0;
  refused(options, "ahead_ms");
  ClientOptions fine;
  fine.endpoints = {"http://[::1]:8080", "grpc://localhost:9090/"};
  Result<std::unique_ptr<Client>> client = Client::connect(fine);
  EXPECT_TRUE(client) << client.error().message();
  std::vector<std::uint64_t> too_many(fine.capacity + 1);
  EXPECT_EQ((*client)->next(too_many).error().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace idforge::testing
