// SPDX-License-Identifier: Apache-2.0
#include "run_node.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common.h"
#include "idforge/file_reservation.h"
#include "idforge/version.h"
#if IDFORGE_WITH_ETCD
#include "idforge/etcd_space.h"
#endif

namespace idforge::cli {
namespace {

Result<RunNode> from_files(const std::string& data_dir, const NodeSpace& which, std::optional<std::uint64_t> node,
                           std::uint64_t last_auto) {
  Result<std::unique_ptr<FileReservation>> taken = node ? FileReservation::acquire(data_dir, which, *node)
                                                        : FileReservation::acquire_any(data_dir, which, 0, last_auto);
  if (!taken) return taken.error();
  RunNode out;
  out.notes = (*taken)->notes();
  out.where = FileReservation::space_dir(data_dir, which).string();
  out.reservation = std::move(*taken);
  return out;
}

#if IDFORGE_WITH_ETCD
// A run's lease lasts as long as a serving instance's: a run that dies frees its node a TTL later.
constexpr std::int64_t kRunLeaseTtlS = 10;

Result<RunNode> from_etcd(const ClusterFlags& cluster, const std::string& data_dir, const NodeSpace& which,
                          const Layout& layout, std::optional<std::uint64_t> node, Clock& clock) {
  Result<std::shared_ptr<EtcdClient>> client = connect_etcd(cluster);
  if (!client) return client.error();
  EtcdSpaceCheck check{.prefix = cluster.prefix,
                       .layout = layout,
                       .nodes = node && which.is_snowflake() ? std::optional(std::pair{*node, *node}) : std::nullopt,
                       .datacenter = cluster.datacenter,
                       .host_dir = data_dir,
                       .create_if_missing = cluster.create_space};
  Result<std::shared_ptr<EtcdSpace>> space = EtcdSpace::open(*client, check, clock).space;
  if (!space) return space.error();
  Result<std::shared_ptr<EtcdLease>> lease = EtcdLease::grant(*client, kRunLeaseTtlS, clock);
  if (!lease) return lease.error();
  const std::uint64_t first = node.value_or(which.is_snowflake() ? (*space)->first() : 0);
  const std::uint64_t last = node.value_or(which.is_snowflake() ? (*space)->last() : kEtcdFlake128Workers - 1);
  const std::string holder = nlohmann::json{{"host", host_name()},
                                            {"pid", ::getpid()},
                                            {"command", "gen"},
                                            {"layout", layout.spec()},
                                            {"version", IDFORGE_VERSION}}
                                 .dump();
  Result<std::unique_ptr<EtcdReservation>> taken = EtcdReservation::acquire_any(*lease, *space, which, first, last, holder);
  if (!taken) {
    (void)(*lease)->revoke();
    return taken.error();
  }
  RunNode out;
  out.notes = (*taken)->notes();
  for (const std::string& note : (*space)->notes()) out.notes.push_back(note);
  out.where = (*taken)->mark_key() + " (etcd " + cluster.etcd + ", space " + (*space)->record().id + ")";
  out.reservation = std::move(*taken);
  out.end = [lease = *lease] { return lease->revoke(); };
  return out;
}
#endif

}  // namespace

Result<RunNode> take_run_node(const ClusterFlags& cluster, const std::string& data_dir, const NodeSpace& which,
                              const Layout& layout, std::optional<std::uint64_t> node, std::uint64_t last_auto,
                              Clock& clock) {
  if (cluster.etcd.empty()) return from_files(data_dir, which, node, last_auto);
#if IDFORGE_WITH_ETCD
  return from_etcd(cluster, data_dir, which, layout, node, clock);
#else
  (void)layout;
  (void)clock;
  return Error(Errc::invalid_argument, "--etcd (or IDFORGE_ETCD): this idforge was built without cluster mode "
                                       "(IDFORGE_WITH_ETCD=OFF), and takes nodes from the data directory only");
#endif
}

}  // namespace idforge::cli
