// SPDX-License-Identifier: Apache-2.0
// EtcdSource: cluster mode's NodeSource. Each take() opens the ID space under the
// prefix (EtcdSpace: refused when it is missing, foreign or went back in time),
// grants a new etcd lease and takes a node and a flake-128 worker with it
// (EtcdReservation); the hold lapses when the lease is lost or the space is
// refused, and the service takes again — through the same checks, so a refused
// space stays refused until it is recovered.
#ifndef IDFORGE_SERVER_ETCD_SOURCE_H_
#define IDFORGE_SERVER_ETCD_SOURCE_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "idforge/clock.h"
#include "idforge/etcd_reservation.h"
#include "server/node_source.h"

namespace idforge::detail {

struct EtcdSourceOptions {
  EtcdOptions etcd;
  // The key prefix every instance of the cluster shares. Default: "/idforge".
  std::string prefix = "/idforge";
  // Seconds; valid 5 to 300. Default: 10.
  std::int64_t lease_ttl_s = 10;
  Layout layout = Layout::twitter();
  // The node given (--node), or the range to pick from (--nodes); neither: the
  // space's range.
  std::optional<std::uint64_t> node;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> nodes;
  // This instance's datacenter (--datacenter); empty: any.
  std::string datacenter;
  // Make the space when the prefix has none (--create-space). Default: false.
  bool create_space = false;
  // The data directory that keeps this host's own record of the space; empty: none.
  std::filesystem::path host_dir;
  // The holder keys' value: a JSON object naming this instance.
  std::string holder;
};

// Connects to etcd (authenticating when a user is given). Fails as
// EtcdClient::connect does (endpoints of two clusters included), and with
// invalid_argument for a bad prefix, TTL or datacenter.
// REQUIRES: `clock` outlives the source.
Result<std::unique_ptr<NodeSource>> etcd_source(EtcdSourceOptions options, Clock& clock);

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_ETCD_SOURCE_H_
