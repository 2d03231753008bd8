// SPDX-License-Identifier: Apache-2.0
// Api: version 1 of the service's HTTP API (docs/api.md, docs/openapi.yaml).
//
//   GET /v1/next[?count=N&format=F&encoding=E]  new IDs
//   GET /v1/decode/{id}[?format=F&encoding=E]   the same object as `idforge decode --json`
//   GET /v1/range?from=T[&to=T]                 the smallest and largest ID stamped in [from, to]
//   GET /v1/info                                layout, node, reservation, lead, capacity
//   GET /metrics                                Prometheus text
//   GET /healthz, GET /readyz                   alive; holding a node and a reservation
//
// Every refusal has a status and a JSON body {"error": "...", "code": "..."} that
// says what was wrong and how to fix it: 400 for bad parameters, 404 for unknown
// paths, 405 for methods other than GET and HEAD (HEAD answers the headers of a
// GET, and issues no ID), 503 with Retry-After when the time policy
// cannot serve (lead used up, clock behind) or the node is lost.
//
// Thread safety: handle() is called from every event loop at once; each loop
// passes its own index, which selects its scratch space and metrics shard.
#ifndef IDFORGE_SERVER_API_H_
#define IDFORGE_SERVER_API_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "idforge/clock.h"
#include "server/http_server.h"
#include "server/id_service.h"
#include "server/metrics.h"
#include "server/reporter.h"

namespace idforge::detail {

// The answer of GET /v1/range and `idforge range --json`: {layout, from, to,
// min_id, max_id} for the instants `from` and `to` (Default: `from`), given as
// Unix milliseconds or UTC dates. invalid_argument for a bad instant, a span that
// ends before it starts, or one outside the layout's lifetime.
Result<nlohmann::ordered_json> range_json(const Layout& layout, std::string_view from,
                                          std::optional<std::string_view> to);

class Api final : public HttpHandler {
 public:
  // REQUIRES: ids, metrics, clock and the reporters outlive the Api; metrics has
  // `loops` shards. Each reporter adds an object to /v1/info and families to /metrics.
  Api(IdService& ids, Metrics& metrics, Clock& clock, std::size_t loops, std::vector<const Reporter*> reporters = {});

  void handle(const HttpRequest& request, HttpResponse& response, std::size_t loop) override;

  // From now on /readyz answers 503: the service is shutting down.
  void set_draining() { draining_.store(true, std::memory_order_relaxed); }

 private:
  void next(std::string_view query, bool text, bool head, HttpResponse& response, std::size_t loop);
  void decode(std::string_view id, std::string_view query, HttpResponse& response);
  void range(std::string_view query, HttpResponse& response);
  void info(HttpResponse& response);
  void metrics(HttpResponse& response);
  void ready(HttpResponse& response);

  IdService& ids_;
  Metrics& metrics_;
  Clock& clock_;
  const std::vector<const Reporter*> reporters_;
  std::vector<std::vector<std::uint64_t>> scratch_;  // One per loop.
  std::atomic<bool> draining_{false};
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_API_H_
