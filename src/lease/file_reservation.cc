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
#include <string>

#include "core/text.h"
#include "lease/host_lock.h"
#include "lease/records.h"

namespace idforge {
namespace {

using detail::cat;
using detail::io_error;
using detail::RecordState;
namespace fs = std::filesystem;

constexpr std::string_view kFloorName = "floor";

std::string lock_name(std::uint64_t node) { return cat("node-", node, ".lock"); }
std::string mark_name(std::uint64_t node) { return cat("node-", node, ".mark"); }

// Creates a directory group-writable and setgid (so files inherit its group),
// whatever the umask. Returns mkdir's result.
int make_dir(const fs::path& path) {
  if (::mkdir(path.c_str(), 02775) != 0) return -1;
  ::chmod(path.c_str(), 02775);
  return 0;
}

// The space's folder in `dir`, created if missing. `dir` itself is created only
// when its parent exists, so a mistyped path is an error rather than a fresh store.
Result<fs::path> open_store(const fs::path& dir, const NodeSpace& space) {
  if (dir.empty()) {
    return Error(Errc::invalid_argument, "the data directory is empty; give a directory such as /var/lib/idforge");
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return io_error("cannot use data directory", dir, errno);
    const fs::path whole = dir.has_filename() ? dir : dir.parent_path();
    const fs::path parent = whole.has_parent_path() ? whole.parent_path() : fs::path(".");
    if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Error(Errc::io, cat("data directory ", dir.string(), " does not exist, and neither does its parent ",
                                 parent.string(), "; create it, or check the path"));
    }
    if (make_dir(dir) != 0 && errno != EEXIST) return io_error("cannot create data directory", dir, errno);
  } else if (!S_ISDIR(st.st_mode)) {
    return Error(Errc::io, cat("data directory ", dir.string(), " is not a directory"));
  }
  const fs::path folder = FileReservation::space_dir(dir, space);
  if (make_dir(folder) != 0 && errno != EEXIST) return io_error("cannot create", folder, errno);
  return folder;
}

// The holder's PID from its lock file. A holder writes it just after it locks, so
// a reader that comes between the two looks again for a moment (for the message
// only: nothing depends on it).
std::string holder_of(int fd) {
  for (int tries = 0; tries < 100; ++tries) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    if (!pid.empty()) return cat("process ", pid);
    ::usleep(1000);
  }
  return "another process";
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
  std::optional<Error> refusal;  // A damaged record leaves the node's past unknown.
};

Result<Inheritance> inherit(const fs::path& folder, const NodeSpace& space, std::uint64_t node) {
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
                     node, " again, delete ", mark_path.string(),
                     " only once this machine's clock is past the newest ID the node ever issued (find the largest "
                     "ID of this node in your data and read its time with 'idforge decode')"));
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
  return out;
}

// Sets (or, with `raise_only`, raises) `node`'s entry in the floor, under an
// exclusive lock on the folder so that holders of other nodes keep theirs. A floor
// that is missing or damaged is rebuilt from every valid mark in the folder.
Result<void> update_floor(int dir_fd, const fs::path& folder, std::string_view space, std::uint64_t node,
                          std::int64_t stamp, bool raise_only) {
  while (::flock(dir_fd, LOCK_EX) != 0) {
    if (errno != EINTR) return io_error("cannot lock", folder, errno);
  }
  const fs::path path = folder / kFloorName;
  Result<void> written;
  Result<detail::FloorRecord> floor = detail::read_floor(path, space);
  if (!floor) {
    written = floor.error();
  } else {
    std::map<std::uint64_t, std::int64_t> stamps = std::move(floor->stamps);
    if (floor->state != RecordState::valid) {
      std::error_code ec;
      for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with("node-") || !name.ends_with(".mark")) continue;
        std::optional<std::uint64_t> n = detail::parse_digits(std::string_view(name).substr(5, name.size() - 10));
        if (!n) continue;
        Result<detail::MarkRecord> mark = detail::read_mark(entry.path(), space, *n);
        if (mark && mark->state == RecordState::valid) stamps[*n] = mark->stamp;
      }
    }
    auto [it, added] = stamps.emplace(node, stamp);
    if (!added) it->second = raise_only ? std::max(it->second, stamp) : stamp;
    written = detail::replace_file(path, detail::floor_text(space, stamps));
  }
  ::flock(dir_fd, LOCK_UN);
  return written;
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
  Result<Inheritance> found = inherit(space_dir(dir, space), space, node);
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
  const std::string pid = cat(r->owner_pid_, "\n");
  if (::ftruncate(r->lock_fd_, 0) != 0 || ::pwrite(r->lock_fd_, pid.data(), pid.size(), 0) < 0) {
    return {io_error("cannot write lock file", r->lock_path_, errno)};
  }
  Result<Inheritance> found = inherit(folder, space, node);
  if (!found) return {found.error()};
  if (found->refusal) return {*found->refusal, true};
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
  Result<fs::path> folder = open_store(dir, space);
  if (!folder) return folder.error();
  return try_acquire(*folder, space, node).result;
}

Result<std::unique_ptr<FileReservation>> FileReservation::acquire_any(const fs::path& dir, const NodeSpace& space,
                                                                      std::uint64_t first, std::uint64_t last) {
  if (first > last) detail::die("FileReservation::acquire_any: first > last");
  if (space.node_bits < 64 && last >> space.node_bits) {
    return Error(Errc::invalid_argument, cat("node ", last, " is outside ", space.name, "'s ",
                                             1ULL << space.node_bits, " nodes (0-", (1ULL << space.node_bits) - 1, ")"));
  }
  Result<fs::path> folder = open_store(dir, space);
  if (!folder) return folder.error();
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
  if (Result<void> r = detail::replace_file(mark_path_, detail::mark_text(space_, node_, stamp, layout_)); !r) return r;
  if (Result<void> r = update_floor(dir_fd_, folder_, space_, node_, stamp, /*raise_only=*/false); !r) return r;
  if (::fsync(dir_fd_) != 0) return io_error("cannot fsync", folder_, errno);
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

}  // namespace idforge
