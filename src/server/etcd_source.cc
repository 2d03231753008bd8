// SPDX-License-Identifier: Apache-2.0
#include "server/etcd_source.h"

#include <array>
#include <atomic>
#include <mutex>
#include <set>
#include <string>

#include "idforge/etcd_space.h"
#include "idforge/time_text.h"

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

constexpr std::array<std::string_view, 7> kErrorKinds = {"unavailable", "timeout",         "auth", "not_found",
                                                          "rejected",    "foreign_cluster", "other"};
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

// What the space's record says of itself, for /v1/info.
nlohmann::ordered_json space_info(const EtcdSpace& space) {
  const EtcdSpaceRecord& r = space.record();
  return {{"id", r.id},
          {"geometry", r.geometry},
          {"nodes", std::to_string(r.first_node) + "-" + std::to_string(r.last_node)},
          {"datacenter", r.datacenter.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.datacenter)},
          {"cluster_id", etcd_id_hex(r.cluster_id)},
          {"incarnation", r.incarnation},
          {"created", format_utc_ms(r.created_unix_ms)},
          {"recovered", r.recovered_unix_ms != 0 ? nlohmann::ordered_json(format_utc_ms(r.recovered_unix_ms))
                                                 : nlohmann::ordered_json()}};
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
  bool lapsed() override { return lease_->lapsed() || node_->space().refusal().has_value(); }
  std::optional<Error> lapse_error() override {
    if (std::optional<Error> refused = node_->space().refusal()) return refused;
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
            {"space", space_info(node_->space())},
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

  std::optional<Error> refusal() const override {
    std::lock_guard lock(mutex_);
    if (refusal_) return refusal_;
    return space_ ? space_->refusal() : std::nullopt;
  }

  Result<std::vector<Peer>> peers() const override {
    std::shared_ptr<EtcdClient> client;
    {
      std::lock_guard lock(mutex_);
      client = client_;
    }
    Result<EtcdNodes> listed = list_etcd_nodes(*client, options_.prefix);
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
    Result<std::shared_ptr<EtcdSpace>> space = open_space();
    if (!space) return space.error();
    Result<std::shared_ptr<EtcdLease>> lease = EtcdLease::grant((*space)->client_ptr(), options_.lease_ttl_s, clock_,
                                                                observe(counters_));
    if (!lease) return lease.error();
    const std::uint64_t first = options_.node.value_or((*space)->first());
    const std::uint64_t last = options_.node.value_or((*space)->last());
    auto node = EtcdReservation::acquire_any(*lease, *space, options_.layout, first, last, options_.holder);
    if (!node) return give_back(**lease, node.error());
    auto worker = EtcdReservation::acquire_any(*lease, *space, NodeSpace::flake128(), 0, kAutoWorkers - 1,
                                               options_.holder);
    if (!worker) return give_back(**lease, worker.error());
    log(LogLevel::info, "etcd lease granted",
        {{"lease", EtcdLease::hex((*lease)->id())}, {"ttl_s", (*lease)->ttl_s()}, {"node", (*node)->node()},
         {"flake128_worker", (*worker)->node()}, {"mark", (*node)->mark_key()}, {"space", (*space)->record().id}});
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
    EtcdSpace::Refusal reason = EtcdSpace::Refusal::none;
    std::uint64_t host_failures = 0;
    {
      std::lock_guard lock(mutex_);
      if (space_) {
        reason = space_->refusal_reason();
        host_failures = space_->host_record_failures();
      }
      if (refusal_) reason = refusal_reason_;
    }
    out.append("# HELP idforge_etcd_store_refused 1 while this instance refuses the etcd store, by why: the ID space "
               "missing, gone or damaged, another cluster, a revision gone back, a changed record, a missing mark or "
               "one below this host's record.\n# TYPE idforge_etcd_store_refused gauge\n");
    for (EtcdSpace::Refusal r : EtcdSpace::kRefusals) {
      out.append("idforge_etcd_store_refused{reason=\"");
      out.append(EtcdSpace::to_string(r));
      out.append(r == reason ? "\"} 1\n" : "\"} 0\n");
    }
    append_family(out, "idforge_etcd_host_record_failures_total",
                  "Writes of this host's own record of the ID space that failed (evidence lost, not uniqueness).",
                  static_cast<double>(host_failures), "counter");
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

  // The space, opened again for each take: what this process saw of it before
  // carries over, so a refusal stays until a recovery.
  Result<std::shared_ptr<EtcdSpace>> open_space() {
    std::shared_ptr<EtcdClient> client;
    std::shared_ptr<EtcdSpace> previous;
    {
      std::lock_guard lock(mutex_);
      client = client_;
      previous = space_;
    }
    if (client->cluster_replaced()) {
      // Every member answers as another cluster (replaced, or restored with a new
      // token): a new client learns it, and the space's record decides.
      Result<std::shared_ptr<EtcdClient>> fresh = EtcdClient::connect(options_.etcd, observe(counters_));
      if (!fresh) return fresh.error();
      client = std::move(*fresh);
      std::lock_guard lock(mutex_);
      client_ = client;
    }
    EtcdSpaceCheck check{.prefix = options_.prefix,
                         .layout = options_.layout,
                         .nodes = options_.node ? std::optional(std::pair{*options_.node, *options_.node}) : options_.nodes,
                         .datacenter = options_.datacenter,
                         .host_dir = options_.host_dir,
                         .create_if_missing = options_.create_space};
    EtcdSpace::Opened opened = EtcdSpace::open(client, check, clock_, previous.get());
    Result<std::shared_ptr<EtcdSpace>>& space = opened.space;
    std::lock_guard lock(mutex_);
    if (!space) {
      // A store refused is shown as such (readiness, metrics) until a take succeeds.
      if (opened.refused != EtcdSpace::Refusal::none) {
        // Logged once per reason while serving; at start, the refusal is the start's own error.
        if (previous && (!refusal_ || refusal_->message() != space.error().message())) {
          log(LogLevel::error, "etcd store refused",
              {{"reason", EtcdSpace::to_string(opened.refused)}, {"error", space.error().message()}});
        }
        refusal_ = space.error();
        refusal_reason_ = opened.refused;
      }
      return space.error();
    }
    if (refusal_) log(LogLevel::info, "etcd store accepted", {{"space", (*space)->record().id}});
    refusal_.reset();
    refusal_reason_ = EtcdSpace::Refusal::none;
    for (const std::string& note : (*space)->notes()) log(LogLevel::warn, "etcd", {{"note", note}});
    space_ = *space;
    return space;
  }

  EtcdSourceOptions options_;
  Clock& clock_;
  mutable std::mutex mutex_;
  std::shared_ptr<EtcdClient> client_;  // Guarded by mutex_: replaced when the cluster at the endpoints is.
  std::shared_ptr<EtcdSpace> space_;    // Guarded by mutex_: the space of the last take.
  std::optional<Error> refusal_;        // Guarded by mutex_: why the last open was refused, until one succeeds.
  EtcdSpace::Refusal refusal_reason_ = EtcdSpace::Refusal::none;  // Guarded by mutex_.
  std::shared_ptr<Counters> counters_;
};

}  // namespace

Result<std::unique_ptr<NodeSource>> etcd_source(EtcdSourceOptions options, Clock& clock) {
  if (Result<void> valid = check_etcd_prefix(options.prefix); !valid) return valid.error();
  if (!options.datacenter.empty()) {
    if (Result<void> valid = check_etcd_datacenter(options.datacenter); !valid) {
      return Error(Errc::invalid_argument, "--" + valid.error().message());
    }
  }
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
