// SPDX-License-Identifier: Apache-2.0
// idforge serve: the ID service on one machine (src/server, docs/api.md).
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "common.h"
#include "serve_cluster.h"
#include "serve_proof.h"
#include "idforge/clock.h"
#include "idforge/time_text.h"
#include "idforge/version.h"
#include "server/api.h"
#include "server/clock_health.h"
#ifdef IDFORGE_WITH_GRPC
#include "server/grpc_server.h"
#endif
#include "server/peer_clocks.h"
#include "server/http_server.h"
#include "server/id_service.h"
#include "server/log.h"
#include "server/metrics.h"

namespace idforge::cli {
namespace {

using detail::log;
using detail::LogLevel;

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string grpc_listen;  // Empty: no gRPC API.
  std::optional<std::string> data_dir;
  std::string layout = "twitter";
  std::optional<std::string> node;
  std::string nodes;  // "FIRST-LAST"; empty: every node of the layout.
  std::int64_t max_lead_ms = 1000;
  std::int64_t max_wait_ms = 10;
  std::optional<std::uint64_t> max_count;  // Default: kDefaultMaxCount, or what the lead allows.
  std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  detail::HttpLimits limits;
  std::int64_t drain_timeout_ms = 10'000;
  ClusterFlags cluster;
  ProofFlags proof;
};

constexpr std::uint64_t kDefaultMaxCount = 10'000;

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

// "HOST:PORT", with an IPv6 host in brackets ("[::1]:8080"); "localhost" is
// 127.0.0.1 and an empty host (":8080") is every IPv4 interface, 0.0.0.0.
// `flag` names the option in errors.
Result<Endpoint> parse_listen(const std::string& text, std::string_view flag = "--listen") {
  const std::size_t colon = text.rfind(':');
  const auto bad = [&text, flag](std::string why) {
    return Error(Errc::invalid_argument, std::string(flag) + " '" + text + "' " + why +
                                             "; give HOST:PORT such as 127.0.0.1:8080, localhost:8080, :8080 (every "
                                             "interface) or [::1]:8080");
  };
  if (colon == std::string::npos) return bad("has no port");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::optional<std::uint64_t> port = parse_whole(text.substr(colon + 1));
  if (!port || *port > 65535) return bad("has no port from 0 to 65535");
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  if (Result<void> valid = detail::HttpServer::check_address(host); !valid) return valid.error();
  return Endpoint{host, static_cast<std::uint16_t>(*port)};
}

// Blocks the signals the service answers in this thread and every thread it
// starts, so that sigwait() below receives them: SIGTERM and SIGINT drain and
// stop; SIGHUP and SIGUSR1 (sent by log rotators and supervisors, fatal by
// default) are logged and ignored.
sigset_t block_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

// SIGTERM or SIGINT if one is pending (blocked and not yet taken), else 0.
int stop_signal_pending() {
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  for (int s : {SIGTERM, SIGINT}) {
    if (sigismember(&pending, s) == 1) return s;
  }
  return 0;
}

// Descriptors kept free beside the connections: the listener, the event loops'
// own, the data directory's files, renewals and logs.
constexpr std::int64_t kReservedDescriptors = 64;

// Raises the soft descriptor limit toward the hard one so that max_connections
// fit; returns how many connections do fit (at most max_connections), or 0.
std::int64_t fit_descriptor_limit(std::int64_t max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return max_connections;
  const auto wanted = static_cast<rlim_t>(max_connections + kReservedDescriptors);
  if (limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  const auto fit = static_cast<std::int64_t>(limit.rlim_cur) - kReservedDescriptors;
  return std::clamp<std::int64_t>(fit, 0, max_connections);
}

int run_serve(const ServeOptions& options) {
  Result<Endpoint> endpoint = parse_listen(options.listen);
  if (!endpoint) return fail_to_start(endpoint.error());
  std::optional<Endpoint> grpc_endpoint;
  if (!options.grpc_listen.empty()) {
#ifdef IDFORGE_WITH_GRPC
    Result<Endpoint> parsed = parse_listen(options.grpc_listen, "--grpc-listen");
    if (!parsed) return fail_to_start(parsed.error());
    grpc_endpoint = *parsed;
#else
    return fail_to_start(Error(Errc::invalid_argument, "--grpc-listen: this idforge was built without the gRPC API "
                                                       "(IDFORGE_WITH_GRPC=OFF)"));
#endif
  }
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return fail_to_start(layout.error());
  Result<std::pair<std::uint64_t, std::uint64_t>> nodes = parse_nodes(options.nodes, *layout);
  if (!nodes) return fail_to_start(nodes.error());
  std::optional<std::uint64_t> node;
  if (options.node) {
    node = parse_whole(*options.node);
    if (!node || *node >> layout->node_bits() != 0) {
      return fail_to_start(Error(Errc::invalid_argument, "--node '" + *options.node + "' is outside layout " +
                                                    std::string(layout->name()) + "'s nodes: give a whole number from 0 to " +
                                                    std::to_string((1ULL << layout->node_bits()) - 1)));
    }
  }
  detail::IdServiceOptions service;
  service.generator.layout = *layout;
  service.generator.max_lead_ms = options.max_lead_ms;
  service.generator.max_wait_ms = options.max_wait_ms;
  service.wait_for_node = options.cluster.wait_for_node;
  // A stop signal ends a wait for a node (the signals are blocked, so one that
  // arrives stays pending until sigwait below).
  service.keep_waiting = [] { return stop_signal_pending() == 0; };
  const std::uint64_t max_batch = detail::IdService::max_batch(service.generator);
  service.max_count = options.max_count.value_or(std::min(kDefaultMaxCount, max_batch));
  if (service.max_count > max_batch) {
    return fail_to_start(Error(Errc::invalid_argument,
                      "--max-count " + std::to_string(service.max_count) + " exceeds the " + std::to_string(max_batch) +
                          " IDs that --max-lead-ms allows in one call; lower it or raise --max-lead-ms"));
  }

  detail::HttpLimits limits = options.limits;
  limits.max_connections = fit_descriptor_limit(options.limits.max_connections);
  if (limits.max_connections == 0) {
    return fail_to_start(Error(Errc::io, "the descriptor limit leaves no room for connections; raise it (ulimit -n, "
                                      "LimitNOFILE=) to at least " + std::to_string(kReservedDescriptors + 1)));
  }
  // Every thread from here on inherits the blocked signals, so that only sigwait() below takes them.
  const sigset_t signals = block_signals();
  Result<std::unique_ptr<detail::AuditLog>> audit = audit_log_from(options.proof);
  if (!audit) return fail_to_start(audit.error());
  service.generator.audit = audit->get();
  detail::ClockHealth clock_health(detail::read_kernel_discipline, std::chrono::seconds(5));
  if (Result<void> synced = check_synced_clock(options.proof, clock_health); !synced) return fail_to_start(synced.error());
  SystemClock clock;
  const detail::NodeChoice choice{node, nodes->first, nodes->second};
  const bool cluster = !options.cluster.etcd.empty();
  // An extension through etcd is a network round trip: requests never make one
  // (they wait up to --max-wait-ms for the renewer, then get 503).
  service.generator.extend_on_demand = !cluster;
  // The data directory: the nodes' files, or in cluster mode (where nodes and
  // marks live in etcd) this host's own record of the ID space.
  Result<DataDir> dir = resolve_data_dir(options.data_dir);
  if (!dir) return fail_to_start(dir.error());
  const std::optional<DataDir> data_dir = *dir;
  std::unique_ptr<detail::NodeSource> source;
  if (cluster) {
    Instance instance{.layout = *layout,
                      .node = node,
                      .nodes = options.nodes.empty() ? std::nullopt : std::optional(*nodes),
                      .listen = options.listen,
                      .host_dir = dir->path};
    Result<std::unique_ptr<detail::NodeSource>> etcd = etcd_source_from(options.cluster, instance, clock);
    if (!etcd) return fail_to_start(etcd.error());
    source = std::move(*etcd);
  } else {
    if (!options.cluster.datacenter.empty() || options.cluster.create_space) {
      return fail_to_start(Error(Errc::invalid_argument, "--datacenter and --create-space are for cluster mode: give "
                                                         "--etcd too (or IDFORGE_ETCD)"));
    }
    source = detail::file_source(dir->path, *layout, choice);
  }
  // The other instances' clocks (cluster mode), before this one takes a node; then each minute.
  const detail::NodeSource& peers_of = *source;  // Owned by the service from here on, outlived by the watch below.
  if (Result<std::vector<detail::Peer>> peers = peers_of.peers(); peers && !peers->empty()) {
    const detail::PeerClocks measured = detail::measure_peers(*peers, clock, std::chrono::seconds(2));
    clock_health.set_peers(measured);
    if (Result<void> skew = detail::check_peer_skew(measured, options.proof.max_peer_skew_ms); !skew) {
      return fail_to_start(skew.error());
    }
  }
  Result<std::unique_ptr<detail::IdService>> ids = detail::IdService::start(service, std::move(source), clock);
  if (!ids && service.wait_for_node && stop_signal_pending() != 0) {
    log(LogLevel::info, "stopped while waiting for a node", {{"signal", signal_name(stop_signal_pending())}});
    return kExitOk;
  }
  if (!ids) return fail_to_start(ids.error());
  std::optional<detail::PeerWatch> peer_watch;
  if (cluster) {
    peer_watch.emplace([&peers_of] { return peers_of.peers(); }, clock, clock_health, options.proof.max_peer_skew_ms,
                       std::chrono::minutes(1));
  }
  detail::Metrics metrics(options.threads);
  std::vector<const detail::Reporter*> reporters = {&clock_health};
  if (*audit) reporters.push_back(audit->get());
#ifdef IDFORGE_WITH_GRPC
  std::unique_ptr<detail::GrpcServer> grpc;
  if (grpc_endpoint) {
    Result<std::unique_ptr<detail::GrpcServer>> started =
        detail::GrpcServer::start(grpc_endpoint->host, grpc_endpoint->port, **ids, metrics, clock);
    if (!started) return fail_to_start(started.error());
    grpc = std::move(*started);
    reporters.push_back(grpc.get());
  }
  const nlohmann::json grpc_port = grpc ? nlohmann::json(grpc->port()) : nlohmann::json();
#else
  const nlohmann::json grpc_port;
#endif
  detail::Api api(**ids, metrics, clock, options.threads, reporters);
  Result<std::unique_ptr<detail::HttpServer>> server =
      detail::HttpServer::start(endpoint->host, endpoint->port, options.threads, limits, api, metrics);
  if (!server) return fail_to_start(server.error());
  log(LogLevel::info, "listening",
      {{"host", endpoint->host},
       {"port", (*server)->port()},
       {"grpc_port", grpc_port},
       {"source", cluster ? "etcd" : "files"},
       {"data_dir", data_dir ? nlohmann::json(data_dir->path) : nlohmann::json()},
       {"coordination", (*ids)->coordination()},
       {"layout", std::string(layout->name())},
       {"layout_spec", layout->spec()},
       {"node", (*ids)->node()},
       {"nodes", std::to_string(nodes->first) + "-" + std::to_string(nodes->second)},
       {"flake128_worker", (*ids)->flake128_worker()},
       {"mark", (*ids)->mark()},
       {"inherited_stamp", (*ids)->inherited_stamp() ? nlohmann::json(*(*ids)->inherited_stamp()) : nlohmann::json()},
       {"max_lead_ms", options.max_lead_ms},
       {"max_wait_ms", options.max_wait_ms},
       {"max_count", service.max_count},
       {"threads", options.threads},
       {"max_connections", limits.max_connections},
       {"max_header_bytes", limits.max_header_bytes},
       {"max_body_bytes", limits.max_body_bytes},
       {"header_timeout_ms", limits.header_timeout_ms},
       {"idle_timeout_ms", limits.idle_timeout_ms},
       {"write_timeout_ms", limits.write_timeout_ms},
       {"drain_timeout_ms", options.drain_timeout_ms},
       {"audit_log", options.proof.audit_log.empty() ? nlohmann::json() : nlohmann::json(options.proof.audit_log)},
       {"clock", clock_health.info()},
       {"pid", ::getpid()},
       {"version", IDFORGE_VERSION}});

  if (limits.max_connections < options.limits.max_connections) {
    log(LogLevel::warn, "descriptor limit",
        {{"note", "the hard limit on open files fits only " + std::to_string(limits.max_connections) +
                      " connections; more get 503. Raise it (LimitNOFILE=, ulimit -Hn) for --max-connections " +
                      std::to_string(options.limits.max_connections)}});
  }
  if (data_dir && data_dir->warning) log(LogLevel::warn, "data directory", {{"note", *data_dir->warning}});
  if (Result<detail::ClockDiscipline> d = clock_health.discipline(); !d || !d->synchronized) {
    log(LogLevel::warn, "clock",
        {{"note", d ? "the kernel reports the clock unsynchronised (no NTP or chrony disciplining it): IDs still never "
                      "repeat, but their instants and their order across machines are only as good as this clock"
                    : d.error().message()}});
  }
  for (const std::string& note : (*ids)->notes()) {
    log(LogLevel::warn, cluster ? "etcd" : "data directory", {{"note", note}});
  }

  int signal_number = 0;
  for (;;) {
    sigwait(&signals, &signal_number);
    if (signal_number == SIGTERM || signal_number == SIGINT) break;
    log(LogLevel::info, "signal ignored", {{"signal", signal_number == SIGHUP ? "SIGHUP" : "SIGUSR1"}});
  }
  log(LogLevel::info, "draining", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  api.set_draining();
  const std::int64_t drain_started_ns = clock.boot_ns();
#ifdef IDFORGE_WITH_GRPC
  if (grpc) grpc->begin_drain();  // Streams end at once; unary calls go on until the HTTP side has drained.
#endif
  const std::int64_t cut = (*server)->drain(std::chrono::milliseconds(options.drain_timeout_ms));
#ifdef IDFORGE_WITH_GRPC
  if (grpc) {
    const std::int64_t spent_ms = (clock.boot_ns() - drain_started_ns) / 1'000'000;
    grpc->drain(std::chrono::milliseconds(std::max<std::int64_t>(0, options.drain_timeout_ms - spent_ms)));
  }
#endif
  const GeneratorStats stats = (*ids)->stats();
  Result<void> stopped = (*ids)->stop();  // The generators' last ranges reach the audit log.
  if (*audit) {
    if (Result<void> closed = (*audit)->close(); !closed) {
      log(LogLevel::error, "audit log incomplete", {{"error", closed.error().message()}});
    }
  }
  if (!stopped) {
    log(LogLevel::error, "stopped without releasing the node cleanly",
        {{"error", stopped.error().message()}, {"node", (*ids)->node()}});
    return kExitFailure;
  }
  log(LogLevel::info, "stopped",
      {{"node", (*ids)->node()},
       {"issued", stats.issued},
       {"connections_cut", cut},
       {"final_reservation_written", (*ids)->mark()}});
  return kExitOk;
}

}  // namespace

int fail_to_start(const Error& error) {
  log(LogLevel::error, "cannot start", {{"error", error.message()}, {"code", to_string(error.code())}});
  return error.code() == Errc::invalid_argument ? kExitUsage : kExitFailure;
}

Command add_serve(CLI::App& root) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* app = root.add_subcommand("serve", "Run the ID service (HTTP, and gRPC if asked) on this machine");
  app->description(
      "Run the ID service: HTTP/1.1 with keep-alive, API version 1 (docs/api.md).\n\n"
      "  GET /v1/next                 one Snowflake ID        {\"id\":\"…\"}\n"
      "  GET /v1/next?count=100       a batch                 {\"ids\":[\"…\",…]}\n"
      "  GET /v1/next?format=ulid     ulid, uuidv4, uuidv7, objectid, ksuid, flake128\n"
      "  GET /v1/next?encoding=hex    Snowflake text form: dec, hex, base62, base32, base58\n"
      "  GET /v1/decode/{id}          the object of 'idforge decode --json'\n"
      "  GET /v1/info                 layout, node, reservation, lead, capacity\n"
      "  GET /metrics                 Prometheus text\n"
      "  GET /healthz, /readyz        alive; holding a node and a reservation\n"
      "With 'Accept: text/plain', /v1/next answers one ID per line.\n\n"
      "With --grpc-listen, the same IDs over gRPC on a second port (docs/grpc.md):\n"
      "idforge.v1.Ids with Next, Stream (batches until the client cancels), Decode\n"
      "and Info, the standard health service and server reflection.\n\n"
      "The node is held in the data directory exactly as 'idforge gen' holds it: the\n"
      "node given with --node, or the lowest free one in --nodes, so several services\n"
      "(and gen runs) on one host get different nodes with nothing to configure. A\n"
      "restart, even with the clock stepped back, starts after the last reserved\n"
      "instant. SIGTERM or SIGINT drains: in-flight requests are answered, then the\n"
      "final reservation is written and the node released.\n\n"
      "Cluster mode (--etcd URL,…): instances on many machines lease their nodes from\n"
      "etcd (docs/cluster.md). Each takes the node given, or the lowest free one of\n"
      "--nodes, with a transaction that also reads the node's mark, and starts after\n"
      "it whatever its clock says; it reserves time through transactions that check\n"
      "it still owns the node, and stops issuing before its lease could expire\n"
      "(503 until it has taken a node again). The data directory is not used.\n\n"
      "Every option can also be set by the environment variable named after it.\n"
      "Logs are JSON lines on standard error; the first says what was started.\n");
  app->add_option("--listen", options->listen, "HOST:PORT to listen on (port 0 picks a free port)")
      ->envname("IDFORGE_LISTEN")
      ->capture_default_str();
  app->add_option("--grpc-listen", options->grpc_listen,
                  "HOST:PORT for the gRPC API, idforge.v1.Ids (docs/grpc.md); Default: off, so that no port opens "
                  "unasked (try 127.0.0.1:9090)")
      ->envname("IDFORGE_GRPC_LISTEN");
  app->add_option("--data-dir", options->data_dir, data_dir_option_help());
  app->add_option("--layout", options->layout, layout_option_help())->envname("IDFORGE_LAYOUT")->capture_default_str();
  app->add_option("--node", options->node, "Hold this node number (twitter: datacenter*32+worker); Default: pick")
      ->envname("IDFORGE_NODE");
  app->add_option("--nodes", options->nodes, "FIRST-LAST: pick the lowest free node in this range; Default: all")
      ->envname("IDFORGE_NODES");
  app->add_option("--max-lead-ms", options->max_lead_ms,
                  "How far stamps may run ahead of the clock in bursts or after a rollback")
      ->envname("IDFORGE_MAX_LEAD_MS")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{86'400'000}));
  app->add_option("--max-wait-ms", options->max_wait_ms,
                  "How long a request may wait for the clock before it gets 503 (it holds its event loop)")
      ->envname("IDFORGE_MAX_WAIT_MS")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1000}));
  app->add_option("--max-count", options->max_count,
                  "The largest ?count= a request may ask for; Default: 10000, or what --max-lead-ms allows in one "
                  "call if less (4096 for twitter with --max-lead-ms 0)")
      ->envname("IDFORGE_MAX_COUNT")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000}));
  app->add_option("--threads", options->threads, "Event loops (threads); Default: one per core")
      ->envname("IDFORGE_THREADS")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
  app->add_option("--max-connections", options->limits.max_connections,
                  "Open connections; past it new ones get 503 and are closed")
      ->envname("IDFORGE_MAX_CONNECTIONS")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000}));
  app->add_option("--max-header-bytes", options->limits.max_header_bytes,
                  "Request line and headers; larger gets 431")
      ->envname("IDFORGE_MAX_HEADER_BYTES")
      ->capture_default_str()
      ->check(CLI::Range(std::uint32_t{256}, std::uint32_t{1 << 20}));
  app->add_option("--max-body-bytes", options->limits.max_body_bytes, "Request body (ignored); larger gets 413")
      ->envname("IDFORGE_MAX_BODY_BYTES")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1 << 20}));
  app->add_option("--header-timeout-ms", options->limits.header_timeout_ms,
                  "A request must arrive whole within this from its first byte; else 408")
      ->envname("IDFORGE_HEADER_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{100}, std::int64_t{3'600'000}));
  app->add_option("--idle-timeout-ms", options->limits.idle_timeout_ms, "An idle keep-alive connection is closed after this")
      ->envname("IDFORGE_IDLE_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{100}, std::int64_t{86'400'000}));
  app->add_option("--write-timeout-ms", options->limits.write_timeout_ms,
                  "A client that does not read its response for this long is cut off")
      ->envname("IDFORGE_WRITE_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{100}, std::int64_t{3'600'000}));
  app->add_option("--drain-timeout-ms", options->drain_timeout_ms,
                  "On SIGTERM/SIGINT, how long in-flight requests may take before connections are cut")
      ->envname("IDFORGE_DRAIN_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{3'600'000}));
  add_cluster_flags(*app, options->cluster);
  add_proof_flags(*app, options->proof);
  app->footer(
      "Exit codes: 0 stopped cleanly after a signal; 1 could not start (node held, address in\n"
      "use, data directory, etcd unreachable) or could not release cleanly; 2 bad flags\n"
      "(and etcd credentials refused).");
  return {app, [options] { return run_serve(*options); }};
}

}  // namespace idforge::cli
