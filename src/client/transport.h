// SPDX-License-Identifier: Apache-2.0
// Transport: one endpoint of the service, as the Client asks it for IDs.
//
// Thread safety: none; the Client's refill thread is its only user.
#ifndef IDFORGE_SRC_CLIENT_TRANSPORT_H_
#define IDFORGE_SRC_CLIENT_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "idforge/result.h"

namespace idforge::detail {

class Transport {
 public:
  virtual ~Transport() = default;
  // `count` new Snowflake IDs, in the order the service issued them. Fails with
  // unavailable (not reachable, timed out, refused with a 5xx or a gRPC error)
  // or io (an answer that is not IDs), the message starting with the endpoint.
  virtual Result<std::vector<std::uint64_t>> fetch(std::size_t count) = 0;
};

// An endpoint's parts: "http://HOST:PORT" or "grpc://HOST:PORT".
struct Endpoint {
  std::string scheme;  // "http" or "grpc".
  std::string host;
  std::string port;
};
// invalid_argument, saying what to give, for anything else.
Result<Endpoint> parse_endpoint(const std::string& text);

// A transport to `endpoint`, whose every call is bounded by `timeout_ms`. It
// connects on its first fetch. invalid_argument for "grpc://" in a build without
// the gRPC API.
Result<std::unique_ptr<Transport>> make_transport(const Endpoint& endpoint, const std::string& text,
                                                  std::int64_t timeout_ms);

std::unique_ptr<Transport> http_transport(const Endpoint& endpoint, const std::string& text, std::int64_t timeout_ms);
std::unique_ptr<Transport> grpc_transport(const Endpoint& endpoint, const std::string& text, std::int64_t timeout_ms);

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_CLIENT_TRANSPORT_H_
