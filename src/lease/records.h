// SPDX-License-Identifier: Apache-2.0
// Private: the records a data directory keeps, as files (format in
// docs/operations.md), and the one way they are written.
//
//   node-<N>.mark  the largest stamp node N's holders may have issued, with the
//                  layout of the last writer (for people; never compared)
//   floor          the same stamp for every node of the ID space ever held: a
//                  second copy of each mark, so losing, damaging or restoring an
//                  older copy of one file never resets a node
//   etcd-<id>      this host's record of the etcd ID space <id> (EtcdSpace): the
//                  largest store revision seen, a refusal once there was one; its
//                  presence says this host's nodes of the folder come from etcd
//
// Both end in an FNV-1a checksum of everything before it. Reading is strict: a
// record that is not a regular file (a symbolic link, dangling or not, included),
// is empty, truncated, fails its checksum or names another space or node is
// *damaged*, never "missing". Only a path that does not exist is missing.
#ifndef IDFORGE_SRC_LEASE_RECORDS_H_
#define IDFORGE_SRC_LEASE_RECORDS_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "idforge/result.h"

namespace idforge::detail {

enum class RecordState : std::uint8_t { missing, valid, damaged };

// The records' names in an ID space's folder.
inline constexpr std::string_view kFloorName = "floor";
std::string mark_name(std::uint64_t node);  // node-<N>.mark
std::string lock_name(std::uint64_t node);  // node-<N>.lock
// N of a file named node-<N><suffix> (suffix ".mark" or ".lock"), or nullopt.
std::optional<std::uint64_t> node_of(std::string_view file_name, std::string_view suffix);

struct MarkRecord {
  RecordState state = RecordState::missing;
  std::int64_t stamp = 0;  // When valid.
  std::string layout;      // When valid: the spec of the layout that wrote it.
  std::string why;         // When damaged: what is wrong, for messages.
};

struct FloorRecord {
  RecordState state = RecordState::missing;
  std::map<std::uint64_t, std::int64_t> stamps;  // When valid: node -> largest stamp.
  std::string why;                               // When damaged.
};

// Reads a mark of `node` in `space`. Fails (io) only when the file exists but
// cannot be read (permissions, I/O).
Result<MarkRecord> read_mark(const std::filesystem::path& path, std::string_view space, std::uint64_t node);
std::string mark_text(std::string_view space, std::uint64_t node, std::int64_t stamp, std::string_view layout);

// Reads the floor of `space`, as read_mark does.
Result<FloorRecord> read_floor(const std::filesystem::path& path, std::string_view space);
std::string floor_text(std::string_view space, const std::map<std::uint64_t, std::int64_t>& stamps);

// This host's record of an etcd ID space (etcd_space.h).
struct ClusterRecord {
  RecordState state = RecordState::missing;
  std::string space_id;
  std::string prefix;
  std::string endpoints;
  std::uint64_t cluster_id = 0;
  std::int64_t incarnation = 0;
  std::int64_t revision = 0;  // The largest store revision seen.
  std::string refused;        // Why the space was refused at this incarnation; empty: it was not.
  std::string why;            // When damaged.
};
std::string cluster_record_text(const ClusterRecord& record);
Result<ClusterRecord> read_cluster_record(const std::filesystem::path& path);
// The file name of space `space_id`'s record: "etcd-<space_id>".
std::string cluster_record_name(std::string_view space_id);
// Every etcd record in `folder` (their files named etcd-*), damaged ones too.
std::vector<std::pair<std::filesystem::path, ClusterRecord>> cluster_records(const std::filesystem::path& folder);

// The folder of ID space `space_name` under data directory `dir`, created if
// missing. `dir` itself is created only when its parent exists, so a mistyped path
// is an error rather than a fresh store; an empty `dir` is invalid_argument.
Result<std::filesystem::path> open_space_folder(const std::filesystem::path& dir, std::string_view space_name);

// Sets (or, with `raise_only`, raises) `node`'s entry in the floor of `folder`,
// under an exclusive flock on `dir_fd` (the folder, open) so that holders of other
// nodes keep theirs. With `only_if`, only when the entry is that value now (or
// missing). A floor that is missing or damaged is rebuilt from every valid mark in
// the folder first.
Result<void> update_floor(int dir_fd, const std::filesystem::path& folder, std::string_view space, std::uint64_t node,
                          std::int64_t stamp, bool raise_only, std::optional<std::int64_t> only_if = std::nullopt);

// Replaces `path` with `text` so that a crash leaves the old file or the new one:
// written to `path`.tmp, fsync'd, renamed over `path`. The caller fsyncs the
// directory. The new file is mode 0664 whatever the umask, so every member of the
// data directory's group can take its node later.
Result<void> replace_file(const std::filesystem::path& path, std::string_view text);

// An io error naming the path and errno's text.
Error io_error(std::string_view what, const std::filesystem::path& path, int err);

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_LEASE_RECORDS_H_
