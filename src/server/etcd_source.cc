// SPDX-License-Identifier: Apache-2.0
#include "server/etcd_source.h"

#include <array>
#include <atomic>
#include <set>
#include <string>

#include "server/log.h"
#include "server/metrics.h"

namespace idforge::detail {
namespace {

// A peer from its holder record ({"host":…,"pid":…,"listen":"HOST:PORT"}): a
// listen address on every interface is reached through the holder's host name.
Peer peer_of(const nlohmann::json& holder) {
  const std::string host = holder.value("host", "");
  const std::string listen = holder.value("listen", "");
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return {host, 0};
  std::string address = listen.substr(0, colon);
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') address = address.substr(1, address.size() - 2);
  if (address.empty() || address == "0.0.0.0" || address == "::") address = host;
  if (address == "localhost") address = "127.0.0.1";
  const std::string port = listen.substr(colon + 1);
  const bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
  const unsigned long number = digits ? std::stoul(port) : 0;
  return {address, static_cast<std::uint16_t>(number <= 65535 ? number : 0)};
}

constexpr std::array<std::string_view, 6> kErrorKinds = {"unavailable", "timeout", "auth", "not_found", "rejected",
                                                          "other"};
constexpr std::array<double, 11> kKeepaliveBoundsS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0};

// What the etcd source counts, shared with the observers it hands out.
struct Counters {
  std::array<std::atomic<std::uint64_t>, kKeepaliveBoundsS.size() + 1> keepalive_buckets{};
  std::atomic<std::uint64_t> keepalive_sum_ns{0};
  std::array<std::atomic<std::uint64_t>, kErrorKinds.size()> errors{};
  std::atomic<std::uint64_t> lease_losses{0};
  std::atomic<std::uint64_t> retakes{0};
};


EtcdObserver observe(const std::shared_ptr<Counters>& counters) {
  EtcdObserver o;
  o.keepalive = [counters](std::int64_t round_trip_ns) {
    const double s = static_cast<double>(round_trip_ns) / 1e9;
    std::size_t b = 0;
    while (b < kKeepaliveBoundsS.size() && s > kKeepaliveBoundsS[b]) ++b;
    counters->keepalive_buckets[b].fetch_add(1, std::memory_order_relaxed);
    counters->keepalive_sum_ns.fetch_add(static_cast<std::uint64_t>(round_trip_ns), std::memory_order_relaxed);
  };
  o.error = [counters](std::string_view kind, const Error&) {
    for (std::size_t i = 0; i < kErrorKinds.size(); ++i) {
      if (kErrorKinds[i] == kind) counters->errors[i].fetch_add(1, std::memory_order_relaxed);
    }
  };
  o.lease_lost = [counters](std::int64_t lease, const Error& why) {
    counters->lease_losses.fetch_add(1, std::memory_order_relaxed);
    log(LogLevel::error, "etcd lease lost", {{"lease", EtcdLease::hex(lease)}, {"error", why.message()}});
  };
  return o;
}

class EtcdHold final : public NodeHold {
 public:
  EtcdHold(std::shared_ptr<EtcdLease> lease, std::unique_ptr<EtcdReservation> node,
           std::unique_ptr<EtcdReservation> worker, const EtcdSourceOptions& options)
      : lease_(std::move(lease)), node_(std::move(node)), worker_(std::move(worker)), options_(options) {}

  Reservation& node() override { return *node_; }
  Reservation& worker() override { return *worker_; }
  std::vector<std::string> notes() const override { return hold_notes(node_->notes(), worker_->notes()); }
  std::string mark() const override { return node_->mark_key(); }
  bool lapsed() override { return lease_->lapsed(); }
  std::optional<Error> lapse_error() override {
    std::optional<Error> why = lease_->lost_error();
    if (!why && lease_->lapsed()) {
      why = Error(Errc::lease_lost, "etcd lease " + EtcdLease::hex(lease_->id()) + " was not confirmed before its deadline");
    }
    return why;
  }
  nlohmann::ordered_json info() override {
    const EtcdLease::State state = lease_->state();
    const char* state_name = state == EtcdLease::State::held ? (lease_->lapsed() ? "lapsed" : "held")
                             : state == EtcdLease::State::lost ? "lost"
                                                               : "revoked";
    const std::int64_t until = lease_->ms_until_fence();
    return {{"source", "etcd"},
            {"endpoints", options_.etcd.endpoints},
            {"prefix", options_.prefix},
            {"mark", mark()},
            {"lease_id", EtcdLease::hex(lease_->id())},
            {"lease_ttl_s", lease_->ttl_s()},
            {"lease_state", state_name},
            {"ms_until_fence", until > 0 ? nlohmann::ordered_json(until) : nlohmann::ordered_json(0)}};
  }
  Result<void> end() override { return lease_->revoke(); }

  EtcdLease& lease() { return *lease_; }

 private:
  std::shared_ptr<EtcdLease> lease_;
  std::unique_ptr<EtcdReservation> node_;
  std::unique_ptr<EtcdReservation> worker_;
  const EtcdSourceOptions& options_;
};

class EtcdSource final : public NodeSource {
 public:
  EtcdSource(EtcdSourceOptions options, Clock& clock, std::shared_ptr<EtcdClient> client,
             std::shared_ptr<Counters> counters)
      : options_(std::move(options)), clock_(clock), client_(std::move(client)), counters_(std::move(counters)) {}

  std::string name() const override { return "etcd"; }
  bool retakes() const override { return true; }
  void count_retake() override { counters_->retakes.fetch_add(1, std::memory_order_relaxed); }

  Result<std::vector<Peer>> peers() const override {
    Result<EtcdNodes> listed = list_etcd_nodes(*client_, options_.prefix);
    if (!listed) return listed.error();
    const nlohmann::json self = nlohmann::json::parse(options_.holder, nullptr, false);
    std::vector<Peer> peers;
    std::set<std::string> seen = {options_.holder};  // One instance holds a node and a worker: one record.
    for (const EtcdNodeRecord& node : listed->nodes) {
      if (!node.holder || !seen.insert(*node.holder).second) continue;
      const nlohmann::json holder = nlohmann::json::parse(*node.holder, nullptr, false);
      if (!holder.is_object()) continue;
      if (self.is_object() && holder.value("host", "") == self.value("host", "") &&
          holder.value("pid", 0) == self.value("pid", 0)) {
        continue;
      }
      peers.push_back(peer_of(holder));
    }
    return peers;
  }

  Result<std::unique_ptr<NodeHold>> take() override {
    Result<std::shared_ptr<EtcdLease>> lease = EtcdLease::grant(client_, options_.lease_ttl_s, clock_, observe(counters_));
    if (!lease) return lease.error();
    const NodeChoice& c = options_.choice;
    auto node = EtcdReservation::acquire_any(*lease, options_.prefix, options_.layout, c.node.value_or(c.first),
                                             c.node.value_or(c.last), options_.holder);
    if (!node) return give_back(**lease, node.error());
    auto worker = EtcdReservation::acquire_any(*lease, options_.prefix, NodeSpace::flake128(), 0, kAutoWorkers - 1,
                                               options_.holder);
    if (!worker) return give_back(**lease, worker.error());
    log(LogLevel::info, "etcd lease granted",
        {{"lease", EtcdLease::hex((*lease)->id())}, {"ttl_s", (*lease)->ttl_s()}, {"node", (*node)->node()},
         {"flake128_worker", (*worker)->node()}, {"mark", (*node)->mark_key()}});
    return std::unique_ptr<NodeHold>(new EtcdHold(std::move(*lease), std::move(*node), std::move(*worker), options_));
  }

  void render_metrics(Buffer& out, NodeHold& hold) const override {
    auto& etcd = static_cast<EtcdHold&>(hold);
    const bool held = etcd.lease().state() == EtcdLease::State::held && !etcd.lapsed();
    append_family(out, "idforge_etcd_lease_held", "1 while this instance's etcd lease is held and confirmed, else 0.",
                  held ? 1 : 0);
    append_family(out, "idforge_etcd_fence_seconds",
                  "Seconds until this instance stops issuing unless a keepalive is answered (0 once passed).",
                  static_cast<double>(std::max<std::int64_t>(0, etcd.lease().ms_until_fence())) / 1000);
    append_family(out, "idforge_etcd_lease_losses_total", "etcd leases this process lost.",
                  static_cast<double>(counters_->lease_losses.load(std::memory_order_relaxed)), "counter");
    append_family(out, "idforge_etcd_reacquisitions_total", "Nodes taken again through a new lease after one was lost.",
                  static_cast<double>(counters_->retakes.load(std::memory_order_relaxed)), "counter");
    out.append("# HELP idforge_etcd_errors_total Failed calls to etcd, by kind.\n"
               "# TYPE idforge_etcd_errors_total counter\n");
    for (std::size_t i = 0; i < kErrorKinds.size(); ++i) {
      out.append("idforge_etcd_errors_total{kind=\"");
      out.append(kErrorKinds[i]);
      out.append("\"} ");
      out.append(std::to_string(counters_->errors[i].load(std::memory_order_relaxed)));
      out.append("\n");
    }
    out.append("# HELP idforge_etcd_keepalive_seconds Round trips of answered lease keepalives.\n"
               "# TYPE idforge_etcd_keepalive_seconds histogram\n");
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= kKeepaliveBoundsS.size(); ++b) {
      cumulative += counters_->keepalive_buckets[b].load(std::memory_order_relaxed);
      out.append("idforge_etcd_keepalive_seconds_bucket{le=\"");
      out.append(b < kKeepaliveBoundsS.size() ? shortest(kKeepaliveBoundsS[b]) : std::string("+Inf"));
      out.append("\"} ");
      out.append(std::to_string(cumulative));
      out.append("\n");
    }
    out.append("idforge_etcd_keepalive_seconds_sum ");
    out.append(shortest(static_cast<double>(counters_->keepalive_sum_ns.load(std::memory_order_relaxed)) / 1e9));
    out.append("\nidforge_etcd_keepalive_seconds_count ");
    out.append(std::to_string(cumulative));
    out.append("\n");
  }

 private:
  // Revokes a lease whose node or worker could not be taken, and returns `error`.
  static Error give_back(EtcdLease& lease, Error error) {
    (void)lease.revoke();
    return error;
  }

  EtcdSourceOptions options_;
  Clock& clock_;
  std::shared_ptr<EtcdClient> client_;
  std::shared_ptr<Counters> counters_;
};

}  // namespace

Result<std::unique_ptr<NodeSource>> etcd_source(EtcdSourceOptions options, Clock& clock) {
  if (Result<void> valid = check_etcd_prefix(options.prefix); !valid) return valid.error();
  if (options.lease_ttl_s < 5 || options.lease_ttl_s > 300) {
    return Error(Errc::invalid_argument, "--lease-ttl-s " + std::to_string(options.lease_ttl_s) +
                                             " is outside 5 to 300 seconds");
  }
  route_grpc_log([](std::string_view message) { log(LogLevel::warn, "grpc", {{"note", std::string(message)}}); });
  auto counters = std::make_shared<Counters>();
  Result<std::shared_ptr<EtcdClient>> client = EtcdClient::connect(options.etcd, observe(counters));
  if (!client) return client.error();
  return std::unique_ptr<NodeSource>(new EtcdSource(std::move(options), clock, std::move(*client), std::move(counters)));
}

}  // namespace idforge::detail
