// SPDX-License-Identifier: Apache-2.0
#include "server/http_server.h"

#include <time.h>

#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/intrusive/list.hpp>
#include <nlohmann/json.hpp>

#include "idforge/clock.h"
#include "server/accept.h"

namespace idforge::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::int64_t kSweepMs = 100;
// How long a closing connection is read from (and ignored) after the response.
constexpr std::int64_t kLingerMs = 1000;
// How long a drain keeps idle keep-alive connections, so that a request already
// on its way is answered rather than reset.
constexpr std::int64_t kDrainIdleGraceMs = 1000;
// The response memory a keep-alive connection holds between requests: enough
// for a batch of about 700 Snowflake IDs. Larger responses allocate their own,
// so 10,000 connections that each once fetched 10,000 IDs do not pin 2 GB.
constexpr std::size_t kKeptBodyBytes = 16 * 1024;

std::int64_t boot_ms(Clock& clock) { return clock.boot_ns() / 1'000'000; }

// What the parser keeps of a request: the rest of the header is skipped.
struct RequestHead {
  std::string method;
  std::string target;
  int version = 11;
  std::string accept;  // Every Accept field, joined with ','.
  std::string transfer_encoding;
  bool expect_continue = false;
};

// A Beast parser that stores nothing but RequestHead and discards the body.
class RequestParser final : public http::basic_parser<true> {
 public:
  RequestParser(RequestHead& head, const HttpLimits& limits) : head_(head) {
    header_limit(limits.max_header_bytes);
    body_limit(limits.max_body_bytes);
    head_.accept.clear();
    head_.transfer_encoding.clear();
    head_.expect_continue = false;
  }

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target, int version,
                       error_code&) override {
    head_.method.assign(method.data(), method.size());
    head_.target.assign(target.data(), target.size());
    head_.version = version;
  }
  void on_response_impl(int, beast::string_view, int, error_code&) override {}
  void on_field_impl(http::field name, beast::string_view, beast::string_view value, error_code&) override {
    const std::string_view v(value.data(), value.size());
    if (name == http::field::accept) {
      if (!head_.accept.empty()) head_.accept += ',';
      head_.accept += v;
    } else if (name == http::field::transfer_encoding) {
      if (!head_.transfer_encoding.empty()) head_.transfer_encoding += ',';
      head_.transfer_encoding += v;
    } else if (name == http::field::expect) {
      head_.expect_continue = iequals(trim(v), "100-continue");
    }
  }
  void on_header_impl(error_code& ec) override {
    // Only "chunked" frames a body we can find the end of.
    if (!head_.transfer_encoding.empty() && !iequals(trim(head_.transfer_encoding), "chunked")) {
      ec = http::error::bad_transfer_encoding;
    }
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(beast::string_view body, error_code&) override { return body.size(); }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  RequestHead& head_;
};

struct Loop;
using SessionHook = boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

class Session final : public std::enable_shared_from_this<Session>, public SessionHook {
 public:
  Session(Loop& loop, tcp::socket socket);
  ~Session();

  void start();

  // Called by the loop's sweep: enforces the deadlines, and drains.
  void check(std::int64_t now_ms);

 private:
  enum class State { reading, writing, lingering, closed };

  // Waits for the next request: skips empty lines before it, reads its header,
  // answers "Expect: 100-continue", reads (and drops) its body, then on_read().
  void read();
  void wait_for_request_line();
  void read_header();
  void on_header(error_code ec);
  void on_read(error_code ec);
  void respond(const HttpResponse& response, bool keep_alive);
  void on_write(error_code ec, bool keep_alive, Route route, int status);
  // Answers a request the server refuses before any handler sees it, then closes.
  void refuse(int status, std::string_view code, std::string_view message);
  // Half-closes, then reads and drops what the client still sends, until it
  // closes or kLingerMs pass, so the response is not lost to a reset.
  void linger();
  void discard_input();
  void close();
  // True when the request line ends in a well-formed "HTTP/x.y" other than 1.0
  // and 1.1 (a version we do not serve, as opposed to a malformed line).
  bool names_other_version() const;
  bool received_some() const { return (parser_ && parser_->got_some()) || in_.size() > 0; }

  Loop& loop_;
  tcp::socket socket_;
  beast::flat_buffer in_;
  std::optional<RequestParser> parser_;
  RequestHead head_;
  Buffer body_;
  std::array<char, 512> head_out_{};
  std::size_t head_out_size_ = 0;
  std::array<char, 512> discard_{};
  State state_ = State::reading;
  std::int64_t since_ms_ = 0;       // When the current state began (loop's coarse clock).
  std::int64_t first_byte_ms_ = -1;  // When the sweep first saw bytes of this request.
  bool timed_out_ = false;
  std::int64_t started_ns_ = 0;  // When the request was read, for the latency histogram.
};

using SessionList = boost::intrusive::list<Session, boost::intrusive::base_hook<SessionHook>,
                                          boost::intrusive::constant_time_size<false>>;

// One event loop: its io_context, its thread, its connections and their sweep.
struct Loop {
  Loop(std::size_t i, const HttpLimits& l, HttpHandler& h, Metrics& m)
      : index(i), limits(l), handler(h), metrics(m), shard(m.shard(i)), sweeper(context) {}

  std::size_t index;
  const HttpLimits& limits;
  HttpHandler& handler;
  Metrics& metrics;
  Metrics::Shard& shard;
  asio::io_context context{1};
  asio::steady_timer sweeper;
  SystemClock clock;
  SessionList sessions;     // Touched only on this loop's thread.
  std::int64_t now_ms = 0;  // The coarse clock the sweep advances.
  std::int64_t date_second = -1;
  std::array<char, 32> date{};  // "Sun, 06 Nov 1994 08:49:37 GMT"
  std::size_t date_length = 0;
  bool draining = false;
  std::int64_t draining_since_ms = 0;
  std::thread thread;

  void tick();
  void sweep();
};

Session::Session(Loop& loop, tcp::socket socket) : loop_(loop), socket_(std::move(socket)) {
  loop_.metrics.open_connections.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() { loop_.metrics.open_connections.fetch_sub(1, std::memory_order_relaxed); }

void Session::start() {
  loop_.sessions.push_back(*this);
  read();
}

void Session::read() {
  state_ = State::reading;
  since_ms_ = loop_.now_ms;
  first_byte_ms_ = -1;
  parser_.reset();
  wait_for_request_line();
}

void Session::wait_for_request_line() {
  // RFC 9112 §2.2: empty lines before a request line are ignored.
  std::size_t blank = 0;
  const auto* bytes = static_cast<const char*>(in_.data().data());
  while (blank < in_.size() && (bytes[blank] == '\r' || bytes[blank] == '\n')) ++blank;
  in_.consume(blank);
  if (in_.size() > 0) return read_header();
  socket_.async_read_some(in_.prepare(4096), [self = shared_from_this()](error_code ec, std::size_t n) {
    if (self->state_ == State::closed) return;
    if (ec) return self->on_read(ec);
    self->in_.commit(n);
    self->wait_for_request_line();
  });
}

void Session::read_header() {
  parser_.emplace(head_, loop_.limits);
  http::async_read_header(socket_, in_, *parser_,
                          [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
}

void Session::on_header(error_code ec) {
  if (state_ == State::closed) return;
  if (ec || parser_->is_done()) return on_read(ec);
  auto read_body = [self = shared_from_this()] {
    http::async_read(self->socket_, self->in_, *self->parser_,
                     [self](error_code e, std::size_t) { self->on_read(e); });
  };
  if (!head_.expect_continue || head_.version != 11) return read_body();
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                    [self = shared_from_this(), read_body](error_code e, std::size_t) {
                      if (e || self->state_ == State::closed) return self->close();
                      read_body();
                    });
}

void Session::on_read(error_code ec) {
  if (state_ == State::closed) return;
  if (ec) {
    if (ec == http::error::header_limit) {
      return refuse(431, "header_too_large",
                    "the request line and headers exceed " + std::to_string(loop_.limits.max_header_bytes) + " bytes");
    }
    if (ec == http::error::body_limit) {
      return refuse(413, "body_too_large",
                    "the request body exceeds " + std::to_string(loop_.limits.max_body_bytes) +
                        " bytes; every route is a GET and takes no body");
    }
    if (ec == http::error::bad_transfer_encoding && !head_.transfer_encoding.empty()) {
      return refuse(501, "not_implemented",
                    "Transfer-Encoding '" + head_.transfer_encoding +
                        "' is not supported: every route is a GET and takes no body; send none, or send it chunked");
    }
    if (ec == http::error::bad_version && names_other_version()) {
      return refuse(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are served");
    }
    if (timed_out_ && received_some()) {
      return refuse(408, "request_timeout",
                    "the request was not complete within " + std::to_string(loop_.limits.header_timeout_ms) + " ms");
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || timed_out_ ||
        ec == asio::error::operation_aborted || !received_some()) {
      return close();
    }
    return refuse(400, "bad_request", "malformed HTTP request: " + ec.message());
  }
  started_ns_ = loop_.clock.boot_ns();
  if (head_.version != 10 && head_.version != 11) {
    return refuse(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are served");
  }
  body_.clear();
  HttpResponse response;
  response.body = &body_;
  const HttpRequest request{head_.method, head_.target, prefers_text(head_.accept)};
  loop_.handler.handle(request, response, loop_.index);
  respond(response, parser_->keep_alive() && !loop_.draining);
}

bool Session::names_other_version() const {
  const std::string_view data(static_cast<const char*>(in_.data().data()), in_.size());
  const std::string_view line = data.substr(0, data.find("\r\n"));
  const std::string_view version = line.substr(line.rfind(' ') + 1);
  return version.size() == 8 && version.starts_with("HTTP/") && std::isdigit(static_cast<unsigned char>(version[5])) &&
         version[6] == '.' && std::isdigit(static_cast<unsigned char>(version[7]));
}

void Session::respond(const HttpResponse& response, bool keep_alive) {
  char* p = head_out_.data();
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  auto put_number = [&p](std::uint64_t v) { p = std::to_chars(p, p + 20, v).ptr; };
  put(head_.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  put_number(static_cast<std::uint64_t>(response.status));
  put(" ");
  const beast::string_view reason = http::obsolete_reason(static_cast<http::status>(response.status));
  put({reason.data(), reason.size()});
  put("\r\nServer: idforge\r\nDate: ");
  put({loop_.date.data(), loop_.date_length});
  put("\r\nContent-Type: ");
  put(response.content_type);
  if (!response.length_unknown) {
    put("\r\nContent-Length: ");
    put_number(body_.size());
  }
  if (response.no_store) put("\r\nCache-Control: no-store");
  if (response.retry_after_s > 0) {
    put("\r\nRetry-After: ");
    put_number(static_cast<std::uint64_t>(response.retry_after_s));
  }
  if (response.allow_get) put("\r\nAllow: GET, HEAD");
  if (!keep_alive) {
    put("\r\nConnection: close");
  } else if (head_.version == 10) {
    put("\r\nConnection: keep-alive");
  }
  put("\r\n\r\n");
  head_out_size_ = static_cast<std::size_t>(p - head_out_.data());

  state_ = State::writing;
  since_ms_ = loop_.now_ms;
  // A HEAD answer carries the headers of the GET answer and no body.
  const bool head_only = parser_ && parser_->is_header_done() && head_.method == "HEAD";
  const std::array<asio::const_buffer, 2> buffers = {asio::buffer(head_out_.data(), head_out_size_),
                                                     asio::buffer(body_.data(), head_only ? 0 : body_.size())};
  asio::async_write(socket_, buffers,
                    [self = shared_from_this(), keep_alive, route = response.route, status = response.status](
                        error_code ec, std::size_t) { self->on_write(ec, keep_alive, route, status); });
}

void Session::on_write(error_code ec, bool keep_alive, Route route, int status) {
  loop_.shard.request(route, status, loop_.clock.boot_ns() - started_ns_);
  if (ec || state_ == State::closed) return close();
  if (!keep_alive) return linger();
  body_.release_above(kKeptBodyBytes);
  read();
}

void Session::refuse(int status, std::string_view code, std::string_view message) {
  started_ns_ = loop_.clock.boot_ns();
  body_.clear();
  write_error_body(body_, code, message);
  HttpResponse response;
  response.status = status;
  response.route = Route::unparsed;
  response.body = &body_;
  respond(response, false);
}

void Session::linger() {
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  state_ = State::lingering;
  since_ms_ = loop_.now_ms;
  discard_input();
}

void Session::discard_input() {
  socket_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](error_code ec, std::size_t) {
    if (ec || self->state_ != State::lingering) return self->close();
    self->discard_input();
  });
}

void Session::close() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  error_code ignored;
  socket_.close(ignored);
  unlink();
}

void Session::check(std::int64_t now_ms) {
  switch (state_) {
    case State::reading:
      if (received_some()) {
        if (first_byte_ms_ < 0) first_byte_ms_ = now_ms;
        if (now_ms - first_byte_ms_ >= loop_.limits.header_timeout_ms) {
          timed_out_ = true;
          socket_.cancel();
        }
      } else if ((loop_.draining && now_ms - loop_.draining_since_ms >= kDrainIdleGraceMs) ||
                 now_ms - since_ms_ >= loop_.limits.idle_timeout_ms) {
        timed_out_ = true;
        socket_.cancel();
      }
      break;
    case State::writing:
      if (now_ms - since_ms_ >= loop_.limits.write_timeout_ms) close();
      break;
    case State::lingering:
      if (now_ms - since_ms_ >= kLingerMs) close();
      break;
    case State::closed:
      break;
  }
}

void Loop::tick() {
  now_ms = boot_ms(clock);
  const std::int64_t second = clock.wall_ns() / 1'000'000'000;
  if (second == date_second) return;
  date_second = second;
  const time_t t = static_cast<time_t>(second);
  struct tm utc;
  gmtime_r(&t, &utc);
  date_length = std::strftime(date.data(), date.size(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
}

void Loop::sweep() {
  tick();
  for (auto it = sessions.begin(); it != sessions.end();) {
    Session& s = *it++;  // check() may unlink s.
    s.check(now_ms);
  }
  sweeper.expires_after(std::chrono::milliseconds(kSweepMs));
  sweeper.async_wait([this](error_code ec) {
    if (!ec) sweep();
  });
}

}  // namespace

void write_error_body(Buffer& body, std::string_view code, std::string_view message) {
  nlohmann::ordered_json j;
  j["error"] = message;
  j["code"] = code;
  body.append(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  body.append("\n");
}

struct HttpServer::Impl {
  Impl(const HttpLimits& l, HttpHandler& h, Metrics& m) : limits(l), handler(h), metrics(m) {}

  void accept();
  void refuse_connection(tcp::socket& socket);

  const HttpLimits limits;
  HttpHandler& handler;
  Metrics& metrics;
  std::vector<std::unique_ptr<Loop>> loops;
  std::optional<tcp::acceptor> acceptor;
  std::size_t next_loop = 0;
  bool drained = false;
};

void HttpServer::Impl::accept() {
  Loop& target = *loops[next_loop];
  next_loop = (next_loop + 1) % loops.size();
  acceptor->async_accept(target.context, [this, &target](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      // Out of descriptors or memory: pause instead of spinning, then go on.
      auto pause = std::make_shared<asio::steady_timer>(loops[0]->context, std::chrono::milliseconds(100));
      pause->async_wait([this, pause](error_code) {
        if (acceptor->is_open()) accept();
      });
      return;
    }
    if (metrics.open_connections.load(std::memory_order_relaxed) >= limits.max_connections) {
      refuse_connection(socket);
    } else {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      asio::post(target.context, [&target, s = std::make_shared<tcp::socket>(std::move(socket))]() mutable {
        std::make_shared<Session>(target, std::move(*s))->start();
      });
    }
    accept();
  });
}

void HttpServer::Impl::refuse_connection(tcp::socket& socket) {
  metrics.refused_connections.fetch_add(1, std::memory_order_relaxed);
  Buffer body;
  write_error_body(body, "too_many_connections",
                   "the server has " + std::to_string(limits.max_connections) +
                       " connections open, its maximum; retry later or reuse a connection");
  const std::string head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";
  error_code ignored;
  socket.non_blocking(true, ignored);
  const std::array<asio::const_buffer, 2> buffers = {asio::buffer(head), asio::buffer(body.data(), body.size())};
  socket.write_some(buffers, ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

Result<void> HttpServer::check_address(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) {
    return Error(Errc::invalid_argument,
                 "listen address '" + host + "' is not an IP address; give one such as 127.0.0.1, 0.0.0.0 or [::]");
  }
  return {};
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { drain(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& host, std::uint16_t port,
                                                      std::size_t threads, const HttpLimits& limits,
                                                      HttpHandler& handler, Metrics& metrics) {
  if (Result<void> valid = check_address(host); !valid) return valid.error();
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  auto impl = std::make_unique<Impl>(limits, handler, metrics);
  for (std::size_t i = 0; i < threads; ++i) impl->loops.push_back(std::make_unique<Loop>(i, impl->limits, handler, metrics));
  tcp::acceptor& acceptor = impl->acceptor.emplace(impl->loops[0]->context);
  const tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(Errc::io, "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(impl)));
  server->port_ = acceptor.local_endpoint().port();
  Impl& self = *server->impl_;
  self.accept();
  for (auto& loop : self.loops) {
    loop->tick();
    loop->sweep();
    Loop& l = *loop;
    l.thread = std::thread([&l] { l.context.run(); });
  }
  return server;
}

std::int64_t HttpServer::drain(std::chrono::milliseconds grace) {
  Impl& self = *impl_;
  if (self.drained) return 0;
  self.drained = true;
  asio::post(self.loops[0]->context, [&self] {
    error_code ignored;
    self.acceptor->close(ignored);
  });
  for (auto& loop : self.loops) {
    Loop& l = *loop;
    asio::post(l.context, [&l] {
      l.draining = true;
      l.draining_since_ms = boot_ms(l.clock);
      l.sweeper.cancel();
      l.sweep();
    });
  }
  SystemClock clock;
  const std::int64_t give_up_ms = boot_ms(clock) + grace.count();
  while (self.metrics.open_connections.load() > 0 && boot_ms(clock) < give_up_ms) {
    clock.sleep_for_ns(10'000'000);
  }
  const std::int64_t left = self.metrics.open_connections.load();
  for (auto& loop : self.loops) loop->context.stop();
  for (auto& loop : self.loops) {
    if (loop->thread.joinable()) loop->thread.join();
  }
  return left;
}

}  // namespace idforge::detail
