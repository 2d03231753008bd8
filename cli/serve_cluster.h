// SPDX-License-Identifier: Apache-2.0
// The flags of `idforge serve` that choose where its node comes from: the data
// directory (the default) or etcd (--etcd, cluster mode).
#ifndef IDFORGE_CLI_SERVE_CLUSTER_H_
#define IDFORGE_CLI_SERVE_CLUSTER_H_

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>

#include "idforge/clock.h"
#if IDFORGE_WITH_ETCD
#include "idforge/etcd_reservation.h"
#endif
#include "server/node_source.h"

namespace idforge::cli {

struct ClusterFlags {
  std::string etcd;  // URL[,URL…]; empty: no cluster mode.
  std::string prefix = "/idforge";
  std::int64_t lease_ttl_s = 10;
  std::string cacert;
  std::string cert;
  std::string key;
  std::string user;
  std::string password_file;
  bool wait_for_node = false;
  std::string datacenter;   // This instance's datacenter; empty: any.
  bool create_space = false;
};

// Registers the flags that reach etcd (--etcd, --etcd-prefix, TLS, auth) on `app`.
void add_etcd_flags(CLI::App& app, ClusterFlags& flags);
// Registers --datacenter and --create-space (who the instance is, and whether it
// may make the space), on a command that takes nodes from etcd. Without
// `datacenter_flag` (a command whose layout has a node field of that name) the
// datacenter comes from IDFORGE_DATACENTER alone.
void add_space_flags(CLI::App& app, ClusterFlags& flags, bool datacenter_flag = true);
// Registers those and serve's own (--lease-ttl-s, --wait-for-node) on `serve`.
void add_cluster_flags(CLI::App& serve, ClusterFlags& flags);

// What else a source needs to know about this instance.
struct Instance {
  Layout layout;
  std::optional<std::uint64_t> node;                              // --node
  std::optional<std::pair<std::uint64_t, std::uint64_t>> nodes;   // --nodes; neither: the space's range
  std::string listen;  // As given, recorded in etcd for `idforge nodes`; empty for a command.
  std::string host_dir;  // The data directory for this host's own record; empty: none.
};

#if IDFORGE_WITH_ETCD
// How to reach etcd, from the flags (reading TLS files and the password). Fails
// with invalid_argument for bad flags and io for unreadable files.
Result<EtcdOptions> etcd_options_from(const ClusterFlags& flags);
// A client of the etcd at `endpoints` (Default: --etcd) with the flags' TLS and
// credentials, for a command: gRPC's own reports are silenced, since the call's
// error says what failed.
Result<std::shared_ptr<EtcdClient>> connect_etcd(const ClusterFlags& flags, const std::string& endpoints = "");
#endif

// The etcd source the flags describe (reading TLS files and the password). Fails
// with invalid_argument for bad flags, io for unreadable files, and as
// EtcdClient::connect does. REQUIRES: flags.etcd is not empty.
Result<std::unique_ptr<detail::NodeSource>> etcd_source_from(const ClusterFlags& flags, const Instance& instance,
                                                             Clock& clock);

}  // namespace idforge::cli

#endif  // IDFORGE_CLI_SERVE_CLUSTER_H_
