// SPDX-License-Identifier: Apache-2.0
// HttpServer: HTTP/1.1 with keep-alive on Boost.Asio and Beast's parser, one
// event loop per thread.
//
// Connections are accepted on the first loop and handed to the loops in turn;
// each connection then lives on one loop's thread, so a request is parsed,
// answered and written without a lock or a thread switch. Requests are parsed
// with a Beast parser that keeps no header fields (only the method, target,
// version, keep-alive, Accept, Expect and Transfer-Encoding matter), into buffers
// the connection reuses: after its first requests a connection allocates nothing.
//
// RFC 9112 details: empty lines before a request line are ignored; a request
// with "Expect: 100-continue" gets "100 Continue" before its body is read; a
// HEAD request is answered with the headers a GET would get and no body.
//
// Every hostile case has a defined answer, and the server keeps answering other
// clients through all of them:
//   - a malformed request line or header: 400, then close;
//   - an HTTP version other than 1.0 and 1.1: 505, then close;
//   - a header larger than max_header_bytes: 431, then close;
//   - a body larger than max_body_bytes: 413, then close (bodies are read and
//     ignored: every route is a GET);
//   - a Transfer-Encoding other than chunked: 501, then close (the body's end
//     could not be found, and guessing it invites request smuggling);
//   - a request that starts but does not finish within header_timeout_ms: 408,
//     then close; a connection idle longer than idle_timeout_ms is closed;
//   - a client that stops reading its response for write_timeout_ms is closed,
//     and one that disconnects mid-response only ends its own connection;
//   - past max_connections open connections, a new one gets 503 and is closed.
// After a response that closes the connection, the server half-closes and reads
// what the client still sends for a moment, so the client sees the response
// rather than a reset.
//
// Deadlines are checked by a sweep on each loop every 100 ms (coarse, and free on
// the request path). drain() stops accepting, lets each connection finish the
// request it is in (answered with "Connection: close"), keeps idle connections
// for a second so that a request already on its way is answered (with
// "Connection: close") rather than reset, then closes them and stops the loops.
//
// Thread safety: start(), port() and drain() from one controlling thread; the
// handler is called on the loops' threads, concurrently.
#ifndef IDFORGE_SERVER_HTTP_SERVER_H_
#define IDFORGE_SERVER_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "idforge/result.h"
#include "server/buffer.h"
#include "server/metrics.h"

namespace idforge::detail {

struct HttpLimits {
  // Connections open at once; past it new ones are refused. Default: 10,000.
  std::int64_t max_connections = 10'000;
  // The request line and header fields together. Default: 8192.
  std::uint32_t max_header_bytes = 8192;
  // A request body (read and ignored). Default: 4096.
  std::uint64_t max_body_bytes = 4096;
  // From a request's first byte to its last. Default: 10,000.
  std::int64_t header_timeout_ms = 10'000;
  // A keep-alive connection waiting for its next request. Default: 60,000.
  std::int64_t idle_timeout_ms = 60'000;
  // A response waiting for the client to read it. Default: 10,000.
  std::int64_t write_timeout_ms = 10'000;
};

// What a handler sees of a request.
struct HttpRequest {
  std::string_view method;  // "GET", "HEAD", or whatever the client sent.
  std::string_view target;  // The request target: "/v1/next?count=3".
  bool wants_text = false;  // Accept ranks text/plain above application/json (q-values honoured).
};

// What a handler fills in. The body is written into `body`, which the caller
// cleared.
struct HttpResponse {
  int status = 200;
  std::string_view content_type = "application/json";
  Route route = Route::not_found;  // For the metrics.
  int retry_after_s = 0;           // > 0 adds "Retry-After".
  bool allow_get = false;          // Adds "Allow: GET, HEAD" (405 answers).
  bool no_store = false;           // Adds "Cache-Control: no-store" (fresh IDs).
  bool length_unknown = false;     // A HEAD answer whose GET length is not known: no Content-Length.
  Buffer* body = nullptr;
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Answers one request on event loop `loop` (0 .. threads - 1). Called
  // concurrently from every loop; must not block for long.
  virtual void handle(const HttpRequest& request, HttpResponse& response, std::size_t loop) = 0;
};

// Writes the service's error object: {"error":"<message>","code":"<code>"}.
void write_error_body(Buffer& body, std::string_view code, std::string_view message);

class HttpServer {
 public:
  // Binds `host`:`port` (0 picks a free port) and starts `threads` event loops.
  // Fails with invalid_argument for a host that is not an address, io when the
  // address cannot be bound. REQUIRES: handler and metrics (with at least
  // `threads` shards) outlive the server; threads >= 1.
  static Result<std::unique_ptr<HttpServer>> start(const std::string& host, std::uint16_t port, std::size_t threads,
                                                   const HttpLimits& limits, HttpHandler& handler, Metrics& metrics);

  // Fails with invalid_argument, saying what to give, when `host` is not an IP address.
  static Result<void> check_address(const std::string& host);

  // Drains with no grace period if drain() was not called.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port actually bound.
  std::uint16_t port() const { return port_; }

  // Stops accepting and closes every connection once its current request is
  // answered, waiting up to `grace` for them; then closes what is left and stops
  // the loops. Returns how many connections were still open when `grace` ran out.
  // Idempotent.
  std::int64_t drain(std::chrono::milliseconds grace);

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_HTTP_SERVER_H_
