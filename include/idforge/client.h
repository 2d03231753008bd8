// SPDX-License-Identifier: Apache-2.0
// Client: Snowflake IDs from `idforge serve`, handed out from a local buffer that
// a background thread keeps filled.
//
// next() takes an ID from the buffer under a mutex held for a few instructions:
// tens of nanoseconds, with no network on the way. A refill thread asks the
// service for a batch (GET /v1/next?count=N over HTTP/1.1 keep-alive, or the
// gRPC API's Next) whenever the buffer falls below its low-water mark. With
// `adaptive`, the batch follows the rate the program takes IDs at, as Leaf's
// segments do: the buffer holds about `ahead_ms` of the observed demand, within
// [min_batch, capacity], so a quiet program holds few IDs and a busy one never
// waits on the network.
//
// Guarantees:
//   - Unique: every ID comes from the service, once. IDs left in the buffer when
//     the client is destroyed are dropped, never reused.
//   - Increasing per client: next() returns strictly increasing IDs. After a
//     failover to an endpoint whose IDs are lower (another node at the same
//     millisecond, a clock behind), the IDs at or below the last one handed out
//     are dropped and counted (Stats::dropped), so the order holds.
//   - Not ordered across clients: an ID's stamp is the instant the service made
//     it, up to about `ahead_ms` before the program takes it; two clients' IDs
//     interleave by fetch time, not by the time they were used.
//
// Failover: the endpoints are tried in order; the client stays on one that
// answers and moves to the next on a failure (a refused connection, a timeout,
// a 503 or a gRPC error). When every endpoint has failed in a row it waits
// (100 ms, doubling to a second while they keep failing) and starts again; an
// endpoint left for a failure is tried again in its turn. next() waits up to
// `wait_ms` for a refill when the buffer is empty, then fails with unavailable,
// naming every endpoint's last error.
//
// Thread safety: next() from any number of threads.
//
// Example:
//
//   idforge::ClientOptions options;
//   options.endpoints = {"http://10.0.0.5:8080", "grpc://10.0.0.6:9090"};
//   idforge::Result<std::unique_ptr<idforge::Client>> client = idforge::Client::connect(options);
//   if (!client) return fail(client.error());
//   idforge::Result<std::uint64_t> id = (*client)->next();
#ifndef IDFORGE_CLIENT_H_
#define IDFORGE_CLIENT_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "idforge/result.h"

namespace idforge {

struct ClientOptions {
  // Where the service answers, tried in this order: "http://HOST:PORT" (its HTTP
  // API) or "grpc://HOST:PORT" (its gRPC API, when built with it). HOST is an IP
  // address or a name. REQUIRES: at least one.
  std::vector<std::string> endpoints;
  // The most IDs the buffer holds. Default: 100,000. Valid: 1 to 10,000,000.
  std::size_t capacity = 100'000;
  // The buffer is refilled when it holds fewer than this. Default: 0, meaning half
  // of what it aims to hold (the capacity, or with `adaptive` the observed demand).
  std::size_t low_water = 0;
  // Size batches to the observed demand (see the file comment). Default: true.
  bool adaptive = true;
  // With `adaptive`: how much demand the buffer holds. Default: 1000. Valid: 1 to 3,600,000.
  std::int64_t ahead_ms = 1000;
  // With `adaptive`: the smallest batch asked for. Default: 100.
  std::size_t min_batch = 100;
  // The largest batch one call asks for: at most the service's --max-count.
  // Default: 10,000 (the service's default).
  std::size_t max_batch = 10'000;
  // How long next() waits for a refill when the buffer is empty. Default: 1000.
  std::int64_t wait_ms = 1000;
  // One call's limit: connecting, sending and reading the answer. Default: 1000.
  std::int64_t timeout_ms = 1000;
};

class Client {
 public:
  // What the client has done, for metrics and tests.
  struct Stats {
    std::uint64_t handed_out = 0;  // IDs next() returned.
    std::uint64_t fetched = 0;     // IDs received from the service.
    std::uint64_t dropped = 0;     // Received but at or below an ID already handed out (after a failover).
    std::uint64_t calls = 0;       // Answered calls to the service.
    std::uint64_t failures = 0;    // Failed calls (each moves to the next endpoint).
    std::uint64_t waits = 0;       // next() calls that found the buffer empty and waited.
    std::size_t buffered = 0;      // IDs in the buffer now.
    std::size_t endpoint = 0;      // The endpoint in use (an index into ClientOptions::endpoints).
  };

  // Checks the options and starts the refill thread; the first batch is asked
  // for at once. Fails with invalid_argument for a bad option or endpoint (it
  // says which); an unreachable service is not an error here (next() reports it).
  static Result<std::unique_ptr<Client>> connect(const ClientOptions& options);

  // Stops the refill thread; the IDs still buffered are dropped.
  ~Client();

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The next ID. Fails with unavailable when the buffer stays empty for wait_ms
  // (every endpoint failing, or answering slower than the demand).
  Result<std::uint64_t> next();

  // Fills `ids` (all or nothing), waiting as next() does. REQUIRES: ids.size() <= capacity.
  Result<void> next(std::span<std::uint64_t> ids);

  Stats stats() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace idforge

#endif  // IDFORGE_CLIENT_H_
