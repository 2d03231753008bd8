// SPDX-License-Identifier: Apache-2.0
// FileReservation: a node's reservation kept in files on one host.
//
// The store. A data directory holds one folder per ID space. A Snowflake layout's
// space is named by its geometry — where its node and sequence bits sit
// (Layout::geometry) — so `twitter`, its spec written with other field names, an
// epoch a millisecond later, or its ten node bits split 2 + 8 all share one folder
// and never hold the same node at once. flake-128's workers are a space of their
// own (NodeSpace::flake128()). In a space's folder:
//
//   node-<N>.lock   held with flock(2) while a process holds node N; holds its PID
//   node-<N>.mark   the largest stamp node N's holders may have issued
//   floor           the same stamp for every node of the space ever held
//
// Stamps are the layouts' timestamp field values (see reservation.h), so a holder
// under another epoch or tick starts above its predecessors' IDs or is refused, as
// after a clock rollback. Formats: docs/operations.md.
//
// Guarantees:
//   - One holder per node per host. A second holder — in this process or another —
//     is refused with `unavailable` naming the holder's PID. Besides the lock file,
//     the holder keeps a kernel-held name for the node (an abstract Unix socket), so
//     a lock file or data directory removed under a running holder does not let a
//     second process in while the first lives.
//   - A holder that is no longer the holder stops. Before an extension takes
//     effect, the holder checks that its lock file is still the file at its path
//     (and so that its directory is still there), writes the mark and the floor,
//     fsyncs, and checks again; only then does the generator raise its limit. A
//     holder whose lock was removed or replaced gets `lease_lost`, and its
//     generator refuses from then on.
//   - A new holder starts after max(mark, floor), so one lost, damaged, dangling or
//     restored-older file never resets a node: the other copy bounds every stamp
//     issued. A node whose mark is damaged and that the floor does not know is
//     refused (`io`) — acquire_any skips it with a note — because nothing then says
//     which IDs it issued.
//   - Each write goes to a temporary file, is fsync'd and renamed over the record,
//     and the directory is fsync'd: a crash leaves the old record or the new one.
//
// Files are created group-writable (0664, folders 02775), so a service running as
// its own user and an operator in the data directory's group share one store.
//
// fork(): a child inherits the lock; its destructor neither writes nor unlocks.
//
// Thread safety: none of its own; a Generator serializes its calls.
//
// Example:
//
//   auto reservation = idforge::FileReservation::acquire_any("/var/lib/idforge", layout, 0, 1023);
//   if (!reservation) return fail(reservation.error());
//   auto generator = idforge::Generator::create(options, clock, **reservation);
#ifndef IDFORGE_FILE_RESERVATION_H_
#define IDFORGE_FILE_RESERVATION_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "idforge/layout.h"
#include "idforge/node_space.h"
#include "idforge/reservation.h"

namespace idforge {

namespace detail {
class HostLock;
}  // namespace detail

class FileReservation final : public Reservation {
 public:
  // Takes `node` of `space` in `dir`. `dir` is created if missing, but only when
  // its parent exists (a mistyped path is an error, not a fresh store). Fails with
  // invalid_argument for an empty `dir` or a node outside the space, unavailable
  // when another holder has the node, io when the directory or the node's records
  // cannot be used.
  static Result<std::unique_ptr<FileReservation>> acquire(const std::filesystem::path& dir, const NodeSpace& space,
                                                          std::uint64_t node);

  // Takes the lowest free node in [first, last]; a node refused for a damaged mark
  // is skipped, with a note. Fails with unavailable when every node is held (or
  // skipped). REQUIRES: first <= last.
  static Result<std::unique_ptr<FileReservation>> acquire_any(const std::filesystem::path& dir,
                                                              const NodeSpace& space, std::uint64_t first,
                                                              std::uint64_t last);

  // Unlocks without writing (the last extension stays durable), unless released or
  // in a forked child.
  ~FileReservation() override;

  FileReservation(const FileReservation&) = delete;
  FileReservation& operator=(const FileReservation&) = delete;

  std::uint64_t node() const override { return node_; }
  std::optional<std::int64_t> inherited_stamp() const override { return inherited_; }
  Result<void> extend(std::int64_t until_stamp) override;
  Result<void> release(std::optional<std::int64_t> final_stamp) override;

  // What acquiring found worth telling an operator, one sentence each: a record
  // that was missing, damaged or written under another layout, nodes skipped.
  const std::vector<std::string>& notes() const { return notes_; }

  // The node's mark file.
  const std::filesystem::path& mark_path() const { return mark_path_; }

  // The folder under a data directory that holds `space`'s files.
  static std::filesystem::path space_dir(const std::filesystem::path& dir, const NodeSpace& space);

  // Raises the records of every node of `space` in `dir` (its mark, its floor
  // entry and its lock file's note) to at least `until_stamp` and to the largest
  // any of them holds: what `idforge nodes recover --data-dir` does after a data
  // directory went back in time. Each node is locked while it is raised; a node a
  // running process holds fails the call (unavailable), naming the process, before
  // anything is written. Returns how many nodes were raised. Fails with io when
  // the folder is missing or cannot be written.
  static Result<std::uint64_t> recover(const std::filesystem::path& dir, const NodeSpace& space,
                                       std::int64_t until_stamp);

  // The largest stamp recorded for `node` — max(mark, floor) — as acquire() would
  // inherit it (nullopt: never held), for inspection and tests. Fails as acquire()
  // does for damaged or unreadable records.
  static Result<std::optional<std::int64_t>> recorded_stamp(const std::filesystem::path& dir, const NodeSpace& space,
                                                            std::uint64_t node);

 private:
  FileReservation();
  struct Attempt;
  static Attempt try_acquire(const std::filesystem::path& folder, const NodeSpace& space, std::uint64_t node);

  // True while the lock file at its path is the one this holder locked.
  bool still_holds() const;
  Error lost_error() const;
  // Writes `stamp` into the mark and the floor and fsyncs the folder.
  Result<void> record(std::int64_t stamp);

  std::string space_;
  std::string layout_;
  std::uint64_t node_ = 0;
  std::optional<std::int64_t> inherited_;
  std::vector<std::string> notes_;
  std::filesystem::path folder_;
  std::filesystem::path lock_path_;
  std::filesystem::path mark_path_;
  int lock_fd_ = -1;
  int dir_fd_ = -1;
  std::unique_ptr<detail::HostLock> host_lock_;
  pid_t owner_pid_ = 0;
  std::optional<std::int64_t> last_reserved_;  // The lock file's record of this node's last reservation.
  bool released_ = false;
  bool lost_ = false;
};

}  // namespace idforge

#endif  // IDFORGE_FILE_RESERVATION_H_
