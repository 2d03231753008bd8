// SPDX-License-Identifier: Apache-2.0
// GrpcServer: the service's gRPC API, idforge.v1.Ids (proto/idforge/v1/ids.proto,
// docs/grpc.md), with the standard health service (grpc.health.v1.Health) and
// server reflection, on its own port.
//
// It issues from the same IdService as the HTTP API, so both hand out IDs of one
// node's sequence, and counts IDs in the same Metrics; its own call counters are
// a GrpcMetrics, shown in /metrics through render_metrics(). Errors are those of
// the HTTP API mapped to gRPC status codes (ids.proto says which), with the
// HTTP API's code as a google.rpc.ErrorInfo reason and, when a retry can
// succeed, a google.rpc.RetryInfo. No call waits for the clock longer than the
// time policy's max_wait_ms.
//
// The health service answers SERVING for "" and "idforge.v1.Ids" while the
// IdService is ready (as /readyz answers 200), looked at every 100 ms, and
// NOT_SERVING from begin_drain() on.
//
// Calls run on gRPC's callback threads (one pool per server): a unary call is
// answered on the thread it arrives on; a stream writes one message at a time,
// each made when the previous one was taken by the transport, and waits on a
// gRPC alarm (in steps of at most 100 ms, so that cancellation and draining are
// seen) when it is paced or the node is overloaded.
//
// Thread safety: start(), begin_drain() and drain() from one controlling thread;
// info() and render_metrics() from any thread.
#ifndef IDFORGE_SERVER_GRPC_SERVER_H_
#define IDFORGE_SERVER_GRPC_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "idforge/clock.h"
#include "idforge/result.h"
#include "server/id_service.h"
#include "server/metrics.h"
#include "server/reporter.h"

namespace idforge::detail {

class GrpcServer final : public Reporter {
 public:
  // Listens on `host`:`port` (an IP address; port 0 picks a free port). Fails
  // with io when the address cannot be bound. REQUIRES: ids, metrics and clock
  // outlive the server.
  static Result<std::unique_ptr<GrpcServer>> start(const std::string& host, std::uint16_t port, IdService& ids,
                                                   Metrics& metrics, Clock& clock);

  // Drains with no grace period if drain() was not called.
  ~GrpcServer() override;

  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // The port actually bound.
  std::uint16_t port() const;

  // Health answers NOT_SERVING, Info's `ready` false, and every open stream ends
  // with UNAVAILABLE (reason "draining") at its next message. Unary calls are
  // still answered until drain().
  void begin_drain();

  // begin_drain(), then waits up to `grace` for the streams to end, refuses new
  // calls and gives those in progress what is left of `grace`, at most 1.1 s
  // (a unary call ends within --max-wait-ms); what still runs is cancelled.
  // Idempotent.
  void drain(std::chrono::milliseconds grace);

  // Reporter: "grpc" in /v1/info (the port, streams open), the idforge_grpc_*
  // families in /metrics.
  std::string info_key() const override { return "grpc"; }
  nlohmann::ordered_json info() const override;
  void render_metrics(Buffer& out) const override;

 private:
  struct Impl;
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_GRPC_SERVER_H_
