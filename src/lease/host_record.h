// SPDX-License-Identifier: Apache-2.0
// Private: what a host keeps, in its data directory, of an etcd ID space its
// processes use (idforge/etcd_space.h, "The host's own record").
//
//   <dir>/<geometry>/etcd-<space>   the space's record (records.h): prefix,
//   <dir>/flake128/etcd-<space>     endpoints, cluster, incarnation, the largest
//                                   store revision seen, a refusal; in the
//                                   flake-128 folder too, as a marker only
//   <dir>/<geometry>/floor          the largest stamp this host reserved per node
//   <dir>/flake128/floor            (the file store's floor, shared with it)
//
// The record's presence makes FileReservation refuse those folders: a host that
// leases its nodes from etcd must not also hand them out from files.
//
// Thread safety: none of its own; EtcdSpace serializes its calls.
#ifndef IDFORGE_SRC_LEASE_HOST_RECORD_H_
#define IDFORGE_SRC_LEASE_HOST_RECORD_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "idforge/node_space.h"
#include "idforge/result.h"
#include "lease/records.h"

namespace idforge::detail {

class HostRecord {
 public:
  // Opens the record of `seed.space_id` in data directory `dir` for the Snowflake
  // folder `geometry` and flake-128's, creating the folders as the file store
  // does. What the file held (revision, incarnation, refusal) is kept; prefix,
  // endpoints and cluster are taken from `seed`, and the record is written back.
  static Result<std::unique_ptr<HostRecord>> open(const std::filesystem::path& dir, const std::string& geometry,
                                                  ClusterRecord seed);
  ~HostRecord();
  HostRecord(const HostRecord&) = delete;
  HostRecord& operator=(const HostRecord&) = delete;

  const ClusterRecord& record() const { return record_; }
  // Writes `record` (both copies), fsync'd.
  Result<void> save(const ClusterRecord& record);

  // The largest stamp this host recorded for `node` of `which` — its valid mark
  // and its floor entry — or nullopt.
  std::optional<std::int64_t> issued(const NodeSpace& which, std::uint64_t node) const;
  // Raises the floor entry of `node` to `stamp`.
  Result<void> reserved(const NodeSpace& which, std::uint64_t node, std::int64_t stamp);
  // Lowers the floor entry of `node` from `from` to `to`, if it is still `from`.
  Result<void> released(const NodeSpace& which, std::uint64_t node, std::int64_t from, std::int64_t to);

  // A valid record, in `dir`'s folder `geometry`, of a space under `prefix` on
  // etcd cluster `cluster_id` that this host used (the one seen at the highest
  // revision); nullopt when none.
  static std::optional<ClusterRecord> known(const std::filesystem::path& dir, const std::string& geometry,
                                            const std::string& prefix, std::uint64_t cluster_id);

 private:
  HostRecord() = default;
  struct Folder {
    std::filesystem::path path;
    int fd = -1;
  };
  const Folder& folder_of(const NodeSpace& which) const;

  ClusterRecord record_;
  std::string geometry_;
  Folder snowflake_;
  Folder flake128_;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_LEASE_HOST_RECORD_H_
