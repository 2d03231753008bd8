// SPDX-License-Identifier: Apache-2.0
#include "nodes_space.h"

#include <nlohmann/json.hpp>

#include "common.h"
#include "idforge/clock.h"
#include "idforge/file_reservation.h"
#include "idforge/time_text.h"
#include "serve_cluster.h"
#if IDFORGE_WITH_ETCD
#include "idforge/etcd_space.h"
#endif

namespace idforge::cli {
namespace {

using json = nlohmann::ordered_json;

// What init and recover are given.
struct SpaceOptions {
  ClusterFlags cluster;
  std::string layout = "twitter";
  std::string nodes;  // Empty: every node of the layout.
  std::string registry;
  std::string registry_prefix = kDefaultRegistryPrefix;
  std::string issued_until;
  std::int64_t margin_ms = 12'000;
  std::string space_id;
  std::optional<std::string> data_dir;
  bool json = false;
};

// Serve's defaults: --max-lead-ms 1000, --max-peer-skew-ms 10000, and the
// reservation's 1000 ms ahead of the clock.
constexpr const char* kMarginHelp =
    "How far past this machine's clock every mark is raised, at least: enough for any instance's lead, its clock's "
    "skew from this one and its reservation ahead of its clock (serve's defaults: 1000 + 10000 + 1000 ms)";

#if IDFORGE_WITH_ETCD
Result<EtcdSpaceSpec> spec_of(const SpaceOptions& options) {
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return layout.error();
  EtcdSpaceSpec spec;
  spec.prefix = options.cluster.prefix;
  spec.layout = *layout;
  spec.datacenter = options.cluster.datacenter;
  Result<std::pair<std::uint64_t, std::uint64_t>> nodes = parse_nodes(options.nodes, *layout);  // "": every node.
  if (!nodes) return nodes.error();
  spec.nodes = *nodes;
  return spec;
}

}  // namespace

json space_json(const EtcdSpaceRecord& r) {
  return {{"id", r.id},
          {"geometry", r.geometry},
          {"layout", r.layout},
          {"nodes", std::to_string(r.first_node) + "-" + std::to_string(r.last_node)},
          {"datacenter", r.datacenter.empty() ? json() : json(r.datacenter)},
          {"cluster_id", etcd_id_hex(r.cluster_id)},
          {"created", format_utc_ms(r.created_unix_ms)},
          {"incarnation", r.incarnation},
          {"recovered", r.recovered_unix_ms != 0 ? json(format_utc_ms(r.recovered_unix_ms)) : json()},
          {"state", r.recovering ? "recovering" : "ready"}};
}

namespace {

std::string record_line(const EtcdSpaceRecord& r) {
  return "ID space " + r.id + ": " + r.geometry + ", nodes " + std::to_string(r.first_node) + "-" +
         std::to_string(r.last_node) + (r.datacenter.empty() ? std::string() : ", datacenter " + r.datacenter) +
         ", on etcd cluster " + etcd_id_hex(r.cluster_id);
}

int run_init(const SpaceOptions& options) {
  if (options.cluster.etcd.empty()) {
    return fail(Error(Errc::invalid_argument, "give --etcd URL[,URL…] (or IDFORGE_ETCD): the etcd cluster that will "
                                              "keep the ID space"));
  }
  if (!options.registry.empty() && options.cluster.datacenter.empty()) {
    return fail(Error(Errc::invalid_argument, "--registry claims a datacenter's node range: give --datacenter NAME"));
  }
  Result<EtcdSpaceSpec> spec = spec_of(options);
  if (!spec) return fail(spec.error());
  Result<std::shared_ptr<EtcdClient>> client = connect_etcd(options.cluster);
  if (!client) return fail(client.error());
  // The registry is asked first, so that an overlapping range is refused before
  // anything is made; the claim itself is a compare-and-swap after.
  std::shared_ptr<EtcdClient> registry;
  RegistryEntry entry;
  if (!options.registry.empty()) {
    Result<std::shared_ptr<EtcdClient>> r = connect_etcd(options.cluster, options.registry);
    if (!r) return fail(r.error());
    registry = *r;
    entry.datacenter = spec->datacenter;
    entry.first_node = spec->nodes->first;
    entry.last_node = spec->nodes->second;
    entry.prefix = spec->prefix;
    entry.endpoints = options.cluster.etcd;
    Result<Registry> known = read_registry(*registry, options.registry_prefix);
    if (!known) return fail(known.error());
    if (Result<void> free = check_registry(*known, NodeSpace(spec->layout).name, entry); !free) return fail(free.error());
  }
  SystemClock clock;
  Result<EtcdSpaceRecord> made = EtcdSpace::create(**client, *spec, clock);
  if (!made) return fail(made.error());
  if (registry) {
    entry.space_id = made->id;
    entry.created_unix_ms = made->created_unix_ms;
    if (Result<void> claimed = claim_in_registry(*registry, options.registry_prefix, made->geometry, entry); !claimed) {
      return fail(Error(claimed.error().code(),
                        claimed.error().message() + "; the space " + made->id + " was made but is not registered: "
                        "delete it (etcdctl del " + spec->prefix + "/space) and make it again with a free range"));
    }
  }
  Output out;
  if (options.json) {
    out.append(json{{"made", space_json(*made)},
                    {"prefix", spec->prefix},
                    {"registered", registry ? json(options.registry_prefix) : json()}}
                   .dump() +
               "\n");
  } else {
    out.append("made " + record_line(*made) + ", under " + spec->prefix + "\n");
    out.append("every node of it and flake-128 workers 0-" + std::to_string(kEtcdFlake128Workers - 1) +
               " have a mark; instances started with --etcd " + options.cluster.etcd + " --etcd-prefix " +
               spec->prefix + (made->datacenter.empty() ? std::string() : " --datacenter " + made->datacenter) +
               " take nodes from it\n");
    if (registry) out.append("registered datacenter " + made->datacenter + " in " + options.registry + "\n");
  }
  return out.flush() ? kExitOk : kExitFailure;
}

int recover_etcd(const SpaceOptions& options, std::optional<std::int64_t> until_ms) {
  Result<EtcdSpaceSpec> spec = spec_of(options);
  if (!spec) return fail(spec.error());
  Result<std::shared_ptr<EtcdClient>> client = connect_etcd(options.cluster);
  if (!client) return fail(client.error());
  SystemClock clock;
  const std::optional<std::string> id = options.space_id.empty() ? std::nullopt : std::optional(options.space_id);
  Result<EtcdSpace::Recovery> done = EtcdSpace::recover(**client, *spec, until_ms, options.margin_ms, id, clock);
  if (!done) return fail(done.error());
  Output out;
  if (options.json) {
    out.append(json{{"recovered", space_json(done->record)},
                    {"prefix", spec->prefix},
                    {"raised_to", format_utc_ms(done->raised_to_unix_ms)},
                    {"marks_written", done->marks}}
                   .dump() +
               "\n");
  } else {
    out.append("recovered " + record_line(done->record) + ", under " + spec->prefix + ", incarnation " +
               std::to_string(done->record.incarnation) + "\n");
    out.append("every mark is at least " + format_utc_ms(done->raised_to_unix_ms) + " (" + std::to_string(done->marks) +
               " written) and every node is free: instances take nodes again, each starting after that instant\n");
  }
  return out.flush() ? kExitOk : kExitFailure;
}
#endif

int recover_files(const SpaceOptions& options, std::optional<std::int64_t> until_ms) {
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return fail(layout.error());
  Result<DataDir> dir = resolve_data_dir(options.data_dir);
  if (!dir) return fail(dir.error());
  if (Result<void> in_time = check_recovery_time(*layout, until_ms); !in_time) return fail(in_time.error());
  SystemClock clock;
  const std::int64_t at_ms = std::max(until_ms.value_or(0), clock.wall_ns() / 1'000'000 + options.margin_ms);
  Output out;
  json raised = json::object();
  for (const NodeSpace& space : {NodeSpace(*layout), NodeSpace::flake128()}) {
    if (!std::filesystem::is_directory(FileReservation::space_dir(dir->path, space))) continue;
    const std::int64_t stamp = space.is_snowflake()
                                   ? std::clamp<std::int64_t>(layout->tick_at_unix_ms(at_ms), 0, layout->max_tick())
                                   : at_ms;
    Result<std::uint64_t> nodes = FileReservation::recover(dir->path, space, stamp);
    if (!nodes) return fail(nodes.error());
    raised[space.name] = *nodes;
    if (!options.json) {
      out.append("raised " + std::to_string(*nodes) + " nodes of " + space.name + " in " + dir->path + " to at least " +
                 format_utc_ms(at_ms) + "\n");
    }
  }
  if (raised.empty()) {
    return fail(Error(Errc::io, "the data directory " + dir->path + " holds no ID space of layout " + options.layout +
                                " (nor flake-128 workers): nothing to recover"));
  }
  if (options.json) out.append(json{{"data_dir", dir->path}, {"raised_to", format_utc_ms(at_ms)}, {"nodes", raised}}.dump() + "\n");
  return out.flush() ? kExitOk : kExitFailure;
}

int run_recover(const SpaceOptions& options) {
  std::optional<std::int64_t> until_ms;
  if (!options.issued_until.empty()) {
    Result<std::int64_t> at = parse_instant(options.issued_until);
    if (!at) return fail(Error(Errc::invalid_argument, "--issued-until: " + at.error().message()));
    until_ms = *at;
  }
  if (options.margin_ms < 0) return fail(Error(Errc::invalid_argument, "--margin-ms must not be negative"));
  if (options.cluster.etcd.empty()) return recover_files(options, until_ms);
#if IDFORGE_WITH_ETCD
  return recover_etcd(options, until_ms);
#else
  return fail(Error(Errc::invalid_argument, "this idforge was built without cluster mode (IDFORGE_WITH_ETCD=OFF)"));
#endif
}

#if !IDFORGE_WITH_ETCD
int run_init(const SpaceOptions&) {
  return fail(Error(Errc::invalid_argument, "this idforge was built without cluster mode (IDFORGE_WITH_ETCD=OFF)"));
}
#endif

void add_shape_flags(CLI::App& app, SpaceOptions& options) {
  app.add_option("--layout", options.layout, layout_option_help())->capture_default_str();
  app.add_option("--nodes", options.nodes, "FIRST-LAST: the nodes the space owns; Default: every node of the layout");
  app.add_flag("--json", options.json, "One JSON object instead of lines");
}

}  // namespace

SpaceCommands add_space_commands(CLI::App& nodes) {
  auto init_options = std::make_shared<SpaceOptions>();
  CLI::App* init = nodes.add_subcommand("init", "Make the ID space under an etcd prefix, once");
  init->description(
      "Makes the ID space under an etcd prefix: a random space ID, the layout's\n"
      "geometry, the node range it owns, its datacenter and the etcd cluster it lives\n"
      "on, with a mark for every node (and flake-128 workers 0-1023). Instances take\n"
      "nodes only from such a space, and refuse one that is missing, of another\n"
      "cluster, or gone back in time. Refused when a space is there.\n\n"
      "With --registry (a separate, global etcd), the datacenter's name and range\n"
      "are claimed there first, refused when another datacenter's range overlaps;\n"
      "instances never talk to the registry.\n\n"
      "  idforge nodes init --etcd http://10.0.0.1:2379 --etcd-prefix /idforge/us-east \\\n"
      "      --nodes 0-199 --datacenter us-east --registry http://registry:2379\n");
  add_etcd_flags(*init, init_options->cluster);
  init->add_option("--datacenter", init_options->cluster.datacenter,
                   "The datacenter the space belongs to ([a-z0-9._-], such as us-east-1); instances given "
                   "another --datacenter are refused");
  init->add_option("--registry", init_options->registry, "URL[,URL…] of the datacenter registry (a separate etcd), "
                                                         "reached with the same TLS and credentials as --etcd");
  init->add_option("--registry-prefix", init_options->registry_prefix, "Key prefix of the registry")->capture_default_str();
  add_shape_flags(*init, *init_options);
  init->footer("Exit codes: 0 made; 1 etcd unreachable; 2 bad flags, a space already there, or a range the registry "
               "refuses.");

  auto recover_options = std::make_shared<SpaceOptions>();
  CLI::App* recover = nodes.add_subcommand("recover", "Make a space usable again after its store went back in time");
  recover->description(
      "After etcd was restored from a backup, wiped and made again, or found on\n"
      "another cluster — when instances refuse it (503 store_refused) — raises every\n"
      "mark of the space past anything that may have been issued: to the later of\n"
      "--issued-until, the marks there, and this machine's clock plus --margin-ms.\n"
      "It then records the cluster's identity and a new incarnation, frees every\n"
      "node, and instances take nodes again, each after that instant.\n\n"
      "A space that is gone is made again: give the --layout, --nodes and\n"
      "--datacenter it had, and --space-id (the ID instances and 'idforge nodes'\n"
      "printed) so that hosts that used it recognise it.\n\n"
      "Without --etcd it recovers a data directory (--data-dir) whose records went\n"
      "back in time: every node of --layout's space and flake-128's, raised the same\n"
      "way. Stop every process that uses it first.\n\n"
      "  idforge nodes recover --etcd http://10.0.0.1:2379 --issued-until 2026-12-04T10:20:00Z\n");
  add_etcd_flags(*recover, recover_options->cluster);
  recover->add_option("--issued-until", recover_options->issued_until,
                      "The latest instant any ID of the space may carry (UTC, such as 2026-12-04T10:20:00Z, or Unix "
                      "ms); Default: this machine's clock plus --margin-ms");
  recover->add_option("--margin-ms", recover_options->margin_ms, kMarginHelp)->capture_default_str();
  recover->add_option("--space-id", recover_options->space_id,
                      "The ID of a space that is gone, to make it again as the same space");
  recover->add_option("--datacenter", recover_options->cluster.datacenter,
                      "The datacenter of a space that is gone, to make it again");
  recover->add_option("--data-dir", recover_options->data_dir, "Without --etcd: " + data_dir_option_help());
  add_shape_flags(*recover, *recover_options);
  recover->footer("Exit codes: 0 recovered; 1 etcd unreachable, a node still held, or I/O; 2 bad flags.");

  return {init, recover, [init_options] { return run_init(*init_options); },
          [recover_options] { return run_recover(*recover_options); }};
}

}  // namespace idforge::cli
