// FileReservation: a node's reservation kept in files on one host.
//
// In a data directory, each (node space, node) pair has two files under a folder
// named after the space (`<name>-<hash of its spec>`). A node space is a Snowflake
// layout, or flake-128's 48-bit workers (NodeSpace::flake128()):
//
//   node-<N>.lock   held with flock(2) for as long as the reservation lives; it
//                   holds the holder's PID, for error messages
//   node-<N>.mark   the high-water mark: the last instant any holder may have
//                   stamped, with a checksum (format in docs/operations.md)
//
// A second holder of the same node — in this process or another — is refused with
// `unavailable` naming the holder's PID. A new holder reads the mark first and
// starts after it, so a restart with the clock stepped back never reuses a stamp.
// Each extension is written to a temporary file, fsync'd, renamed over the mark,
// and the directory fsync'd, so a crash leaves the old or the new mark, never a
// torn one. A mark that is empty, truncated, corrupt or for another layout/node
// refuses to start (`io`) instead of resetting: delete it only if you know no ID
// of that node was issued after the instant you can vouch for.
//
// fork(): a child inherits the lock with the parent's descriptor; its destructor
// neither writes nor unlocks.
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

#include "idforge/layout.h"
#include "idforge/reservation.h"

namespace idforge {

// What a reservation's node numbers belong to.
struct NodeSpace {
  // A layout's nodes. Implicit, so a Layout can be passed wherever a space is asked.
  NodeSpace(const Layout& layout);  // NOLINT(google-explicit-constructor)
  NodeSpace(std::string space_name, std::string space_spec, int bits)
      : name(std::move(space_name)), spec(std::move(space_spec)), node_bits(bits) {}
  // flake-128's workers (flake128.h): 48 bits.
  static NodeSpace flake128();

  std::string name;   // For folder names and messages: "twitter", "flake128".
  std::string spec;   // The canonical description, recorded in every mark.
  int node_bits = 0;  // Nodes are 0 .. 2^node_bits - 1.
};

class FileReservation final : public Reservation {
 public:
  // Takes `node` of `space` in `dir` (created if missing). Fails with unavailable
  // when another holder has it, io when the directory or mark cannot be used.
  static Result<std::unique_ptr<FileReservation>> acquire(const std::filesystem::path& dir, const NodeSpace& space,
                                                          std::uint64_t node);

  // Takes the lowest free node in [first, last]. Fails with unavailable when all
  // are held. REQUIRES: first <= last.
  static Result<std::unique_ptr<FileReservation>> acquire_any(const std::filesystem::path& dir,
                                                              const NodeSpace& space, std::uint64_t first,
                                                              std::uint64_t last);

  // Unlocks without writing (the last extension stays durable), unless released or
  // in a forked child.
  ~FileReservation() override;

  FileReservation(const FileReservation&) = delete;
  FileReservation& operator=(const FileReservation&) = delete;

  std::uint64_t node() const override { return node_; }
  std::optional<std::int64_t> inherited_until_unix_ms() const override { return inherited_; }
  Result<void> extend(std::int64_t until_unix_ms) override;
  Result<void> release(std::int64_t until_unix_ms) override;

  // The high-water-mark file.
  const std::filesystem::path& mark_path() const { return mark_path_; }

  // Reads a mark file as acquire() does (nullopt when it does not exist), for
  // inspection and tests.
  static Result<std::optional<std::int64_t>> read_mark(const std::filesystem::path& mark_path,
                                                       const NodeSpace& space, std::uint64_t node);

  // The folder under a data directory that holds `space`'s files.
  static std::filesystem::path layout_dir(const std::filesystem::path& dir, const NodeSpace& space);

 private:
  FileReservation() = default;
  static Result<std::unique_ptr<FileReservation>> try_acquire(const std::filesystem::path& layout_dir,
                                                              const NodeSpace& space, std::uint64_t node);
  Result<void> write_mark(std::int64_t until_unix_ms);

  std::string layout_spec_;
  std::uint64_t node_ = 0;
  std::optional<std::int64_t> inherited_;
  std::filesystem::path mark_path_;
  int lock_fd_ = -1;
  int dir_fd_ = -1;
  pid_t owner_pid_ = 0;
  bool released_ = false;
};

}  // namespace idforge

#endif  // IDFORGE_FILE_RESERVATION_H_
