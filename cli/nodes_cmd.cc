// SPDX-License-Identifier: Apache-2.0
// idforge nodes: a cluster's ID space as etcd records it — its identity, who holds
// which node, and any sign that the store went back in time; `nodes init` and
// `nodes recover` (nodes_space.cc) make and remake it.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "common.h"
#include "idforge/time_text.h"
#include "nodes_space.h"
#include "serve_cluster.h"
#if IDFORGE_WITH_ETCD
#include "idforge/etcd_space.h"
#include "lease/records.h"
#endif

namespace idforge::cli {
namespace {

struct NodesOptions {
  ClusterFlags cluster;
  std::string registry;
  std::string registry_prefix = kDefaultRegistryPrefix;
  std::optional<std::string> data_dir;
  bool json = false;
  bool all = false;
};

#if IDFORGE_WITH_ETCD
using json = nlohmann::ordered_json;

// The holder key's value as JSON, or its text when it is not an object.
json holder_json(const std::optional<std::string>& holder) {
  if (!holder) return nullptr;
  json parsed = json::parse(*holder, nullptr, false);
  return parsed.is_object() ? parsed : json(*holder);
}

std::string field(const json& holder, const char* key) {
  if (!holder.is_object() || !holder.contains(key)) return holder.is_string() ? std::string("?") : std::string("-");
  const json& v = holder[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// What says the store went back in time, one sentence each.
std::vector<std::string> rollbacks(const EtcdNodes& listed, const NodesOptions& options) {
  std::vector<std::string> out;
  if (!listed.space) return out;
  const EtcdSpaceRecord& r = *listed.space;
  const std::string recover = "run 'idforge nodes recover --etcd " + options.cluster.etcd + " --etcd-prefix " +
                              options.cluster.prefix + "' (docs/cluster.md)";
  if (r.cluster_id != listed.cluster_id) {
    out.push_back("the space was made on etcd cluster " + etcd_id_hex(r.cluster_id) + ", but the members are cluster " +
                  etcd_id_hex(listed.cluster_id) + ": etcd was restored from a snapshot with a new token, or these are "
                  "other members; instances refuse it until you " + recover);
  }
  std::uint64_t missing = 0;
  for (std::uint64_t node = r.first_node;; ++node) {
    const bool has = std::any_of(listed.nodes.begin(), listed.nodes.end(), [&](const EtcdNodeRecord& n) {
      return n.space == r.geometry && n.node == node && !n.mark_text.empty();
    });
    missing += has ? 0 : 1;
    if (node == r.last_node) break;
  }
  if (missing != 0) {
    out.push_back(std::to_string(missing) + " nodes of the space have no mark, though it was made with one for every "
                  "node: etcd lost them; instances refuse those nodes until you " + recover);
  }
  // This host's own record of the space, when it keeps one (read only).
  Result<DataDir> dir = resolve_data_dir(options.data_dir);
  if (dir) {
    for (const auto& [path, seen] : detail::cluster_records(std::filesystem::path(dir->path) / r.geometry)) {
      if (seen.state != detail::RecordState::valid || seen.space_id != r.id) continue;
      if (seen.incarnation == r.incarnation && seen.revision > listed.revision) {
        out.push_back("this host saw etcd at revision " + std::to_string(seen.revision) + " in this space (" +
                      path.string() + "), and it is at " + std::to_string(listed.revision) + " now: it was restored "
                      "from an older snapshot; " + recover);
      }
      if (seen.incarnation == r.incarnation && !seen.refused.empty()) {
        out.push_back("an instance on this host refused the space (" + seen.refused + ", " + path.string() + "); " +
                      recover);
      }
    }
  }
  return out;
}

int list_registry(const NodesOptions& options) {
  Result<std::shared_ptr<EtcdClient>> client = connect_etcd(options.cluster, options.registry);
  if (!client) return fail(client.error());
  Result<Registry> registry = read_registry(**client, options.registry_prefix);
  if (!registry) return fail(registry.error());
  Output out;
  if (options.json) {
    json dcs = json::array();
    for (const RegistryEntry& e : registry->datacenters) {
      dcs.push_back({{"datacenter", e.datacenter},
                     {"nodes", std::to_string(e.first_node) + "-" + std::to_string(e.last_node)},
                     {"space", e.space_id},
                     {"prefix", e.prefix},
                     {"etcd", e.endpoints},
                     {"created", format_utc_ms(e.created_unix_ms)}});
    }
    out.append(json{{"registry", options.registry_prefix}, {"geometry", registry->geometry}, {"datacenters", dcs}}.dump() +
               "\n");
    return out.flush() ? kExitOk : kExitFailure;
  }
  std::vector<std::vector<std::string>> rows = {{"DATACENTER", "NODES", "SPACE", "PREFIX", "CREATED", "ETCD"}};
  for (const RegistryEntry& e : registry->datacenters) {
    rows.push_back({e.datacenter, std::to_string(e.first_node) + "-" + std::to_string(e.last_node), e.space_id,
                    e.prefix, format_utc_ms(e.created_unix_ms), e.endpoints});
  }
  out.append("registry " + options.registry_prefix + "  geometry " +
             (registry->geometry.empty() ? std::string("(no datacenter yet)") : registry->geometry) + "\n");
  out.append(format_table(rows));
  return out.flush() ? kExitOk : kExitFailure;
}

int run_nodes(const NodesOptions& options) {
  if (!options.registry.empty() && options.cluster.etcd.empty()) return list_registry(options);
  if (options.cluster.etcd.empty()) {
    return fail(Error(Errc::invalid_argument, "give --etcd URL[,URL…] (or IDFORGE_ETCD): the etcd members to ask, or "
                                              "--registry URL[,URL…] for the datacenters of a registry"));
  }
  if (!options.registry.empty()) {
    if (int listed = list_registry(options); listed != kExitOk) return listed;
  }
  Result<std::shared_ptr<EtcdClient>> client = connect_etcd(options.cluster);
  if (!client) return fail(client.error());
  Result<EtcdNodes> listed = list_etcd_nodes(**client, options.cluster.prefix);
  if (!listed) return fail(listed.error());
  // The space's layout turns a Snowflake mark into the instant it stands for.
  Result<Layout> layout = listed->space ? Layout::parse(listed->space->layout)
                                        : Result<Layout>(Error(Errc::invalid_argument, "none"));
  auto mark_instant = [&](const EtcdNodeRecord& r) -> std::optional<std::string> {
    if (!r.mark) return std::nullopt;
    if (r.space == NodeSpace::flake128().name) return format_utc_ms(*r.mark);
    if (!layout) return std::nullopt;
    return format_utc_ms(layout->unix_ms_of_tick(std::clamp<std::int64_t>(*r.mark, 0, layout->max_tick())));
  };
  const std::vector<std::string> back = rollbacks(*listed, options);
  const auto shown = [&](const EtcdNodeRecord& r) { return options.all || r.holder.has_value(); };
  const auto held = std::count_if(listed->nodes.begin(), listed->nodes.end(),
                                  [](const EtcdNodeRecord& r) { return r.holder.has_value(); });

  Output out;
  if (options.json) {
    json nodes = json::array();
    for (const EtcdNodeRecord& r : listed->nodes) {
      if (!shown(r)) continue;
      std::optional<std::string> at = mark_instant(r);
      nodes.push_back({{"space", r.space},
                       {"node", r.node},
                       {"held", r.holder.has_value()},
                       {"holder", holder_json(r.holder)},
                       {"lease", r.holder ? json(EtcdLease::hex(r.lease)) : json()},
                       {"mark", r.mark ? json(*r.mark) : json()},
                       {"mark_time", at ? json(*at) : json()},
                       {"mark_damaged", !r.mark_text.empty() && !r.mark}});
    }
    const json all = {{"prefix", options.cluster.prefix},
                      {"space", listed->space ? space_json(*listed->space) : json()},
                      {"space_error", listed->space_error.empty() ? json() : json(listed->space_error)},
                      {"etcd", {{"cluster_id", etcd_id_hex(listed->cluster_id)}, {"revision", listed->revision}}},
                      {"rollback", back},
                      {"held", held},
                      {"nodes", nodes}};
    out.append(all.dump() + "\n");
    return out.flush() ? kExitOk : kExitFailure;
  }
  out.append("prefix    " + options.cluster.prefix + "\n");
  if (listed->space) {
    const EtcdSpaceRecord& r = *listed->space;
    out.append("space     " + r.id + "  " + r.geometry + ", nodes " + std::to_string(r.first_node) + "-" +
               std::to_string(r.last_node) + (r.datacenter.empty() ? std::string() : ", datacenter " + r.datacenter) +
               (r.recovering ? "  (RECOVERING)" : "") + "\n");
    out.append("made      " + format_utc_ms(r.created_unix_ms) + " on etcd cluster " + etcd_id_hex(r.cluster_id) +
               ", incarnation " + std::to_string(r.incarnation) +
               (r.recovered_unix_ms != 0 ? ", recovered " + format_utc_ms(r.recovered_unix_ms) : std::string()) + "\n");
    out.append("layout    " + r.layout + "\n");
  } else {
    out.append("space     " + (listed->space_error.empty()
                                   ? std::string("none: make it with 'idforge nodes init' (instances refuse a prefix "
                                                 "without one)")
                                   : listed->space_error) +
               "\n");
  }
  out.append("etcd      cluster " + etcd_id_hex(listed->cluster_id) + ", revision " + std::to_string(listed->revision) +
             ", " + std::to_string(held) + " held\n");
  for (const std::string& line : back) out.append("ROLLBACK  " + line + "\n");
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %6s  %-5s %-20s %8s  %-22s %-24s %s\n", "SPACE", "NODE", "HELD", "HOST", "PID",
                "LISTEN", "SINCE", "MARK");
  out.append(line);
  for (const EtcdNodeRecord& r : listed->nodes) {
    if (!shown(r)) continue;
    const json holder = holder_json(r.holder);
    const std::optional<std::string> at = mark_instant(r);
    const std::string mark = r.mark ? (at ? *at : std::to_string(*r.mark))
                                    : (r.mark_text.empty() ? std::string("-") : "damaged: " + r.mark_text.substr(0, 30));
    std::snprintf(line, sizeof line, "%-24s %6llu  %-5s %-20s %8s  %-22s %-24s %s\n", r.space.c_str(),
                  static_cast<unsigned long long>(r.node), r.holder ? "yes" : "no",
                  r.holder ? field(holder, "host").c_str() : "-", r.holder ? field(holder, "pid").c_str() : "-",
                  r.holder ? field(holder, "listen").c_str() : "-", r.holder ? field(holder, "since").c_str() : "-",
                  mark.c_str());
    out.append(line);
  }
  return out.flush() ? kExitOk : kExitFailure;
}
#else
int run_nodes(const NodesOptions&) {
  return fail(Error(Errc::invalid_argument, "this idforge was built without cluster mode (IDFORGE_WITH_ETCD=OFF)"));
}
#endif

}  // namespace

Command add_nodes(CLI::App& root) {
  auto options = std::make_shared<NodesOptions>();
  CLI::App* app = root.add_subcommand("nodes", "A cluster's ID space in etcd: who holds which node; init, recover");
  app->description(
      "Shows the ID space under an etcd prefix: its identity (space ID, the etcd\n"
      "cluster it was made on, its node range and datacenter), any sign that etcd\n"
      "went back in time (ROLLBACK lines), and every held node: the holder (host,\n"
      "PID, listen address, since when) and the mark — the last instant any holder\n"
      "of the node may have stamped, which the next holder starts after.\n\n"
      "  idforge nodes --etcd http://10.0.0.1:2379,http://10.0.0.2:2379\n"
      "  idforge nodes init --etcd … --nodes 0-199 --datacenter us-east    make the space, once\n"
      "  idforge nodes recover --etcd …                                   after etcd was restored or lost\n"
      "  idforge nodes --registry http://registry:2379                    the datacenters of a registry\n");
  add_etcd_flags(*app, options->cluster);
  app->add_option("--registry", options->registry,
                  "URL[,URL…] of the datacenter registry (a separate etcd): list its datacenters and their node ranges")
      ->envname("IDFORGE_REGISTRY");
  app->add_option("--registry-prefix", options->registry_prefix, "Key prefix of the registry")->capture_default_str();
  app->add_option("--data-dir", options->data_dir,
                  "This host's data directory, whose record of the space shows a store gone back in time; " +
                      data_dir_option_help());
  app->add_flag("--all", options->all, "Every node of the space, not only the held ones");
  app->add_flag("--json", options->json,
                "One JSON object: prefix, space {id, geometry, layout, nodes, datacenter, cluster_id, created, "
                "incarnation, recovered, state}, space_error, etcd {cluster_id, revision}, rollback [sentences], "
                "held, and nodes [{space, node, held, holder, lease, mark, mark_time, mark_damaged}]");
  app->footer("Exit codes: 0 listed; 1 etcd unreachable or output failed; 2 bad flags or credentials refused.");
  const SpaceCommands space = add_space_commands(*app);
  return {app, [options, space] {
            if (space.init->parsed()) return space.run_init();
            if (space.recover->parsed()) return space.run_recover();
            return run_nodes(*options);
          }};
}

}  // namespace idforge::cli
