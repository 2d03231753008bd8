// SPDX-License-Identifier: Apache-2.0
#include "server/peer_clocks.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <optional>

#include "server/log.h"

namespace idforge::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct Sample {
  std::int64_t offset_us;
  std::int64_t round_trip_us;
};

// One GET /v1/info, all of it within `timeout`; nullopt when it fails.
std::optional<Sample> sample(const Peer& peer, Clock& clock, std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  asio::ip::tcp::resolver resolver(io);
  http::request<http::empty_body> request(http::verb::get, "/v1/info", 11);
  request.set(http::field::host, peer.host);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  std::int64_t sent_us = 0, received_us = 0;
  bool ok = false;
  stream.expires_after(timeout);
  resolver.async_resolve(peer.host, std::to_string(peer.port), [&](beast::error_code ec, auto results) {
    if (ec) return;
    stream.async_connect(results, [&](beast::error_code ec2, const auto&) {
      if (ec2) return;
      sent_us = clock.wall_ns() / 1000;
      http::async_write(stream, request, [&](beast::error_code ec3, std::size_t) {
        if (ec3) return;
        http::async_read(stream, buffer, response, [&](beast::error_code ec4, std::size_t) {
          received_us = clock.wall_ns() / 1000;
          ok = !ec4;
        });
      });
    });
  });
  io.run_for(timeout + std::chrono::milliseconds(100));
  if (!ok || response.result() != http::status::ok) return std::nullopt;
  const nlohmann::json info = nlohmann::json::parse(response.body(), nullptr, false);
  const auto now = info.is_object() ? info.find("now_unix_us") : info.end();
  if (now == info.end() || !now->is_number_integer()) return std::nullopt;
  const std::int64_t theirs = now->get<std::int64_t>();
  return Sample{(sent_us + received_us) / 2 - theirs, received_us - sent_us};
}

}  // namespace

PeerClocks measure_peers(const std::vector<Peer>& peers, Clock& clock, std::chrono::milliseconds timeout) {
  PeerClocks out;
  double sum = 0;
  for (const Peer& peer : peers) {
    ++out.asked;
    if (peer.port == 0) continue;
    const std::optional<Sample> s = sample(peer, clock, timeout);
    if (!s) continue;
    ++out.answered;
    sum += static_cast<double>(s->offset_us);
    out.max_round_trip_us = std::max(out.max_round_trip_us, s->round_trip_us);
  }
  if (out.answered > 0) out.offset_us = std::llround(sum / out.answered);
  return out;
}

Result<void> check_peer_skew(const PeerClocks& measured, std::int64_t max_skew_ms) {
  if (measured.answered == 0 || std::llabs(measured.offset_us) <= max_skew_ms * 1000) return {};
  const double ms = static_cast<double>(measured.offset_us) / 1000;
  return Error(Errc::unavailable,
               "this clock is " + std::to_string(std::llround(std::fabs(ms))) + " ms " + (ms > 0 ? "ahead of" : "behind") +
                   " the mean of " + std::to_string(measured.answered) +
                   " other instances' clocks, past --max-peer-skew-ms " + std::to_string(max_skew_ms) +
                   "; fix this machine's time synchronisation (NTP, chrony), or raise --max-peer-skew-ms");
}

PeerWatch::PeerWatch(List list, Clock& clock, ClockHealth& health, std::int64_t max_skew_ms,
                     std::chrono::milliseconds period)
    : list_(std::move(list)), clock_(clock), health_(health), max_skew_ms_(max_skew_ms), period_(period) {
  thread_ = std::thread([this] { run(); });
}

PeerWatch::~PeerWatch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
  }
  thread_.join();
}

void PeerWatch::run() {
  std::unique_lock lock(mutex_);
  bool was_past = false;
  while (!wake_.wait_for(lock, period_, [&] { return stopping_; })) {
    lock.unlock();
    Result<std::vector<Peer>> peers = list_();
    if (peers) {
      const PeerClocks measured = measure_peers(*peers, clock_, std::chrono::milliseconds(2000));
      health_.set_peers(measured);
      const Result<void> skew = check_peer_skew(measured, max_skew_ms_);
      if (!skew && !was_past) log(LogLevel::warn, "clock skew", {{"error", skew.error().message()}});
      if (skew && was_past) log(LogLevel::info, "clock skew within bounds", {{"offset_us", measured.offset_us}});
      was_past = !skew;
    }
    lock.lock();
  }
}

}  // namespace idforge::detail
