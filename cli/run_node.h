// SPDX-License-Identifier: Apache-2.0
// The node one run of a command holds while it issues (`idforge gen`): taken from
// the data directory, or — with --etcd, or IDFORGE_ETCD set as on a cluster's
// hosts — leased from the cluster's ID space like `idforge serve` leases it, so
// that every idforge process on a cluster host uses the cluster's nodes.
#ifndef IDFORGE_CLI_RUN_NODE_H_
#define IDFORGE_CLI_RUN_NODE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "idforge/clock.h"
#include "idforge/node_space.h"
#include "idforge/reservation.h"
#include "serve_cluster.h"

namespace idforge::cli {

struct RunNode {
  std::unique_ptr<Reservation> reservation;
  // What taking it found worth telling the user, one sentence each.
  std::vector<std::string> notes;
  // Where it is held, for --verbose: a folder of the data directory, an etcd key.
  std::string where;
  // Gives up what is left once the generator is closed (an etcd lease is revoked).
  std::function<Result<void>()> end = [] { return Result<void>(); };
};

// Takes `node` of `which` (nullopt: the lowest free one of 0..last_auto, or of the
// cluster's space) from etcd when `cluster.etcd` is set, else from `data_dir`.
// REQUIRES: `clock` outlives the node.
Result<RunNode> take_run_node(const ClusterFlags& cluster, const std::string& data_dir, const NodeSpace& which,
                              const Layout& layout, std::optional<std::uint64_t> node, std::uint64_t last_auto,
                              Clock& clock);

}  // namespace idforge::cli

#endif  // IDFORGE_CLI_RUN_NODE_H_
