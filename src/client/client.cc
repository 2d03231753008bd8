// SPDX-License-Identifier: Apache-2.0
#include "idforge/client.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "client/transport.h"
#include "idforge/clock.h"

namespace idforge {
namespace detail {

Result<Endpoint> parse_endpoint(const std::string& text) {
  const auto bad = [&text](const std::string& why) {
    return Error(Errc::invalid_argument, "endpoint '" + text + "' " + why +
                                             "; give http://HOST:PORT (the HTTP API) or grpc://HOST:PORT (the gRPC API)");
  };
  const std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string::npos) return bad("has no scheme");
  Endpoint e;
  e.scheme = text.substr(0, scheme_end);
  if (e.scheme != "http" && e.scheme != "grpc") return bad("has scheme '" + e.scheme + "'");
  std::string rest = text.substr(scheme_end + 3);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("has no HOST:PORT");
  e.host = rest.substr(0, colon);
  if (e.host.size() >= 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
  e.port = rest.substr(colon + 1);
  if (e.port.empty() || e.port.size() > 5 || !std::all_of(e.port.begin(), e.port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(e.port) == 0 || std::stoi(e.port) > 65535) {
    return bad("has no port from 1 to 65535");
  }
  if (e.host.find_first_of("/?#@ ") != std::string::npos) return bad("has a path or user in it");
  return e;
}

Result<std::unique_ptr<Transport>> make_transport(const Endpoint& endpoint, const std::string& text,
                                                  std::int64_t timeout_ms) {
  if (endpoint.scheme == "http") return http_transport(endpoint, text, timeout_ms);
#ifdef IDFORGE_CLIENT_WITH_GRPC
  return grpc_transport(endpoint, text, timeout_ms);
#else
  return Error(Errc::invalid_argument, "endpoint '" + text + "': this idforge was built without gRPC "
                                       "(IDFORGE_WITH_GRPC=OFF); use the HTTP API");
#endif
}

}  // namespace detail

namespace {

// While every endpoint keeps failing, the refill thread pauses this long between
// rounds, doubling from the first to the last.
constexpr std::chrono::milliseconds kFirstPause{100};
constexpr std::chrono::milliseconds kLastPause{1000};
// How often the refill thread looks at the demand when nothing wakes it.
constexpr std::chrono::milliseconds kDemandPeriod{100};

}  // namespace

struct Client::Impl {
  explicit Impl(const ClientOptions& o) : options(o), ring(o.capacity), last_errors(o.endpoints.size()) {}

  // How many IDs the buffer aims to hold: the capacity, or about ahead_ms of the
  // demand seen. REQUIRES: mutex held.
  std::size_t aim() const {
    if (!options.adaptive) return options.capacity;
    const double wanted = rate_per_s * static_cast<double>(options.ahead_ms) / 1000;
    return std::clamp<std::size_t>(static_cast<std::size_t>(wanted), std::min(options.min_batch, options.capacity),
                                   options.capacity);
  }
  std::size_t low_water() const {
    const std::size_t target = aim();
    return options.low_water > 0 ? std::min(options.low_water, target) : std::max<std::size_t>(1, target / 2);
  }

  // Updates the demand rate from the IDs taken since the last look (an average
  // that halves an old reading's weight at each look). REQUIRES: mutex held.
  void look_at_demand() {
    const std::int64_t now = clock.boot_ns();
    const std::int64_t elapsed = now - taken_since_ns;
    if (elapsed < std::chrono::nanoseconds(kDemandPeriod).count()) return;
    const double recent = static_cast<double>(taken) * 1e9 / static_cast<double>(elapsed);
    rate_per_s = rate_per_s == 0 ? recent : (rate_per_s + recent) / 2;
    // A burst above the average sizes the next batch at once, not half a look later.
    rate_per_s = std::max(rate_per_s, recent);
    taken = 0;
    taken_since_ns = now;
  }

  // Appends the IDs above the last one buffered. REQUIRES: mutex held.
  void append(const std::vector<std::uint64_t>& ids) {
    for (std::uint64_t id : ids) {
      if (have_last && id <= last) {
        ++stats.dropped;
        continue;
      }
      if (count == ring.size()) break;  // Cannot happen: fetches ask for the room there is.
      ring[(head + count) % ring.size()] = id;
      ++count;
      last = id;
      have_last = true;
    }
  }

  // The refill thread.
  void refill() {
    std::unique_lock lock(mutex);
    std::chrono::milliseconds pause = kFirstPause;
    std::size_t failures_in_row = 0;
    while (!stopping) {
      look_at_demand();
      // What to hold: the aim, or more while a caller waits for more than that.
      // Below the low-water mark (or with a caller waiting) it fills up to the goal.
      const std::size_t goal = std::max(aim(), waiting_for);
      if (count < low_water() || waiting > 0) filling = true;
      if (count >= goal) filling = false;
      if (!filling) {
        wake.wait_for(lock, kDemandPeriod);
        continue;
      }
      const std::size_t want = std::min({goal - count, options.max_batch, options.capacity - count});
      const std::size_t at = endpoint;
      lock.unlock();
      Result<std::vector<std::uint64_t>> ids = transports[at]->fetch(want);
      lock.lock();
      if (ids) {
        ++stats.calls;
        stats.fetched += ids->size();
        append(*ids);
        failures_in_row = 0;
        all_failing = false;
        pause = kFirstPause;
        filled.notify_all();
        continue;
      }
      ++stats.failures;
      last_errors[at] = ids.error().message();
      endpoint = (at + 1) % transports.size();
      if (++failures_in_row < transports.size()) continue;
      all_failing = true;
      failures_in_row = 0;
      filled.notify_all();
      wake.wait_for(lock, pause, [this] { return stopping; });
      pause = std::min(pause * 2, kLastPause);
    }
  }

  // Takes `n` IDs into `out` once the buffer holds them, waiting up to wait_ms.
  Result<void> take(std::uint64_t* out, std::size_t n) {
    std::unique_lock lock(mutex);
    if (count < n) {
      ++stats.waits;
      ++waiting;
      waiting_for = std::max(waiting_for, n);
      wake.notify_one();
      const bool filled_up = filled.wait_for(lock, std::chrono::milliseconds(options.wait_ms),
                                             [&] { return count >= n || (all_failing && count < n) || stopping; });
      --waiting;
      if (waiting == 0) waiting_for = 0;
      if (!filled_up || count < n) return unavailable(filled_up);
    }
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = ring[head];
      head = head + 1 == ring.size() ? 0 : head + 1;
    }
    count -= n;
    taken += n;
    stats.handed_out += n;
    if (count < low_water()) wake.notify_one();
    return {};
  }

  Error unavailable(bool every_endpoint_failed) const {
    std::string why;
    for (std::size_t i = 0; i < last_errors.size(); ++i) {
      if (last_errors[i].empty()) continue;
      why += (why.empty() ? "" : "; ") + last_errors[i];
    }
    if (every_endpoint_failed) return Error(Errc::unavailable, "no ID: the buffer is empty and every endpoint fails (" + why + ")");
    return Error(Errc::unavailable, "no ID: the buffer stayed empty for " + std::to_string(options.wait_ms) + " ms" +
                                        (why.empty() ? std::string() : " (last errors: " + why + ")"));
  }

  const ClientOptions options;
  SystemClock clock;
  std::vector<std::unique_ptr<detail::Transport>> transports;

  mutable std::mutex mutex;
  std::condition_variable wake;    // The refill thread waits on it.
  std::condition_variable filled;  // take() waits on it.
  std::vector<std::uint64_t> ring;
  std::size_t head = 0;
  std::size_t count = 0;
  std::uint64_t last = 0;  // The last ID put in the buffer.
  bool have_last = false;
  std::size_t waiting = 0;      // take() calls waiting.
  std::size_t waiting_for = 0;  // The most IDs one of them waits for.
  std::size_t endpoint = 0;
  bool filling = false;  // Between falling below the low-water mark and reaching the goal.
  bool all_failing = false;
  bool stopping = false;
  std::vector<std::string> last_errors;
  double rate_per_s = 0;
  std::uint64_t taken = 0;
  std::int64_t taken_since_ns = 0;
  Stats stats;
  std::thread refiller;
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Client>> Client::connect(const ClientOptions& options) {
  const auto bad = [](const std::string& why) { return Error(Errc::invalid_argument, why); };
  if (options.endpoints.empty()) return bad("give at least one endpoint: http://HOST:PORT or grpc://HOST:PORT");
  if (options.capacity < 1 || options.capacity > 10'000'000) return bad("capacity must be from 1 to 10,000,000");
  if (options.ahead_ms < 1 || options.ahead_ms > 3'600'000) return bad("ahead_ms must be from 1 to 3,600,000");
  if (options.max_batch < 1 || options.max_batch > 1'000'000) return bad("max_batch must be from 1 to 1,000,000");
  if (options.min_batch < 1) return bad("min_batch must be at least 1");
  if (options.wait_ms < 0 || options.timeout_ms < 1) return bad("wait_ms must be 0 or more and timeout_ms at least 1");
  auto impl = std::make_unique<Impl>(options);
  for (const std::string& text : options.endpoints) {
    Result<detail::Endpoint> endpoint = detail::parse_endpoint(text);
    if (!endpoint) return endpoint.error();
    Result<std::unique_ptr<detail::Transport>> transport = detail::make_transport(*endpoint, text, options.timeout_ms);
    if (!transport) return transport.error();
    impl->transports.push_back(std::move(*transport));
  }
  impl->taken_since_ns = impl->clock.boot_ns();
  Impl* raw = impl.get();
  impl->refiller = std::thread([raw] { raw->refill(); });
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::~Client() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->filled.notify_all();
  impl_->refiller.join();
}

Result<std::uint64_t> Client::next() {
  std::uint64_t id = 0;
  if (Result<void> taken = impl_->take(&id, 1); !taken) return taken.error();
  return id;
}

Result<void> Client::next(std::span<std::uint64_t> ids) {
  if (ids.size() > impl_->options.capacity) {
    return Error(Errc::invalid_argument, "asked for " + std::to_string(ids.size()) + " IDs at once; the buffer holds " +
                                             std::to_string(impl_->options.capacity));
  }
  if (ids.empty()) return {};
  return impl_->take(ids.data(), ids.size());
}

Client::Stats Client::stats() const {
  std::lock_guard lock(impl_->mutex);
  Stats s = impl_->stats;
  s.buffered = impl_->count;
  s.endpoint = impl_->endpoint;
  return s;
}

}  // namespace idforge
