// SPDX-License-Identifier: Apache-2.0
#include "support/http.h"

#include <regex>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace idforge::testing {

struct HttpConnection::Impl {
  boost::asio::io_context context;
  boost::asio::ip::tcp::socket socket{context};
  boost::beast::flat_buffer buffer;
};

HttpConnection::HttpConnection(std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  const timeval guard{30, 0};
  ::setsockopt(impl_->socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
}

HttpConnection::~HttpConnection() = default;

Reply HttpConnection::get(const std::string& target, const std::string& accept) {
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!accept.empty()) request += "Accept: " + accept + "\r\n";
  send(request + "\r\n");
  std::optional<Reply> reply = read();
  EXPECT_TRUE(reply) << "no reply to GET " << target;
  return reply.value_or(Reply{});
}

void HttpConnection::send(std::string_view bytes) {
  boost::system::error_code ec;
  boost::asio::write(impl_->socket, boost::asio::buffer(bytes.data(), bytes.size()), ec);
}

std::optional<Reply> HttpConnection::read(bool to_head) {
  namespace http = boost::beast::http;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  parser.skip(to_head);
  boost::system::error_code ec;
  http::read(impl_->socket, impl_->buffer, parser, ec);
  if (ec) return std::nullopt;
  const auto& message = parser.get();
  Reply reply;
  reply.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  reply.body = message.body();
  reply.keep_alive = message.keep_alive();
  return reply;
}

bool HttpConnection::closed_by_server() {
  char byte;
  boost::system::error_code ec;
  const std::size_t n = impl_->socket.read_some(boost::asio::buffer(&byte, 1), ec);
  return n == 0 && (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset);
}

int HttpConnection::native_handle() { return impl_->socket.native_handle(); }

bool ServerProcess::wait_listening(int guard_s) {
  static const std::regex kPort("\"msg\":\"listening\".*\"port\":([0-9]+)");
  static const std::regex kGrpcPort("\"msg\":\"listening\".*\"grpc_port\":([0-9]+)");
  for (int i = 0; i < guard_s * 100; ++i) {
    std::smatch m;
    const std::string text = slurp(log_);
    if (std::regex_search(text, m, kPort)) {
      port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
      if (std::regex_search(text, m, kGrpcPort)) grpc_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
      return true;
    }
    if (exited()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace idforge::testing
