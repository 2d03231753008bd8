// SPDX-License-Identifier: Apache-2.0
// Metrics: the service's request and ID counters, kept per event loop and summed
// when /metrics is read.
//
// Each event loop writes only its own Shard, so counting a request costs plain
// loads and stores (relaxed atomics with one writer: no locked instruction, and
// readers on other threads see whole values). Connection counts are shared
// atomics, changed once per connection.
//
// Thread safety: a Shard is written by one thread; render() and the connection
// counters may be used from any thread.
#ifndef IDFORGE_SERVER_METRICS_H_
#define IDFORGE_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "idforge/formats.h"
#include "server/buffer.h"

namespace idforge::detail {

// A number in the shortest text that reads back as the same double ("0.25", "1e-05").
std::string shortest(double value);

// Appends a one-sample Prometheus family: HELP, TYPE and the value.
void append_family(Buffer& out, std::string_view name, std::string_view help, double value,
                   std::string_view type = "gauge");

// Appends one labelled series of a latency histogram (its _bucket, _sum and
// _count lines; HELP and TYPE are the caller's): `buckets` counts per bucket of
// Metrics::kLatencyBoundsS, then +Inf, not yet cumulative.
void append_latency_series(Buffer& out, std::string_view name, std::string_view label, std::string_view value,
                           std::span<const std::uint64_t> buckets, std::uint64_t sum_ns);

// What a request asked for, as the metrics label it.
enum class Route : std::uint8_t { next, decode, range, info, metrics, healthz, readyz, not_found, unparsed };
inline constexpr std::size_t kRouteCount = 9;
std::string_view to_string(Route route);

class Metrics {
 public:
  // Upper bounds of the latency histogram's buckets, in seconds (then +Inf).
  static constexpr std::array<double, 11> kLatencyBoundsS = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                             0.005,   0.01,   0.05,    0.25,   1.0};
  // The status codes counted by name; others count as "other".
  static constexpr std::array<int, 10> kStatuses = {200, 400, 404, 405, 408, 413, 431, 500, 503, 505};

  class Shard {
   public:
    // Counts one answered request.
    void request(Route route, int status, std::int64_t latency_ns);
    // Counts `n` IDs handed out in `format`.
    void issued(Format format, std::uint64_t n) { bump(issued_[static_cast<std::size_t>(format)], n); }

   private:
    friend class Metrics;
    using Counter = std::atomic<std::uint64_t>;
    static void bump(Counter& c, std::uint64_t n) {
      c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::array<std::array<Counter, kStatuses.size() + 1>, kRouteCount> requests_{};
    std::array<std::array<Counter, kLatencyBoundsS.size() + 1>, kRouteCount> latency_buckets_{};
    std::array<Counter, kRouteCount> latency_sum_ns_{};
    std::array<Counter, 7> issued_{};
  };

  explicit Metrics(std::size_t shards);

  Shard& shard(std::size_t i) { return *shards_[i]; }

  // Connections: open now, and refused because the cap was reached.
  std::atomic<std::int64_t> open_connections{0};
  std::atomic<std::uint64_t> refused_connections{0};

  // Counts `n` IDs handed out in `format` by a part without a shard of its own
  // (the gRPC API, whose calls run on gRPC's threads). Any thread.
  void issued_elsewhere(Format format, std::uint64_t n) {
    issued_elsewhere_[static_cast<std::size_t>(format)].fetch_add(n, std::memory_order_relaxed);
  }

  // IDs handed out in `format` through the shards (the HTTP API).
  std::uint64_t issued(Format format) const;

  // Appends the HTTP, connection and per-format ID families in Prometheus text.
  void render(Buffer& out) const;

 private:
  std::vector<std::unique_ptr<Shard>> shards_;
  std::array<std::atomic<std::uint64_t>, 7> issued_elsewhere_{};
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_METRICS_H_
