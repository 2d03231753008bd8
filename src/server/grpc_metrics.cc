// SPDX-License-Identifier: Apache-2.0
#include "server/grpc_metrics.h"

#include <string>

namespace idforge::detail {
namespace {

constexpr std::array<std::string_view, kGrpcMethodCount> kMethodNames = {
    "/idforge.v1.Ids/Next", "/idforge.v1.Ids/Stream", "/idforge.v1.Ids/Decode", "/idforge.v1.Ids/Info"};

constexpr std::array<std::string_view, kGrpcCodeCount> kCodeNames = {
    "OK",          "CANCELLED",           "UNKNOWN",  "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED",      "INTERNAL", "UNAVAILABLE",      "DATA_LOSS",         "UNAUTHENTICATED"};

void line(Buffer& out, const std::string& text) {
  out.append(text);
  out.append("\n");
}

}  // namespace

std::string_view to_string(GrpcMethod method) { return kMethodNames[static_cast<std::size_t>(method)]; }

std::string_view grpc_code_name(int code) {
  return code >= 0 && static_cast<std::size_t>(code) < kGrpcCodeCount ? kCodeNames[static_cast<std::size_t>(code)]
                                                                       : "UNKNOWN";
}

void GrpcMetrics::call(GrpcMethod method, int code, std::int64_t latency_ns) {
  const auto m = static_cast<std::size_t>(method);
  const std::size_t c = code >= 0 && static_cast<std::size_t>(code) < kGrpcCodeCount ? static_cast<std::size_t>(code) : 2;
  calls_[m][c].fetch_add(1, std::memory_order_relaxed);
  if (method == GrpcMethod::stream) return;
  const double seconds = static_cast<double>(latency_ns) * 1e-9;
  std::size_t b = 0;
  while (b < Metrics::kLatencyBoundsS.size() && seconds > Metrics::kLatencyBoundsS[b]) ++b;
  latency_buckets_[m][b].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_[m].fetch_add(static_cast<std::uint64_t>(latency_ns > 0 ? latency_ns : 0), std::memory_order_relaxed);
}

void GrpcMetrics::render(Buffer& out) const {
  line(out, "# HELP idforge_grpc_requests_total gRPC calls finished, by method and status code (a stream counts when it ends).");
  line(out, "# TYPE idforge_grpc_requests_total counter");
  for (std::size_t m = 0; m < kGrpcMethodCount; ++m) {
    for (std::size_t c = 0; c < kGrpcCodeCount; ++c) {
      const std::uint64_t n = calls_[m][c].load(std::memory_order_relaxed);
      if (n == 0) continue;
      line(out, "idforge_grpc_requests_total{method=\"" + std::string(kMethodNames[m]) + "\",code=\"" +
                    std::string(kCodeNames[c]) + "\"} " + std::to_string(n));
    }
  }
  line(out, "# HELP idforge_grpc_request_duration_seconds Time from a unary call's arrival to its answer.");
  line(out, "# TYPE idforge_grpc_request_duration_seconds histogram");
  for (std::size_t m = 0; m < kGrpcMethodCount; ++m) {
    if (static_cast<GrpcMethod>(m) == GrpcMethod::stream) continue;
    std::array<std::uint64_t, Metrics::kLatencyBoundsS.size() + 1> buckets{};
    for (std::size_t b = 0; b < buckets.size(); ++b) buckets[b] = latency_buckets_[m][b].load(std::memory_order_relaxed);
    append_latency_series(out, "idforge_grpc_request_duration_seconds", "method", kMethodNames[m], buckets,
                          latency_sum_ns_[m].load(std::memory_order_relaxed));
  }
  append_family(out, "idforge_grpc_streams_open", "Stream calls open now.", static_cast<double>(streams_open()));
  append_family(out, "idforge_grpc_stream_messages_total", "Batches of IDs written on streams.",
                static_cast<double>(stream_messages_.load(std::memory_order_relaxed)), "counter");
}

}  // namespace idforge::detail
