// SPDX-License-Identifier: Apache-2.0
// How far one etcd cluster carries a fleet: takes N nodes (one lease and one
// client per holder, as N instances would), checks they are distinct and that one
// more is refused, keeps them for a while with every keepalive timed, optionally
// extends each holder's mark as a busy instance would, and releases them.
//
//   etcd_holders ENDPOINTS [HOLDERS=1024] [SECONDS=60] [TTL_S=10] [EXTEND_MS=0]
//
// Prints one JSON object. bench/etcd_holders.sh runs it against a 3-member etcd
// on loopback and adds etcd's CPU time and memory.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "idforge/etcd_reservation.h"
#include "idforge/etcd_space.h"

namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<std::int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))]) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: etcd_holders ENDPOINTS [HOLDERS] [SECONDS] [TTL_S] [EXTEND_MS]\n");
    return 2;
  }
  std::vector<std::string> endpoints;
  std::stringstream list(argv[1]);
  for (std::string url; std::getline(list, url, ',');) endpoints.push_back(url);
  const int holders = argc > 2 ? std::stoi(argv[2]) : 1024;
  const int seconds = argc > 3 ? std::stoi(argv[3]) : 60;
  const std::int64_t ttl_s = argc > 4 ? std::stoll(argv[4]) : 10;
  const int extend_ms = argc > 5 ? std::stoi(argv[5]) : 0;
  idforge::route_grpc_log([](std::string_view) {});

  std::mutex mutex;
  std::vector<std::int64_t> round_trips;  // Guarded by mutex.
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> losses{0};
  idforge::EtcdObserver observer;
  observer.keepalive = [&](std::int64_t ns) {
    std::lock_guard lock(mutex);
    round_trips.push_back(ns);
  };
  observer.error = [&](std::string_view, const idforge::Error&) { errors.fetch_add(1); };
  observer.lease_lost = [&](std::int64_t, const idforge::Error&) { losses.fetch_add(1); };

  idforge::SystemClock clock;
  const idforge::Layout layout = idforge::Layout::twitter();
  const std::uint64_t last = static_cast<std::uint64_t>(holders) - 1;
  struct Holder {
    std::shared_ptr<idforge::EtcdLease> lease;
    std::unique_ptr<idforge::EtcdReservation> node;
  };
  std::vector<Holder> held;
  std::set<std::uint64_t> nodes;
  // The space the holders share: made on first use, as `serve --create-space` makes it.
  idforge::EtcdSpaceCheck check;
  check.prefix = "/bench";
  check.layout = layout;
  check.nodes = std::pair<std::uint64_t, std::uint64_t>{0, last};
  check.create_if_missing = true;
  const auto started = Clock::now();
  for (int i = 0; i < holders; ++i) {
    idforge::EtcdOptions options;
    options.endpoints = endpoints;
    // Spread the holders over the members, as a fleet's instances would be.
    std::rotate(options.endpoints.begin(), options.endpoints.begin() + (i % static_cast<int>(endpoints.size())),
                options.endpoints.end());
    auto client = idforge::EtcdClient::connect(options, observer);
    if (!client) return std::fprintf(stderr, "connect: %s\n", client.error().message().c_str()), 1;
    auto space = idforge::EtcdSpace::open(*client, check, clock).space;
    if (!space) return std::fprintf(stderr, "space: %s\n", space.error().message().c_str()), 1;
    auto lease = idforge::EtcdLease::grant(*client, ttl_s, clock, observer);
    if (!lease) return std::fprintf(stderr, "grant: %s\n", lease.error().message().c_str()), 1;
    auto node = idforge::EtcdReservation::acquire_any(*lease, *space, layout, 0, last, "{\"holder\":" + std::to_string(i) + "}");
    if (!node) return std::fprintf(stderr, "acquire %d: %s\n", i, node.error().message().c_str()), 1;
    nodes.insert((*node)->node());
    held.push_back({*lease, std::move(*node)});
  }
  const double acquire_s = std::chrono::duration<double>(Clock::now() - started).count();

  idforge::EtcdOptions options;
  options.endpoints = endpoints;
  auto extra_client = idforge::EtcdClient::connect(options);
  auto extra_space = idforge::EtcdSpace::open(*extra_client, check, clock).space;
  if (!extra_space) return std::fprintf(stderr, "space: %s\n", extra_space.error().message().c_str()), 1;
  auto extra_lease = idforge::EtcdLease::grant(*extra_client, ttl_s, clock);
  auto extra = idforge::EtcdReservation::acquire_any(*extra_lease, *extra_space, layout, 0, last, "{}");
  const bool extra_refused = !extra && extra.error().code() == idforge::Errc::unavailable;
  (void)(*extra_lease)->revoke();

  {
    std::lock_guard lock(mutex);
    round_trips.clear();  // Time the steady state only.
  }
  std::atomic<std::uint64_t> extensions{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> extenders;
  if (extend_ms > 0) {
    for (int t = 0; t < 8; ++t) {
      extenders.emplace_back([&, t] {
        std::int64_t stamp = layout.tick_at_unix_ms(clock.wall_ns() / 1'000'000);
        while (!stop.load()) {
          const auto round = Clock::now();
          for (std::size_t i = static_cast<std::size_t>(t); i < held.size(); i += 8) {
            if (held[i].node->extend(stamp)) extensions.fetch_add(1);
          }
          ++stamp;
          std::this_thread::sleep_until(round + std::chrono::milliseconds(extend_ms));
        }
      });
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop.store(true);
  for (std::thread& t : extenders) t.join();
  std::vector<std::int64_t> samples;
  {
    std::lock_guard lock(mutex);
    samples = round_trips;
  }
  std::uint64_t still_held = 0;
  for (Holder& h : held) still_held += h.lease->state() == idforge::EtcdLease::State::held && !h.lease->lapsed();
  for (Holder& h : held) {
    (void)h.node->release(std::nullopt);
    (void)h.lease->revoke();
  }
  std::printf(
      "{\"holders\":%d,\"distinct_nodes\":%zu,\"acquire_all_s\":%.2f,\"one_more_refused\":%s,\"seconds\":%d,"
      "\"ttl_s\":%lld,\"extend_ms\":%d,\"keepalives\":%zu,\"keepalive_p50_ms\":%.2f,\"keepalive_p99_ms\":%.2f,"
      "\"keepalive_max_ms\":%.2f,\"extensions_per_s\":%.0f,\"still_held\":%llu,\"lease_losses\":%llu,\"etcd_errors\":%llu}\n",
      holders, nodes.size(), acquire_s, extra_refused ? "true" : "false", seconds, static_cast<long long>(ttl_s),
      extend_ms, samples.size(), percentile(samples, 0.5), percentile(samples, 0.99), percentile(samples, 1.0),
      static_cast<double>(extensions.load()) / seconds, static_cast<unsigned long long>(still_held),
      static_cast<unsigned long long>(losses.load()), static_cast<unsigned long long>(errors.load()));
  return nodes.size() == static_cast<std::size_t>(holders) && extra_refused && losses.load() == 0 ? 0 : 1;
}
