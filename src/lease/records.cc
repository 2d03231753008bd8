// SPDX-License-Identifier: Apache-2.0
#include "lease/records.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "core/text.h"

namespace idforge::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMarkMagic = "idforge-mark 2";
constexpr std::string_view kFloorMagic = "idforge-floor 1";
constexpr std::string_view kClusterMagic = "idforge-etcd-space 1";
// A floor lists one line per node ever held; no honest record is larger.
constexpr std::size_t kMaxRecordBytes = 16 << 20;

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string with_checksum(const std::string& body) { return cat(body, "checksum ", hex64(fnv1a64(body)), "\n"); }

// The file's bytes, nullopt when it does not exist, or a reason it is damaged.
struct Raw {
  std::optional<std::string> text;
  std::string damaged;
};

Result<Raw> read_raw(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Raw{};
    return io_error("cannot check", path, errno);
  }
  if (S_ISLNK(st.st_mode)) return Raw{std::nullopt, "a symbolic link, not the file idforge wrote"};
  if (!S_ISREG(st.st_mode)) return Raw{std::nullopt, "not a regular file"};
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Raw{};
    return io_error("cannot open", path, errno);
  }
  std::string data;
  char buf[1 << 16];
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
    if (data.size() > kMaxRecordBytes) {
      ::close(fd);
      return Raw{std::nullopt, "too large"};
    }
  }
  ::close(fd);
  if (data.empty()) return Raw{std::nullopt, "empty"};
  return Raw{std::move(data), ""};
}

// The body before a valid checksum line, or why there is none.
std::optional<std::string> checked_body(const std::string& data, std::string& why) {
  const std::size_t at = data.rfind("checksum ");
  if (at == std::string::npos || data.back() != '\n') {
    why = "truncated";
    return std::nullopt;
  }
  std::string body = data.substr(0, at);
  if (data.substr(at) != cat("checksum ", hex64(fnv1a64(body)), "\n")) {
    why = "corrupt (checksum mismatch)";
    return std::nullopt;
  }
  return body;
}

// Splits a body into its lines (each without its newline).
std::vector<std::string_view> lines_of(std::string_view body) {
  std::vector<std::string_view> out;
  while (!body.empty()) {
    const std::size_t nl = body.find('\n');
    out.push_back(body.substr(0, nl));
    body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
  }
  return out;
}

// The value after `key ` on `line`, or nullopt.
std::optional<std::string_view> value_of(std::string_view line, std::string_view key) {
  if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ' ') return std::nullopt;
  return line.substr(key.size() + 1);
}

std::optional<std::int64_t> parse_stamp(std::string_view text) { return parse_nonnegative(text); }

// Reads `path` and sets `record`'s state and why for what the bytes alone show:
// missing, or damaged (not a regular file, empty, truncated, a bad checksum).
// Returns the checked body when there is one to parse; the record is then
// damaged until its parser says otherwise.
template <class Record>
Result<std::optional<std::string>> read_body(const fs::path& path, Record& record) {
  Result<Raw> raw = read_raw(path);
  if (!raw) return raw.error();
  if (!raw->text) {
    record.state = raw->damaged.empty() ? RecordState::missing : RecordState::damaged;
    record.why = raw->damaged;
    return std::optional<std::string>();
  }
  record.state = RecordState::damaged;
  return checked_body(*raw->text, record.why);
}

}  // namespace

Error io_error(std::string_view what, const fs::path& path, int err) {
  return Error(Errc::io, cat(what, " ", path.string(), ": ", std::strerror(err)));
}

std::string mark_text(std::string_view space, std::uint64_t node, std::int64_t stamp, std::string_view layout) {
  return with_checksum(cat(kMarkMagic, "\nspace ", space, "\nnode ", node, "\nstamp ", stamp, "\nlayout ", layout, "\n"));
}

Result<MarkRecord> read_mark(const fs::path& path, std::string_view space, std::uint64_t node) {
  MarkRecord mark;
  Result<std::optional<std::string>> body = read_body(path, mark);
  if (!body) return body.error();
  if (!*body) return mark;
  const std::vector<std::string_view> lines = lines_of(**body);
  if (lines.size() != 5 || lines[0] != kMarkMagic) {
    mark.why = "not an idforge mark of this version";
    return mark;
  }
  std::optional<std::string_view> s = value_of(lines[1], "space");
  std::optional<std::string_view> n = value_of(lines[2], "node");
  std::optional<std::string_view> stamp = value_of(lines[3], "stamp");
  std::optional<std::string_view> layout = value_of(lines[4], "layout");
  if (!s || *s != space || !n || parse_digits(*n) != node) {
    mark.why = cat("for another ID space or node (expected ", space, " node ", node, ")");
    return mark;
  }
  std::optional<std::int64_t> value = stamp ? parse_stamp(*stamp) : std::nullopt;
  if (!value || !layout) {
    mark.why = "corrupt (bad stamp)";
    return mark;
  }
  mark.state = RecordState::valid;
  mark.stamp = *value;
  mark.layout = std::string(*layout);
  mark.why.clear();
  return mark;
}

std::string floor_text(std::string_view space, const std::map<std::uint64_t, std::int64_t>& stamps) {
  std::string body = cat(kFloorMagic, "\nspace ", space, "\n");
  for (const auto& [node, stamp] : stamps) body += cat("node ", node, " stamp ", stamp, "\n");
  return with_checksum(body);
}

Result<FloorRecord> read_floor(const fs::path& path, std::string_view space) {
  FloorRecord floor;
  Result<std::optional<std::string>> body = read_body(path, floor);
  if (!body) return body.error();
  if (!*body) return floor;
  const std::vector<std::string_view> lines = lines_of(**body);
  if (lines.size() < 2 || lines[0] != kFloorMagic || value_of(lines[1], "space") != space) {
    floor.why = cat("not the floor of ", space);
    return floor;
  }
  for (std::size_t i = 2; i < lines.size(); ++i) {
    std::optional<std::string_view> rest = value_of(lines[i], "node");
    const std::size_t gap = rest ? rest->find(" stamp ") : std::string_view::npos;
    std::optional<std::uint64_t> node = gap == std::string_view::npos ? std::nullopt : parse_digits(rest->substr(0, gap));
    std::optional<std::int64_t> stamp = node ? parse_stamp(rest->substr(gap + 7)) : std::nullopt;
    if (!stamp || !floor.stamps.emplace(*node, *stamp).second) {
      floor.stamps.clear();
      floor.why = cat("corrupt (line ", i + 1, ")");
      return floor;
    }
  }
  floor.state = RecordState::valid;
  floor.why.clear();
  return floor;
}

std::string mark_name(std::uint64_t node) { return cat("node-", node, ".mark"); }
std::string lock_name(std::uint64_t node) { return cat("node-", node, ".lock"); }
std::optional<std::uint64_t> node_of(std::string_view file_name, std::string_view suffix) {
  if (!file_name.starts_with("node-") || !file_name.ends_with(suffix)) return std::nullopt;
  return parse_digits(file_name.substr(5, file_name.size() - 5 - suffix.size()));
}

std::string cluster_record_name(std::string_view space_id) { return cat("etcd-", space_id); }

std::string cluster_record_text(const ClusterRecord& r) {
  return with_checksum(cat(kClusterMagic, "\nspace ", r.space_id, "\nprefix ", r.prefix, "\nendpoints ", r.endpoints,
                           "\ncluster ", hex_u64(r.cluster_id), "\nincarnation ", r.incarnation, "\nrevision ", r.revision,
                           "\nrefused ", r.refused.empty() ? std::string("-") : r.refused, "\n"));
}

Result<ClusterRecord> read_cluster_record(const fs::path& path) {
  ClusterRecord r;
  Result<std::optional<std::string>> body = read_body(path, r);
  if (!body) return body.error();
  if (!*body) return r;
  const std::vector<std::string_view> lines = lines_of(**body);
  const char* keys[] = {"space", "prefix", "endpoints", "cluster", "incarnation", "revision", "refused"};
  std::optional<std::string_view> v[7];
  bool shaped = lines.size() == 8 && lines[0] == kClusterMagic;
  for (std::size_t i = 0; shaped && i < 7; ++i) shaped = (v[i] = value_of(lines[i + 1], keys[i])).has_value();
  std::optional<std::int64_t> incarnation = shaped ? parse_stamp(*v[4]) : std::nullopt;
  std::optional<std::int64_t> revision = shaped ? parse_stamp(*v[5]) : std::nullopt;
  const std::optional<std::uint64_t> cluster = shaped ? parse_hex_u64(*v[3]) : std::nullopt;
  if (!incarnation || !revision || !cluster) {
    r.why = "not an idforge etcd record of this version";
    return r;
  }
  r.state = RecordState::valid;
  r.space_id = std::string(*v[0]);
  r.prefix = std::string(*v[1]);
  r.endpoints = std::string(*v[2]);
  r.cluster_id = *cluster;
  r.incarnation = *incarnation;
  r.revision = *revision;
  r.refused = *v[6] == "-" ? std::string() : std::string(*v[6]);
  return r;
}

std::vector<std::pair<fs::path, ClusterRecord>> cluster_records(const fs::path& folder) {
  std::vector<std::pair<fs::path, ClusterRecord>> out;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("etcd-") || name.ends_with(".tmp")) continue;
    Result<ClusterRecord> r = read_cluster_record(entry.path());
    ClusterRecord record = r ? *r : ClusterRecord{};
    if (!r) {
      record.state = RecordState::damaged;
      record.why = r.error().message();
    }
    out.emplace_back(entry.path(), std::move(record));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

namespace {

// Creates a directory group-writable and setgid (so files inherit its group),
// whatever the umask. Returns mkdir's result.
int make_dir(const fs::path& path) {
  if (::mkdir(path.c_str(), 02775) != 0) return -1;
  ::chmod(path.c_str(), 02775);
  return 0;
}

}  // namespace

Result<fs::path> open_space_folder(const fs::path& dir, std::string_view space_name) {
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
  const fs::path folder = dir / space_name;
  if (make_dir(folder) != 0 && errno != EEXIST) return io_error("cannot create", folder, errno);
  return folder;
}

Result<void> update_floor(int dir_fd, const fs::path& folder, std::string_view space, std::uint64_t node,
                          std::int64_t stamp, bool raise_only, std::optional<std::int64_t> only_if) {
  while (::flock(dir_fd, LOCK_EX) != 0) {
    if (errno != EINTR) return io_error("cannot lock", folder, errno);
  }
  const fs::path path = folder / kFloorName;
  Result<void> written;
  Result<FloorRecord> floor = read_floor(path, space);
  if (!floor) {
    written = floor.error();
  } else {
    std::map<std::uint64_t, std::int64_t> stamps = std::move(floor->stamps);
    if (floor->state != RecordState::valid) {
      std::error_code ec;
      for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
        const std::optional<std::uint64_t> n = node_of(entry.path().filename().string(), ".mark");
        if (!n) continue;
        Result<MarkRecord> mark = read_mark(entry.path(), space, *n);
        if (mark && mark->state == RecordState::valid) stamps[*n] = mark->stamp;
      }
    }
    auto [it, added] = stamps.emplace(node, stamp);
    const bool skip = !added && only_if && it->second != *only_if;
    if (!added && !skip) it->second = raise_only ? std::max(it->second, stamp) : stamp;
    if (!skip) written = replace_file(path, floor_text(space, stamps));
  }
  ::flock(dir_fd, LOCK_UN);
  return written;
}

Result<void> replace_file(const fs::path& path, std::string_view text) {
  fs::path tmp = path;
  tmp += ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0664);
  if (fd < 0) return io_error("cannot create", tmp, errno);
  Result<void> written;
  ::fchmod(fd, 0664);  // Best effort: a file of another owner keeps its mode.
  for (std::string_view left = text; written && !left.empty();) {
    const ssize_t n = ::write(fd, left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      written = io_error("cannot write", tmp, errno);
      break;
    }
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  if (written && ::fsync(fd) != 0) written = io_error("cannot fsync", tmp, errno);
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    return written;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("cannot rename onto", path, err);
  }
  return {};
}

}  // namespace idforge::detail
