// SPDX-License-Identifier: Apache-2.0
// What the cluster tests share: real etcd members (support/etcd.h), the ID space
// made once as an operator makes it, and real `idforge serve --etcd` instances.
#ifndef IDFORGE_TESTS_SUPPORT_CLUSTER_H_
#define IDFORGE_TESTS_SUPPORT_CLUSTER_H_

#include <set>

#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "support/etcd.h"
#include "support/http.h"
#include "support/load.h"

namespace idforge::testing {

inline constexpr std::int64_t kTtlS = 5;

inline int readyz(const ServerProcess& server) {
  HttpConnection c(server.port());
  return c.get("/readyz").status;
}

// Makes the ID space under `prefix` of `etcd`, as an operator does once: `idforge
// nodes init` (twitter's nodes unless `flags` say otherwise).
inline void init_space(const EtcdCluster& etcd, const std::string& flags = "", const std::string& prefix = "") {
  const std::string command = std::string(IDFORGE_CLI_PATH) + " nodes init --etcd " + etcd.urls() +
                              (prefix.empty() ? std::string() : " --etcd-prefix " + prefix) + " " + flags + " 2>&1";
  const auto [code, out] = shell(command);
  ASSERT_EQ(code, 0) << command << "\n" << out;
}

class ClusterServe : public Cli {
 protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.ready());
    init_space(etcd_);
  }

  std::vector<std::string> with_etcd(std::vector<std::string> args) const {
    std::vector<std::string> out = {"--etcd", etcd_.urls(), "--lease-ttl-s", std::to_string(kTtlS)};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  // Starts an instance with the data directory `host` (one per host: every
  // instance of a test shares one unless it says otherwise); with `wait` false it
  // may still be waiting for a node.
  std::unique_ptr<ServerProcess> start(std::vector<std::string> args, std::vector<std::string> prefix = {},
                                       bool wait = true, const std::string& host = "data") {
    const fs::path log = dir_ / ("serve-" + std::to_string(++servers_) + ".log");
    auto server = std::make_unique<ServerProcess>(dir_ / host, log, with_etcd(std::move(args)), std::move(prefix), wait);
    if (wait) {
      EXPECT_TRUE(server->started());
    }
    return server;
  }

  static nlohmann::json info(const ServerProcess& server) {
    HttpConnection c(server.port());
    return nlohmann::json::parse(c.get("/v1/info").body);
  }

  static void expect_no_duplicates(const std::vector<std::vector<std::uint64_t>>& populations) {
    std::set<std::uint64_t> all;
    std::size_t total = 0;
    for (const auto& ids : populations) {
      total += ids.size();
      all.insert(ids.begin(), ids.end());
    }
    EXPECT_EQ(all.size(), total) << "duplicate IDs";
  }

  EtcdCluster etcd_{dir_ / "etcd"};

 private:
  int servers_ = 0;
};

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_CLUSTER_H_
