// SPDX-License-Identifier: Apache-2.0
#include "lease/host_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/text.h"

namespace idforge::detail {
namespace {

namespace fs = std::filesystem;

Result<void> save_in(const fs::path& folder, int fd, const ClusterRecord& record) {
  if (Result<void> written = replace_file(folder / cluster_record_name(record.space_id), cluster_record_text(record));
      !written) {
    return written;
  }
  if (::fsync(fd) != 0) return io_error("cannot fsync", folder, errno);
  return {};
}

}  // namespace

Result<std::unique_ptr<HostRecord>> HostRecord::open(const fs::path& dir, const std::string& geometry,
                                                     ClusterRecord seed) {
  std::unique_ptr<HostRecord> r(new HostRecord());
  r->geometry_ = geometry;
  for (auto [folder, name] : {std::pair{&r->snowflake_, geometry}, std::pair{&r->flake128_, NodeSpace::flake128().name}}) {
    Result<fs::path> path = open_space_folder(dir, name);
    if (!path) return path.error();
    folder->path = *path;
    folder->fd = ::open(path->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folder->fd < 0) return io_error("cannot open directory", *path, errno);
  }
  Result<ClusterRecord> kept = read_cluster_record(r->snowflake_.path / cluster_record_name(seed.space_id));
  if (!kept) return kept.error();
  if (kept->state == RecordState::valid) {
    seed.incarnation = kept->incarnation;
    seed.revision = kept->revision;
    seed.refused = kept->refused;
  } else {
    seed.incarnation = -1;  // Nothing seen yet: no incarnation to compare with.
    seed.revision = 0;
    seed.refused.clear();
  }
  seed.state = RecordState::valid;
  if (Result<void> saved = r->save(seed); !saved) return saved.error();
  return r;
}

HostRecord::~HostRecord() {
  for (const Folder* f : {&snowflake_, &flake128_}) {
    if (f->fd >= 0) ::close(f->fd);
  }
}

Result<void> HostRecord::save(const ClusterRecord& record) {
  if (Result<void> main = save_in(snowflake_.path, snowflake_.fd, record); !main) return main;
  if (Result<void> marker = save_in(flake128_.path, flake128_.fd, record); !marker) return marker;
  record_ = record;
  return {};
}

const HostRecord::Folder& HostRecord::folder_of(const NodeSpace& which) const {
  return which.is_snowflake() ? snowflake_ : flake128_;
}

std::optional<std::int64_t> HostRecord::issued(const NodeSpace& which, std::uint64_t node) const {
  const Folder& folder = folder_of(which);
  std::optional<std::int64_t> out;
  Result<MarkRecord> mark = read_mark(folder.path / mark_name(node), which.name, node);
  if (mark && mark->state == RecordState::valid) out = mark->stamp;
  Result<FloorRecord> floor = read_floor(folder.path / kFloorName, which.name);
  if (floor && floor->state == RecordState::valid) {
    if (auto it = floor->stamps.find(node); it != floor->stamps.end()) out = std::max(out.value_or(-1), it->second);
  }
  return out;
}

Result<void> HostRecord::reserved(const NodeSpace& which, std::uint64_t node, std::int64_t stamp) {
  const Folder& folder = folder_of(which);
  if (Result<void> r = update_floor(folder.fd, folder.path, which.name, node, stamp, /*raise_only=*/true); !r) return r;
  if (::fsync(folder.fd) != 0) return io_error("cannot fsync", folder.path, errno);
  return {};
}

Result<void> HostRecord::released(const NodeSpace& which, std::uint64_t node, std::int64_t from, std::int64_t to) {
  const Folder& folder = folder_of(which);
  if (Result<void> r = update_floor(folder.fd, folder.path, which.name, node, to, /*raise_only=*/false, from); !r) {
    return r;
  }
  if (::fsync(folder.fd) != 0) return io_error("cannot fsync", folder.path, errno);
  return {};
}

std::optional<ClusterRecord> HostRecord::known(const fs::path& dir, const std::string& geometry,
                                               const std::string& prefix, std::uint64_t cluster_id) {
  std::optional<ClusterRecord> best;
  for (auto& [path, record] : cluster_records(dir / geometry)) {
    if (record.state != RecordState::valid || record.prefix != prefix || record.cluster_id != cluster_id) continue;
    if (!best || record.revision > best->revision) best = record;
  }
  return best;
}

}  // namespace idforge::detail
