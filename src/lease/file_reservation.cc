#include "idforge/file_reservation.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/text.h"

namespace idforge {
namespace {

using detail::cat;
namespace fs = std::filesystem;

constexpr std::string_view kMagic = "idforge-reservation 1";

Error io_error(std::string_view what, const fs::path& path, int err) {
  return Error(Errc::io, cat(what, " ", path.string(), ": ", std::strerror(err)));
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string mark_body(std::string_view spec, std::uint64_t node, std::int64_t until_ms) {
  return cat(kMagic, "\nlayout ", spec, "\nnode ", node, "\nreserved_until_unix_ms ", until_ms, "\n");
}

Result<void> write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<std::string> read_all(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path, errno);
  std::string data;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return io_error("cannot read", path, err);
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > 64 * 1024) break;
  }
  ::close(fd);
  return data;
}

std::string holder_of(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? std::string("another process") : cat("process ", pid);
}

}  // namespace

NodeSpace::NodeSpace(const Layout& layout)
    : name(layout.name()), spec(layout.spec()), node_bits(layout.node_bits()) {}

NodeSpace NodeSpace::flake128() { return NodeSpace("flake128", "flake128/worker:48", 48); }

fs::path FileReservation::layout_dir(const fs::path& dir, const NodeSpace& space) {
  return dir / cat(space.name, "-", hex64(detail::fnv1a64(space.spec)));
}

Result<std::optional<std::int64_t>> FileReservation::read_mark(const fs::path& mark_path, const NodeSpace& space,
                                                                std::uint64_t node) {
  std::error_code ec;
  if (!fs::exists(mark_path, ec)) {
    if (ec) return io_error("cannot check", mark_path, ec.value());
    return std::optional<std::int64_t>();
  }
  Result<std::string> data = read_all(mark_path);
  if (!data) return data.error();
  auto corrupt = [&](std::string_view why) {
    return Error(Errc::io, cat("reservation mark ", mark_path.string(), " is ", why,
                               "; refusing to start, because resetting it could repeat IDs. Restore it from "
                               "backup, or delete it only if no ID of node ",
                               node, " was issued after the time you can vouch for"));
  };
  if (data->empty()) return corrupt("empty");
  const std::size_t checksum_at = data->rfind("checksum ");
  if (checksum_at == std::string::npos || data->back() != '\n') return corrupt("truncated");
  const std::string body = data->substr(0, checksum_at);
  if (data->substr(checksum_at) != cat("checksum ", hex64(detail::fnv1a64(body)), "\n")) {
    return corrupt("corrupt (checksum mismatch)");
  }
  const std::string prefix = mark_body(space.spec, node, 0);
  const std::string_view expected_head = std::string_view(prefix).substr(0, prefix.rfind(' ') + 1);
  if (!body.starts_with(expected_head)) return corrupt(cat("for another layout or node (expected ", space.spec,
                                                           " node ", node, ")"));
  std::string_view value = std::string_view(body).substr(expected_head.size());
  value.remove_suffix(1);  // The newline.
  const bool negative = value.starts_with('-');
  auto magnitude = detail::parse_nonnegative(negative ? value.substr(1) : value);
  if (!magnitude) return corrupt("corrupt (bad reserved_until_unix_ms)");
  return std::optional<std::int64_t>(negative ? -*magnitude : *magnitude);
}

Result<std::unique_ptr<FileReservation>> FileReservation::try_acquire(const fs::path& dir, const NodeSpace& space,
                                                                      std::uint64_t node) {
  const fs::path lock_path = dir / cat("node-", node, ".lock");
  std::unique_ptr<FileReservation> r(new FileReservation());
  r->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (r->lock_fd_ < 0) return io_error("cannot open lock file", lock_path, errno);
  if (::flock(r->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Error(Errc::unavailable, cat("node ", node, " of ", space.name, " is held by ",
                                          holder_of(r->lock_fd_), " (lock ", lock_path.string(),
                                          "); choose another node or stop that process"));
    }
    return io_error("cannot lock", lock_path, errno);
  }
  r->owner_pid_ = ::getpid();
  const std::string pid = cat(r->owner_pid_, "\n");
  if (::ftruncate(r->lock_fd_, 0) != 0 || ::pwrite(r->lock_fd_, pid.data(), pid.size(), 0) < 0) {
    return io_error("cannot write lock file", lock_path, errno);
  }
  r->dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (r->dir_fd_ < 0) return io_error("cannot open directory", dir, errno);
  r->layout_spec_ = space.spec;
  r->node_ = node;
  r->mark_path_ = dir / cat("node-", node, ".mark");
  Result<std::optional<std::int64_t>> inherited = read_mark(r->mark_path_, space, node);
  if (!inherited) return inherited.error();
  r->inherited_ = *inherited;
  return r;
}

Result<std::unique_ptr<FileReservation>> FileReservation::acquire(const fs::path& dir, const NodeSpace& space,
                                                                  std::uint64_t node) {
  if (space.node_bits < 64 && node >> space.node_bits) {
    return Error(Errc::invalid_argument, cat("node ", node, " is outside ", space.name, "'s ",
                                             1ULL << space.node_bits, " nodes"));
  }
  const fs::path folder = layout_dir(dir, space);
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return io_error("cannot create data directory", folder, ec.value());
  return try_acquire(folder, space, node);
}

Result<std::unique_ptr<FileReservation>> FileReservation::acquire_any(const fs::path& dir, const NodeSpace& space,
                                                                      std::uint64_t first, std::uint64_t last) {
  if (first > last) detail::die("FileReservation::acquire_any: first > last");
  for (std::uint64_t node = first;; ++node) {
    Result<std::unique_ptr<FileReservation>> r = acquire(dir, space, node);
    if (r || r.error().code() != Errc::unavailable) return r;
    if (node == last) break;
  }
  return Error(Errc::unavailable, cat("every node ", first, "-", last, " of ", space.name, " in ",
                                      dir.string(), " is held by a running process; widen the range or stop one"));
}

FileReservation::~FileReservation() {
  if (lock_fd_ >= 0 && !released_ && ::getpid() == owner_pid_) ::flock(lock_fd_, LOCK_UN);
  if (lock_fd_ >= 0) ::close(lock_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

Result<void> FileReservation::write_mark(std::int64_t until_unix_ms) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  if (::getpid() != owner_pid_) return Error(Errc::lease_lost, "the reservation belongs to the parent process");
  const std::string body = mark_body(layout_spec_, node_, until_unix_ms);
  const std::string text = cat(body, "checksum ", hex64(detail::fnv1a64(body)), "\n");
  fs::path tmp = mark_path_;
  tmp += ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create", tmp, errno);
  Result<void> written = write_all(fd, text, tmp);
  if (written && ::fsync(fd) != 0) written = io_error("cannot fsync", tmp, errno);
  ::close(fd);
  if (!written) return written;
  if (::rename(tmp.c_str(), mark_path_.c_str()) != 0) return io_error("cannot rename onto", mark_path_, errno);
  if (::fsync(dir_fd_) != 0) return io_error("cannot fsync the directory of", mark_path_, errno);
  return {};
}

Result<void> FileReservation::extend(std::int64_t until_unix_ms) { return write_mark(until_unix_ms); }

Result<void> FileReservation::release(std::int64_t until_unix_ms) {
  Result<void> written = write_mark(until_unix_ms);
  if (!written) return written;
  released_ = true;
  ::flock(lock_fd_, LOCK_UN);
  return {};
}

}  // namespace idforge
