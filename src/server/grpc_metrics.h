// SPDX-License-Identifier: Apache-2.0
// GrpcMetrics: the gRPC API's call counters, by method and status code, and the
// latency of its unary calls.
//
// Calls run on gRPC's own threads, not on the HTTP event loops, so the counters
// are shared atomics bumped with fetch_add (a locked instruction per call: tens
// of nanoseconds against a call's tens of microseconds).
//
// Thread safety: every member may be called from any thread.
#ifndef IDFORGE_SERVER_GRPC_METRICS_H_
#define IDFORGE_SERVER_GRPC_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "server/buffer.h"
#include "server/metrics.h"

namespace idforge::detail {

// The methods of idforge.v1.Ids.
enum class GrpcMethod : std::uint8_t { next, stream, decode, info };
inline constexpr std::size_t kGrpcMethodCount = 4;

// gRPC's status codes, 0 (OK) to 16 (UNAUTHENTICATED).
inline constexpr std::size_t kGrpcCodeCount = 17;

class GrpcMetrics {
 public:
  // Counts one finished call of `method` with gRPC status `code` (0 to 16);
  // `latency_ns` goes into the histogram for unary methods (not for Stream).
  void call(GrpcMethod method, int code, std::int64_t latency_ns);
  // A stream opened, and one closed.
  void stream_opened() { streams_open_.fetch_add(1, std::memory_order_relaxed); }
  void stream_closed() { streams_open_.fetch_sub(1, std::memory_order_relaxed); }
  // Counts one message written on a stream.
  void stream_message() { stream_messages_.fetch_add(1, std::memory_order_relaxed); }

  std::int64_t streams_open() const { return streams_open_.load(std::memory_order_relaxed); }

  // Appends the idforge_grpc_* families in Prometheus text.
  void render(Buffer& out) const;

 private:
  using Counter = std::atomic<std::uint64_t>;
  std::array<std::array<Counter, kGrpcCodeCount>, kGrpcMethodCount> calls_{};
  std::array<std::array<Counter, Metrics::kLatencyBoundsS.size() + 1>, kGrpcMethodCount> latency_buckets_{};
  std::array<Counter, kGrpcMethodCount> latency_sum_ns_{};
  std::atomic<std::int64_t> streams_open_{0};
  Counter stream_messages_{0};
};

// The method's full gRPC name ("/idforge.v1.Ids/Next").
std::string_view to_string(GrpcMethod method);
// A status code's name ("OK", "RESOURCE_EXHAUSTED"); "UNKNOWN" outside 0 to 16.
std::string_view grpc_code_name(int code);

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_GRPC_METRICS_H_
