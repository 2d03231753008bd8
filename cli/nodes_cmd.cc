// SPDX-License-Identifier: Apache-2.0
// idforge nodes: who holds which node of a cluster, as etcd records it.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "common.h"
#include "idforge/time_text.h"
#include "serve_cluster.h"

namespace idforge::cli {
namespace {

struct NodesOptions {
  ClusterFlags cluster;
  bool json = false;
};

#if IDFORGE_WITH_ETCD
// The holder key's value as JSON, or its text when it is not an object.
nlohmann::ordered_json holder_json(const std::optional<std::string>& holder) {
  if (!holder) return nullptr;
  nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(*holder, nullptr, false);
  return parsed.is_object() ? parsed : nlohmann::ordered_json(*holder);
}

std::string field(const nlohmann::ordered_json& holder, const char* key) {
  if (!holder.is_object() || !holder.contains(key)) return holder.is_string() ? std::string("?") : std::string("-");
  const nlohmann::ordered_json& v = holder[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

int run_nodes(const NodesOptions& options) {
  if (options.cluster.etcd.empty()) {
    return fail(Error(Errc::invalid_argument, "give --etcd URL[,URL…] (or IDFORGE_ETCD): the etcd members to ask"));
  }
  Result<EtcdOptions> etcd = etcd_options_from(options.cluster);
  if (!etcd) return fail(etcd.error());
  route_grpc_log([](std::string_view) {});  // Failures are reported by the call's error.
  Result<std::shared_ptr<EtcdClient>> client = EtcdClient::connect(*etcd);
  if (!client) return fail(client.error());
  Result<EtcdNodes> listed = list_etcd_nodes(**client, options.cluster.prefix);
  if (!listed) return fail(listed.error());
  // The cluster's layout turns a Snowflake mark into the instant it stands for.
  Result<Layout> layout = listed->layout.empty() ? Result<Layout>(Error(Errc::invalid_argument, "none"))
                                                 : Layout::parse(listed->layout);
  auto mark_instant = [&](const EtcdNodeRecord& r) -> std::optional<std::string> {
    if (!r.mark || !layout || !r.space.starts_with("snowflake-")) return std::nullopt;
    return format_utc_ms(layout->unix_ms_of_tick(std::clamp<std::int64_t>(*r.mark, 0, layout->max_tick())));
  };

  Output out;
  if (options.json) {
    nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
    for (const EtcdNodeRecord& r : listed->nodes) {
      std::optional<std::string> at = mark_instant(r);
      nodes.push_back({{"space", r.space},
                       {"node", r.node},
                       {"held", r.holder.has_value()},
                       {"holder", holder_json(r.holder)},
                       {"lease", r.holder ? nlohmann::ordered_json(EtcdLease::hex(r.lease)) : nlohmann::ordered_json()},
                       {"mark", r.mark ? nlohmann::ordered_json(*r.mark) : nlohmann::ordered_json()},
                       {"mark_time", at ? nlohmann::ordered_json(*at) : nlohmann::ordered_json()},
                       {"mark_damaged", !r.mark_text.empty() && !r.mark}});
    }
    const nlohmann::ordered_json all = {{"prefix", options.cluster.prefix},
                                        {"geometry", listed->geometry},
                                        {"layout", listed->layout},
                                        {"held", std::count_if(listed->nodes.begin(), listed->nodes.end(),
                                                               [](const EtcdNodeRecord& r) { return r.holder.has_value(); })},
                                        {"nodes", nodes}};
    out.append(all.dump() + "\n");
    return out.flush() ? kExitOk : kExitFailure;
  }
  out.append("prefix " + options.cluster.prefix + "  layout " + (listed->layout.empty() ? "(none recorded)" : listed->layout) +
             "\n");
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %6s  %-5s %-20s %8s  %-22s %-24s %s\n", "SPACE", "NODE", "HELD", "HOST", "PID",
                "LISTEN", "SINCE", "MARK");
  out.append(line);
  for (const EtcdNodeRecord& r : listed->nodes) {
    const nlohmann::ordered_json holder = holder_json(r.holder);
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
  CLI::App* app = root.add_subcommand("nodes", "Who holds which node of a cluster (etcd)");
  app->description(
      "Lists every node of a cluster that is held or has a mark, as etcd records it:\n"
      "the holder (host, PID, listen address, since when) and the mark — the last\n"
      "instant any holder of the node may have stamped, which the next holder starts\n"
      "after. A node that is not held is free; its mark stays.\n\n"
      "  idforge nodes --etcd http://10.0.0.1:2379,http://10.0.0.2:2379\n");
  add_etcd_flags(*app, options->cluster);
  app->add_flag("--json", options->json,
                "One JSON object: prefix, geometry, layout, held, and nodes [{space, node, held, holder, lease, mark, "
                "mark_time, mark_damaged}]");
  app->footer("Exit codes: 0 listed; 1 etcd unreachable or output failed; 2 bad flags or credentials refused.");
  return {app, [options] { return run_nodes(*options); }};
}

}  // namespace idforge::cli
