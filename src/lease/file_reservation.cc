// SPDX-License-Identifier: Apache-2.0
#include "idforge/file_reservation.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <set>
#include <string>

#include "core/text.h"
#include "lease/host_lock.h"
#include "lease/records.h"

namespace idforge {
namespace {

using detail::cat;
using detail::io_error;
using detail::kFloorName;
using detail::lock_name;
using detail::mark_name;
using detail::RecordState;
using detail::update_floor;
namespace fs = std::filesystem;

// A lock file holds its holder's PID and, once the holder has made a reservation
// durable, the line "reserved STAMP": the host's own record of the node's last
// use, written only after the mark and the floor are fsync'd, so it is never
// above them unless they went back in time.
struct LockText {
  std::string pid;
  std::optional<std::int64_t> reserved;
};

LockText read_lock_text(int fd) {
  char buf[96] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  const std::string_view text(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  LockText out;
  const std::size_t nl = text.find('\n');
  out.pid = std::string(text.substr(0, nl));
  if (nl != std::string_view::npos) {
    std::string_view rest = text.substr(nl + 1);
    if (rest.starts_with("reserved ") && rest.ends_with('\n')) {
      out.reserved = detail::parse_nonnegative(rest.substr(9, rest.size() - 10));
    }
  }
  return out;
}

// Writes the lock file's text (pwrite, then cut to its length: a crash between
// the two leaves a longer text whose record line is unreadable, never a wrong one).
bool write_lock_text(int fd, pid_t pid, std::optional<std::int64_t> reserved) {
  const std::string text = cat(pid, "\n", reserved ? cat("reserved ", *reserved, "\n") : std::string());
  return ::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()) &&
         ::ftruncate(fd, static_cast<off_t>(text.size())) == 0;
}

// The holder's PID from its lock file. A holder writes it just after it locks, so
// a reader that comes between the two looks again for a moment (for the message
// only: nothing depends on it).
std::string holder_of(int fd) {
  for (int tries = 0; tries < 100; ++tries) {
    const std::string pid = read_lock_text(fd).pid;
    if (!pid.empty()) return cat("process ", pid);
    ::usleep(1000);
  }
  return "another process";
}

// Refuses the file store of a folder whose nodes this host takes from etcd.
Result<void> check_not_clustered(const fs::path& folder, std::string_view space) {
  const auto records = detail::cluster_records(folder);
  if (records.empty()) return {};
  const auto& [path, record] = records.front();
  return Error(Errc::invalid_argument,
               cat("this host takes its nodes of ", space, " from etcd (",
                   record.state == RecordState::valid
                       ? cat("ID space ", record.space_id, " under ", record.prefix, " at ", record.endpoints)
                       : std::string("a record it cannot read"),
                   ", recorded in ", path.string(), "), so the data directory must not hand them out beside it: use "
                   "--etcd (or IDFORGE_ETCD) to lease a node of the cluster. If this host no longer serves that "
                   "cluster, remove ", path.string()));
}

bool same_file(int fd, const fs::path& path) {
  struct stat open_file {}, at_path {};
  if (::fstat(fd, &open_file) != 0 || open_file.st_nlink == 0) return false;
  if (::lstat(path.c_str(), &at_path) != 0) return false;
  return open_file.st_dev == at_path.st_dev && open_file.st_ino == at_path.st_ino;
}

// What the records say of one node: the stamp to start after, notes, or a refusal.
struct Inheritance {
  std::optional<std::int64_t> stamp;
  std::vector<std::string> notes;
  std::optional<Error> refusal;  // A damaged record leaves the node's past unknown,
  bool went_back = false;        // or the records went back in time (refuse, never skip).
};

Result<Inheritance> inherit(const fs::path& folder, const NodeSpace& space, std::uint64_t node,
                            std::optional<std::int64_t> last_reserved) {
  const fs::path mark_path = folder / mark_name(node);
  Result<detail::MarkRecord> mark = detail::read_mark(mark_path, space.name, node);
  if (!mark) return mark.error();
  Result<detail::FloorRecord> floor = detail::read_floor(folder / kFloorName, space.name);
  if (!floor) return floor.error();
  std::optional<std::int64_t> floor_stamp;
  if (auto it = floor->stamps.find(node); it != floor->stamps.end()) floor_stamp = it->second;

  Inheritance out;
  if (floor->state == RecordState::damaged) {
    out.notes.push_back(cat("the floor of ", space.name, " is ", floor->why,
                            "; it is rebuilt from the nodes' marks at the next extension"));
  }
  const auto unknown_past = [&](std::string what) {
    return Error(Errc::io,
                 cat("node ", node, " of ", space.name, ": ", what,
                     ", so nothing says which IDs the node issued; refusing it rather than risk repeating them. "
                     "Use another node (a range takes the next free one). To use node ",
                     node, " again, once no process uses the data directory, run 'idforge nodes recover --data-dir ",
                     folder.parent_path().string(), " --issued-until TIME' with the time of the newest ID the node ever "
                     "issued (find the largest ID of this node in your data and read its time with 'idforge decode'), "
                     "and the --layout of its IDs"));
  };
  switch (mark->state) {
    case RecordState::valid:
      out.stamp = std::max(mark->stamp, floor_stamp.value_or(-1));
      if (mark->layout != space.layout) {
        out.notes.push_back(cat("node ", node, " was last held under layout ", mark->layout,
                                "; its stamps continue after stamp ", *out.stamp, " (layouts of one geometry share nodes)"));
      }
      break;
    case RecordState::missing:
      if (floor_stamp) {
        out.stamp = floor_stamp;
        out.notes.push_back(cat("node ", node, "'s mark ", mark_path.string(),
                                " is missing; continuing after the floor's record of it (stamp ", *floor_stamp, ")"));
      } else if (floor->state == RecordState::damaged) {
        out.refusal = unknown_past(cat("its mark is missing and the floor is ", floor->why));
      }
      break;
    case RecordState::damaged:
      if (floor_stamp) {
        out.stamp = floor_stamp;
        out.notes.push_back(cat("node ", node, "'s mark ", mark_path.string(), " is ", mark->why,
                                "; continuing after the floor's record of it (stamp ", *floor_stamp,
                                "), and the next extension rewrites the mark"));
      } else {
        out.refusal = unknown_past(cat("its mark ", mark_path.string(), " is ", mark->why,
                                       " and the floor has no record of the node"));
      }
      break;
  }
  if (!out.refusal && last_reserved && out.stamp.value_or(-1) < *last_reserved) {
    out.went_back = true;
    // The records are below what this host itself made durable: they went back in
    // time (a floor deleted and an older mark restored, a folder restored from a
    // backup). Absent is never zero, and older is never the truth.
    out.refusal = Error(
        Errc::io,
        cat("node ", node, " of ", space.name, ": this host reserved it up to stamp ", *last_reserved,
            " (its lock file says so), but its mark and the floor ",
            out.stamp ? cat("say only ", *out.stamp) : std::string("are gone"),
            ": the data directory went back in time (a floor deleted and an older mark restored, or the folder "
            "restored from a backup), and IDs past what they say may have been issued already. Refusing to issue "
            "rather than repeat them; once no process uses the node, run 'idforge nodes recover --data-dir ",
            folder.parent_path().string(), "' (with --issued-until TIME if IDs may reach further) to raise every "
            "record of ", space.name, " past them"));
  }
  return out;
}

// The lock record of `node` in `folder`, read without locking (for inspection).
std::optional<std::int64_t> last_reserved_of(const fs::path& folder, std::uint64_t node) {
  const int fd = ::open((folder / lock_name(node)).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const std::optional<std::int64_t> reserved = read_lock_text(fd).reserved;
  ::close(fd);
  return reserved;
}

}  // namespace

struct FileReservation::Attempt {
  Result<std::unique_ptr<FileReservation>> result;
  bool damaged = false;  // Refused for a record that leaves the node's past unknown.
};

FileReservation::FileReservation() = default;

fs::path FileReservation::space_dir(const fs::path& dir, const NodeSpace& space) { return dir / space.name; }

Result<std::optional<std::int64_t>> FileReservation::recorded_stamp(const fs::path& dir, const NodeSpace& space,
                                                                    std::uint64_t node) {
  const fs::path folder = space_dir(dir, space);
  Result<Inheritance> found = inherit(folder, space, node, last_reserved_of(folder, node));
  if (!found) return found.error();
  if (found->refusal) return *found->refusal;
  return found->stamp;
}

FileReservation::Attempt FileReservation::try_acquire(const fs::path& folder, const NodeSpace& space,
                                                      std::uint64_t node) {
  std::unique_ptr<FileReservation> r(new FileReservation());
  r->space_ = space.name;
  r->layout_ = space.layout;
  r->node_ = node;
  r->folder_ = folder;
  r->lock_path_ = folder / lock_name(node);
  r->mark_path_ = folder / mark_name(node);
  r->dir_fd_ = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (r->dir_fd_ < 0) return {io_error("cannot open directory", folder, errno)};
  const std::string held_by_other = cat("; choose another node, or stop that process");
  // The file locked must be the one at the path: a lock file removed between
  // open() and flock() would lock nothing anyone else sees.
  for (int tries = 0;; ++tries) {
    r->lock_fd_ = ::openat(r->dir_fd_, lock_name(node).c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0664);
    if (r->lock_fd_ < 0) {
      if (errno == ELOOP) {
        return {Error(Errc::io, cat("lock file ", r->lock_path_.string(),
                                    " is a symbolic link; idforge locks only its own files: remove it"))};
      }
      return {io_error("cannot open lock file", r->lock_path_, errno)};
    }
    if (::flock(r->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return {Error(Errc::unavailable, cat("node ", node, " of ", space.name, " is held by ", holder_of(r->lock_fd_),
                                             " (lock ", r->lock_path_.string(), ")", held_by_other))};
      }
      return {io_error("cannot lock", r->lock_path_, errno)};
    }
    if (same_file(r->lock_fd_, r->lock_path_)) break;
    ::close(r->lock_fd_);
    r->lock_fd_ = -1;
    if (tries == 3) {
      return {Error(Errc::unavailable, cat("lock file ", r->lock_path_.string(), " keeps being replaced; retry"))};
    }
  }
  struct stat st {};
  if (::fstat(r->lock_fd_, &st) == 0 && st.st_uid == ::geteuid() && (st.st_mode & 07777) != 0664) {
    ::fchmod(r->lock_fd_, 0664);
  }
  char* real = ::realpath(r->lock_path_.c_str(), nullptr);
  const std::string key = real ? std::string(real) : r->lock_path_.string();
  std::free(real);
  Result<detail::HostLock> host = detail::HostLock::take(key);
  if (!host) {
    return {Error(Errc::unavailable, cat("node ", node, " of ", space.name, ": ", host.error().message(), " (lock ",
                                         r->lock_path_.string(), ")", held_by_other))};
  }
  r->host_lock_ = std::make_unique<detail::HostLock>(std::move(*host));
  r->owner_pid_ = ::getpid();
  r->last_reserved_ = read_lock_text(r->lock_fd_).reserved;
  if (!write_lock_text(r->lock_fd_, r->owner_pid_, r->last_reserved_)) {
    return {io_error("cannot write lock file", r->lock_path_, errno)};
  }
  Result<Inheritance> found = inherit(folder, space, node, r->last_reserved_);
  if (!found) return {found.error()};
  if (found->refusal) return {*found->refusal, !found->went_back};
  r->inherited_ = found->stamp;
  r->notes_ = std::move(found->notes);
  return {std::move(r)};
}

Result<std::unique_ptr<FileReservation>> FileReservation::acquire(const fs::path& dir, const NodeSpace& space,
                                                                  std::uint64_t node) {
  if (space.node_bits < 64 && node >> space.node_bits) {
    return Error(Errc::invalid_argument, cat("node ", node, " is outside ", space.name, "'s ",
                                             1ULL << space.node_bits, " nodes (0-", (1ULL << space.node_bits) - 1, ")"));
  }
  Result<fs::path> folder = detail::open_space_folder(dir, space.name);
  if (!folder) return folder.error();
  if (Result<void> local = check_not_clustered(*folder, space.name); !local) return local.error();
  return try_acquire(*folder, space, node).result;
}

Result<std::unique_ptr<FileReservation>> FileReservation::acquire_any(const fs::path& dir, const NodeSpace& space,
                                                                      std::uint64_t first, std::uint64_t last) {
  if (first > last) detail::die("FileReservation::acquire_any: first > last");
  if (space.node_bits < 64 && last >> space.node_bits) {
    return Error(Errc::invalid_argument, cat("node ", last, " is outside ", space.name, "'s ",
                                             1ULL << space.node_bits, " nodes (0-", (1ULL << space.node_bits) - 1, ")"));
  }
  Result<fs::path> folder = detail::open_space_folder(dir, space.name);
  if (!folder) return folder.error();
  if (Result<void> local = check_not_clustered(*folder, space.name); !local) return local.error();
  std::vector<std::string> skipped;
  for (std::uint64_t node = first;; ++node) {
    Attempt attempt = try_acquire(*folder, space, node);
    if (attempt.result) {
      std::vector<std::string>& notes = (*attempt.result)->notes_;
      for (std::string& s : skipped) s = cat("skipped ", s);
      notes.insert(notes.begin(), skipped.begin(), skipped.end());
      return std::move(attempt.result);
    }
    if (attempt.damaged) {
      skipped.push_back(attempt.result.error().message());
    } else if (attempt.result.error().code() != Errc::unavailable) {
      return std::move(attempt.result);
    }
    if (node == last) break;
  }
  return Error(Errc::unavailable,
               cat("every node ", first, "-", last, " of ", space.name, " in ", dir.string(), " is held by a running ",
                   "process", skipped.empty() ? "" : cat(" or refused for a damaged record (", skipped.size(), ")"),
                   "; widen the range or stop one"));
}

FileReservation::~FileReservation() {
  if (lock_fd_ >= 0 && !released_ && ::getpid() == owner_pid_) ::flock(lock_fd_, LOCK_UN);
  if (lock_fd_ >= 0) ::close(lock_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

bool FileReservation::still_holds() const { return same_file(lock_fd_, lock_path_); }

Error FileReservation::lost_error() const {
  return Error(Errc::lease_lost,
               cat("node ", node_, " of ", space_, ": its lock file ", lock_path_.string(),
                   " was removed or replaced while this process held it (or its data directory was), so another "
                   "process may take the node; stopped issuing on it. Restart to take a node again, and never "
                   "delete files in the data directory of a running holder"));
}

Result<void> FileReservation::record(std::int64_t stamp) {
  // Lowering (the final mark, below the last reservation): the lock file's note
  // goes down first, durably, so that no crash leaves it above the records.
  if (last_reserved_ && stamp < *last_reserved_) {
    if (!write_lock_text(lock_fd_, owner_pid_, stamp) || ::fdatasync(lock_fd_) != 0) {
      return io_error("cannot write lock file", lock_path_, errno);
    }
    last_reserved_ = stamp;
  }
  if (Result<void> r = detail::replace_file(mark_path_, detail::mark_text(space_, node_, stamp, layout_)); !r) return r;
  if (Result<void> r = update_floor(dir_fd_, folder_, space_, node_, stamp, /*raise_only=*/false); !r) return r;
  if (::fsync(dir_fd_) != 0) return io_error("cannot fsync", folder_, errno);
  // Only now, with both records durable: the host's own note of the reservation.
  // Not fsync'd — a lost note weakens the check of the next holder, never misleads it.
  if (last_reserved_ != stamp) {
    last_reserved_ = stamp;
    (void)write_lock_text(lock_fd_, owner_pid_, stamp);
  }
  return {};
}

Result<void> FileReservation::extend(std::int64_t until_stamp) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  if (::getpid() != owner_pid_) return Error(Errc::lease_lost, "the reservation belongs to the parent process");
  // Check, write, fsync, check again: a lock removed before the write is seen
  // first; one removed after it lets in only a holder that reads this write.
  if (lost_ || !still_holds()) {
    lost_ = true;
    return lost_error();
  }
  if (Result<void> r = record(until_stamp); !r) return r;
  if (!still_holds()) {
    lost_ = true;
    return lost_error();
  }
  return {};
}

Result<void> FileReservation::release(std::optional<std::int64_t> final_stamp) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  if (::getpid() != owner_pid_) return Error(Errc::lease_lost, "the reservation belongs to the parent process");
  released_ = true;
  if (lost_ || !still_holds()) {
    lost_ = true;
    // Put the final reservation back where the next holder looks, raising what is
    // there and never lowering it, then report the loss.
    if (final_stamp) {
      std::error_code ec;
      fs::create_directories(folder_, ec);
      Result<detail::MarkRecord> mark = detail::read_mark(mark_path_, space_, node_);
      if (!mark || mark->state != RecordState::valid || mark->stamp < *final_stamp) {
        (void)detail::replace_file(mark_path_, detail::mark_text(space_, node_, *final_stamp, layout_));
      }
      const int fd = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0) {
        (void)update_floor(fd, folder_, space_, node_, *final_stamp, /*raise_only=*/true);
        ::fsync(fd);
        ::close(fd);
      }
    }
    ::flock(lock_fd_, LOCK_UN);
    return lost_error();
  }
  Result<void> written = final_stamp ? record(*final_stamp) : Result<void>();
  ::flock(lock_fd_, LOCK_UN);
  host_lock_.reset();
  return written;
}

Result<std::uint64_t> FileReservation::recover(const fs::path& dir, const NodeSpace& space, std::int64_t until_stamp) {
  const fs::path folder = space_dir(dir, space);
  const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return io_error("cannot open the ID space's folder", folder, errno);
  // Every node the folder knows of: a lock file, a mark, or a floor entry.
  std::set<std::uint64_t> nodes;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    for (std::string_view suffix : {".lock", ".mark"}) {
      if (std::optional<std::uint64_t> n = detail::node_of(name, suffix)) nodes.insert(*n);
    }
  }
  if (Result<detail::FloorRecord> floor = detail::read_floor(folder / kFloorName, space.name); floor) {
    for (const auto& [node, stamp] : floor->stamps) nodes.insert(node);
  }
  // Lock them all first: nothing is written while any is held.
  std::vector<std::pair<std::uint64_t, int>> locked;
  const auto unlock_all = [&] {
    for (auto& [node, fd] : locked) {
      ::flock(fd, LOCK_UN);
      ::close(fd);
    }
    ::close(dir_fd);
  };
  for (std::uint64_t node : nodes) {
    const int fd = ::openat(dir_fd, lock_name(node).c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0664);
    if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const std::string who = fd >= 0 ? holder_of(fd) : std::string("a file it cannot open");
      if (fd >= 0) ::close(fd);
      unlock_all();
      return Error(Errc::unavailable, cat("node ", node, " of ", space.name, " in ", dir.string(), " is held by ", who,
                                          "; stop every process that uses the data directory, then recover it"));
    }
    locked.emplace_back(node, fd);
  }
  Result<std::uint64_t> raised = std::uint64_t{0};
  for (auto& [node, fd] : locked) {
    Result<Inheritance> found = inherit(folder, space, node, std::nullopt);
    std::int64_t target = std::max(until_stamp, read_lock_text(fd).reserved.value_or(-1));
    if (found && found->stamp) target = std::max(target, *found->stamp);
    if (Result<void> w =
            detail::replace_file(folder / mark_name(node), detail::mark_text(space.name, node, target, space.layout));
        !w) {
      raised = w.error();
      break;
    }
    if (Result<void> w = update_floor(dir_fd, folder, space.name, node, target, /*raise_only=*/false); !w) {
      raised = w.error();
      break;
    }
    if (::fsync(dir_fd) != 0 || !write_lock_text(fd, ::getpid(), target) || ::fdatasync(fd) != 0) {
      raised = io_error("cannot write the records of", folder, errno);
      break;
    }
    ++*raised;
  }
  unlock_all();
  return raised;
}

}  // namespace idforge
