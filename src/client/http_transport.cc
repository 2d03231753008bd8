// SPDX-License-Identifier: Apache-2.0
// The HTTP transport: GET /v1/next?count=N with "Accept: text/plain" on one
// keep-alive connection (Boost.Beast), one ID per line in the answer.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <optional>

#include "client/transport.h"
#include "idforge/encoding.h"

namespace idforge::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

class HttpTransport final : public Transport {
 public:
  HttpTransport(const Endpoint& endpoint, std::string text, std::int64_t timeout_ms)
      : endpoint_(endpoint), text_(std::move(text)), timeout_(timeout_ms) {}

  Result<std::vector<std::uint64_t>> fetch(std::size_t count) override {
    Result<std::vector<std::uint64_t>> ids = exchange(count);
    if (!ids) close();
    return ids;
  }

 private:
  Result<std::vector<std::uint64_t>> exchange(std::size_t count) {
    if (!stream_) {
      if (Result<void> opened = open(); !opened) return opened.error();
    }
    http::request<http::empty_body> request{http::verb::get, "/v1/next?count=" + std::to_string(count), 11};
    request.set(http::field::host, endpoint_.host);
    request.set(http::field::accept, "text/plain");
    request.keep_alive(true);
    beast::error_code ec;
    stream_->expires_after(timeout_);
    http::async_write(*stream_, request, [&ec](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec) return failed("sending", ec);
    // Room for every ID's digits and newline, and an error's JSON.
    http::response_parser<http::string_body> parser;
    parser.body_limit(count * 21 + 4096);
    stream_->expires_after(timeout_);
    http::async_read(*stream_, buffer_, parser, [&ec](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec) return failed("reading the answer", ec);
    const http::response<http::string_body>& response = parser.get();
    if (!response.keep_alive()) close();
    if (response.result_int() != 200) {
      return Error(response.result_int() >= 500 ? Errc::unavailable : Errc::invalid_argument,
                   text_ + " answered " + std::to_string(response.result_int()) + ": " + response.body().substr(0, 300));
    }
    std::vector<std::uint64_t> ids;
    ids.reserve(count);
    std::string_view body = response.body();
    for (std::size_t end = body.find('\n'); end != std::string_view::npos; end = body.find('\n')) {
      Result<std::uint64_t> id = parse_id(body.substr(0, end), Encoding::decimal);
      if (!id) return Error(Errc::io, text_ + " answered a line that is not a Snowflake ID: " + id.error().message());
      ids.push_back(*id);
      body.remove_prefix(end + 1);
    }
    if (ids.size() != count) {
      return Error(Errc::io, text_ + " answered " + std::to_string(ids.size()) + " IDs for " + std::to_string(count));
    }
    return ids;
  }

  Result<void> open() {
    beast::error_code ec;
    asio::ip::tcp::resolver::results_type addresses;
    resolver_.async_resolve(endpoint_.host, endpoint_.port,
                            [&](beast::error_code e, asio::ip::tcp::resolver::results_type r) {
                              ec = e;
                              addresses = std::move(r);
                            });
    run();
    if (ec) return failed("resolving " + endpoint_.host, ec).error();
    stream_.emplace(context_);
    stream_->expires_after(timeout_);
    stream_->async_connect(addresses, [&ec](beast::error_code e, const asio::ip::tcp::endpoint&) { ec = e; });
    run();
    if (ec) return failed("connecting", ec).error();
    stream_->socket().set_option(asio::ip::tcp::no_delay(true));
    return {};
  }

  void close() {
    if (!stream_) return;
    beast::error_code ignored;
    stream_->socket().close(ignored);
    stream_.reset();
    buffer_.clear();
  }

  void run() {
    context_.restart();
    context_.run();
  }

  Result<std::vector<std::uint64_t>> failed(const std::string& doing, const beast::error_code& ec) const {
    const std::string why = ec == beast::error::timeout ? "no answer within " + std::to_string(timeout_.count()) + " ms"
                                                         : ec.message();
    return Error(Errc::unavailable, text_ + ": " + doing + ": " + why);
  }

  const Endpoint endpoint_;
  const std::string text_;
  const std::chrono::milliseconds timeout_;
  asio::io_context context_;
  asio::ip::tcp::resolver resolver_{context_};
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

std::unique_ptr<Transport> http_transport(const Endpoint& endpoint, const std::string& text, std::int64_t timeout_ms) {
  return std::make_unique<HttpTransport>(endpoint, text, timeout_ms);
}

}  // namespace idforge::detail
