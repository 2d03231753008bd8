// SPDX-License-Identifier: Apache-2.0
// Load on a running `idforge serve`: what the restart and cluster tests share.
#ifndef IDFORGE_TESTS_SUPPORT_LOAD_H_
#define IDFORGE_TESTS_SUPPORT_LOAD_H_

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "idforge/encoding.h"
#include "support/http.h"

namespace idforge::testing {

// A decimal Snowflake ID's value.
inline std::uint64_t as_id(const std::string& text) { return parse_id(text, Encoding::decimal).value(); }

// Fetches `batches` batches of 1000 Snowflake IDs on one connection, expecting 200
// each time; stops at the first other answer.
inline std::vector<std::uint64_t> fetch_ids(const ServerProcess& server, int batches) {
  HttpConnection c(server.port());
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < batches; ++i) {
    const Reply reply = c.get("/v1/next?count=1000");
    EXPECT_EQ(reply.status, 200) << reply.body;
    if (reply.status != 200) break;
    for (const std::string& id : ids_of(reply.body)) ids.push_back(as_id(id));
  }
  return ids;
}

// Fetches batches of Snowflake IDs on three connections until stopped or the
// server goes away, keeping every ID a client received.
class IdLoad {
 public:
  explicit IdLoad(std::uint16_t port, std::string target = "/v1/next?count=1000") {
    for (int t = 0; t < 3; ++t) {
      threads_.emplace_back([this, port, target] {
        HttpConnection c(port);
        while (!stop_.load()) {
          c.send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
          std::optional<Reply> reply = c.read();
          if (!reply) return;  // The server was killed.
          if (reply->status != 200) {
            refusals_.fetch_add(1);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
          }
          std::lock_guard lock(mutex_);
          for (const std::string& id : ids_of(reply->body)) ids_.push_back(as_id(id));
        }
      });
    }
  }
  ~IdLoad() { finish(); }

  std::size_t size() {
    std::lock_guard lock(mutex_);
    return ids_.size();
  }
  // Answers other than 200 (503 while the server cannot issue).
  std::uint64_t refusals() const { return refusals_.load(); }
  std::vector<std::uint64_t> finish() {
    stop_.store(true);
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    std::lock_guard lock(mutex_);
    return ids_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> refusals_{0};
  std::mutex mutex_;
  std::vector<std::uint64_t> ids_;
  std::vector<std::thread> threads_;
};

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_LOAD_H_
