// SPDX-License-Identifier: Apache-2.0
#include "server/metrics.h"

#include <charconv>
#include <cstdio>
#include <string>

namespace idforge::detail {
namespace {

constexpr std::array<std::string_view, kRouteCount> kRouteNames = {
    "/v1/next", "/v1/decode", "/v1/range", "/v1/info", "/metrics", "/healthz", "/readyz", "not_found", "unparsed"};

void line(Buffer& out, std::string_view text) {
  out.append(text);
  out.append("\n");
}

}  // namespace

std::string_view to_string(Route route) { return kRouteNames[static_cast<std::size_t>(route)]; }

void Metrics::Shard::request(Route route, int status, std::int64_t latency_ns) {
  const auto r = static_cast<std::size_t>(route);
  std::size_t s = 0;
  while (s < kStatuses.size() && kStatuses[s] != status) ++s;
  bump(requests_[r][s], 1);
  const double seconds = static_cast<double>(latency_ns) * 1e-9;
  std::size_t b = 0;
  while (b < kLatencyBoundsS.size() && seconds > kLatencyBoundsS[b]) ++b;
  bump(latency_buckets_[r][b], 1);
  bump(latency_sum_ns_[r], static_cast<std::uint64_t>(latency_ns > 0 ? latency_ns : 0));
}

Metrics::Metrics(std::size_t shards) {
  for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

std::uint64_t Metrics::issued(Format format) const {
  std::uint64_t sum = 0;
  for (const auto& shard : shards_) sum += shard->issued_[static_cast<std::size_t>(format)].load(std::memory_order_relaxed);
  return sum;
}

std::string shortest(double value) {
  char text[32];
  return std::string(text, std::to_chars(text, text + sizeof text, value).ptr);
}

void append_family(Buffer& out, std::string_view name, std::string_view help, double value, std::string_view type) {
  out.append("# HELP ");
  out.append(name);
  out.append(" ");
  out.append(help);
  out.append("\n# TYPE ");
  out.append(name);
  out.append(" ");
  out.append(type);
  out.append("\n");
  out.append(name);
  out.append(" ");
  out.append(shortest(value));
  out.append("\n");
}

void append_latency_series(Buffer& out, std::string_view name, std::string_view label, std::string_view value,
                           std::span<const std::uint64_t> buckets, std::uint64_t sum_ns) {
  const std::string labels = std::string(label) + "=\"" + std::string(value) + "\"";
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    cumulative += buckets[b];
    const std::string le = b < Metrics::kLatencyBoundsS.size() ? shortest(Metrics::kLatencyBoundsS[b]) : "+Inf";
    line(out, std::string(name) + "_bucket{" + labels + ",le=\"" + le + "\"} " + std::to_string(cumulative));
  }
  line(out, std::string(name) + "_sum{" + labels + "} " + shortest(static_cast<double>(sum_ns) * 1e-9));
  line(out, std::string(name) + "_count{" + labels + "} " + std::to_string(cumulative));
}

void Metrics::render(Buffer& out) const {
  char text[256];
  auto sum = [this](auto member) {
    std::uint64_t total = 0;
    for (const auto& shard : shards_) total += member(*shard).load(std::memory_order_relaxed);
    return total;
  };

  line(out, "# HELP idforge_ids_issued_total IDs handed out, by format.");
  line(out, "# TYPE idforge_ids_issued_total counter");
  for (Format f : all_formats()) {
    std::snprintf(text, sizeof text, "idforge_ids_issued_total{format=\"%.*s\"} %llu",
                  static_cast<int>(to_string(f).size()), to_string(f).data(),
                  static_cast<unsigned long long>(issued(f) + issued_elsewhere_[static_cast<std::size_t>(f)].load(
                                                                  std::memory_order_relaxed)));
    line(out, text);
  }

  line(out, "# HELP idforge_http_requests_total HTTP requests answered, by route and status code.");
  line(out, "# TYPE idforge_http_requests_total counter");
  for (std::size_t r = 0; r < kRouteCount; ++r) {
    for (std::size_t s = 0; s <= kStatuses.size(); ++s) {
      const std::uint64_t n = sum([r, s](const Shard& sh) -> const Shard::Counter& { return sh.requests_[r][s]; });
      if (n == 0) continue;
      const std::string code = s < kStatuses.size() ? std::to_string(kStatuses[s]) : "other";
      std::snprintf(text, sizeof text, "idforge_http_requests_total{route=\"%s\",code=\"%s\"} %llu",
                    kRouteNames[r].data(), code.c_str(), static_cast<unsigned long long>(n));
      line(out, text);
    }
  }

  line(out, "# HELP idforge_http_request_duration_seconds Time from a request's last header byte to its "
            "response's last byte written.");
  line(out, "# TYPE idforge_http_request_duration_seconds histogram");
  for (std::size_t r = 0; r < kRouteCount; ++r) {
    std::array<std::uint64_t, kLatencyBoundsS.size() + 1> buckets{};
    for (std::size_t b = 0; b < buckets.size(); ++b) {
      buckets[b] = sum([r, b](const Shard& sh) -> const Shard::Counter& { return sh.latency_buckets_[r][b]; });
    }
    const std::uint64_t ns = sum([r](const Shard& sh) -> const Shard::Counter& { return sh.latency_sum_ns_[r]; });
    append_latency_series(out, "idforge_http_request_duration_seconds", "route", kRouteNames[r], buckets, ns);
  }

  line(out, "# HELP idforge_connections_open Client connections open now.");
  line(out, "# TYPE idforge_connections_open gauge");
  std::snprintf(text, sizeof text, "idforge_connections_open %lld",
                static_cast<long long>(open_connections.load(std::memory_order_relaxed)));
  line(out, text);
  line(out, "# HELP idforge_connections_refused_total Connections closed at once because --max-connections were open.");
  line(out, "# TYPE idforge_connections_refused_total counter");
  std::snprintf(text, sizeof text, "idforge_connections_refused_total %llu",
                static_cast<unsigned long long>(refused_connections.load(std::memory_order_relaxed)));
  line(out, text);
}

}  // namespace idforge::detail
