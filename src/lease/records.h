// SPDX-License-Identifier: Apache-2.0
// Private: the two records a FileReservation keeps, as files (format in
// docs/operations.md), and the one way they are written.
//
//   node-<N>.mark  the largest stamp node N's holders may have issued, with the
//                  layout of the last writer (for people; never compared)
//   floor          the same stamp for every node of the ID space ever held: a
//                  second copy of each mark, so losing, damaging or restoring an
//                  older copy of one file never resets a node
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
#include <string>
#include <string_view>

#include "idforge/result.h"

namespace idforge::detail {

enum class RecordState : std::uint8_t { missing, valid, damaged };

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

// Replaces `path` with `text` so that a crash leaves the old file or the new one:
// written to `path`.tmp, fsync'd, renamed over `path`. The caller fsyncs the
// directory. The new file is mode 0664 whatever the umask, so every member of the
// data directory's group can take its node later.
Result<void> replace_file(const std::filesystem::path& path, std::string_view text);

// An io error naming the path and errno's text.
Error io_error(std::string_view what, const std::filesystem::path& path, int err);

}  // namespace idforge::detail

#endif  // IDFORGE_SRC_LEASE_RECORDS_H_
