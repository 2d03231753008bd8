// SPDX-License-Identifier: Apache-2.0
#include "server/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "idforge/clock.h"
#include "idforge/random.h"
#include "idforge/time_text.h"
#include "server/log.h"
#include "server/metrics.h"

namespace idforge::detail {
namespace {

// Lines waiting past this are dropped (and counted) rather than held.
constexpr std::size_t kMaxPendingBytes = 16 << 20;

Error io_error(const std::string& what, const std::string& path) {
  return Error(Errc::io, "cannot " + what + " the audit log '" + path + "': " + std::strerror(errno));
}

int open_for_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::open(AuditLogOptions options) {
  if (options.path.empty()) return Error(Errc::invalid_argument, "--audit-log needs a file name");
  const int fd = open_for_append(options.path);
  if (fd < 0) return io_error("open", options.path);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(Errc::io, "the audit log '" + options.path + "' is not a regular file");
  }
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(options), fd, static_cast<std::uint64_t>(st.st_size)));
}

// A random name for this run of the process, in every line.
std::string new_run_name() {
  char text[20];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(SystemRandom::instance().next_u64()));
  return text;
}

AuditLog::AuditLog(AuditLogOptions options, int fd, std::uint64_t size)
    : options_(std::move(options)), run_(new_run_name()), fd_(fd), size_(size) {
  writer_ = std::thread([this] { run(); });
}

AuditLog::~AuditLog() { (void)close(); }

nlohmann::ordered_json AuditLog::line_of(const Layout& layout, const char* kind, std::uint64_t node,
                                         std::uint64_t holder) const {
  static SystemClock clock;  // Calibrated once.
  return {{"at", format_utc_ms(clock.wall_ns() / 1'000'000)},
          {"host", options_.host},
          {"pid", options_.pid},
          {"run", run_},
          {"holder", holder},
          {"kind", kind},
          {"layout", layout.name() == "custom" ? layout.spec() : std::string(layout.name())},
          {"space", layout.geometry()},
          {"node", node}};
}

void AuditLog::queue(const nlohmann::ordered_json& line) {
  std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text += '\n';
  std::lock_guard lock(mutex_);
  if (closed_ || pending_.size() + text.size() > kMaxPendingBytes) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_ += text;
  records_.fetch_add(1, std::memory_order_relaxed);
}

void AuditLog::record(const Layout& layout, const ClaimedRange& range) {
  nlohmann::ordered_json line = line_of(layout, "claimed", range.node, range.holder);
  line["first"] = std::to_string(range.first_id);
  line["last"] = std::to_string(range.last_id);
  line["states"] = range.states;
  line["issued"] = range.issued;
  queue(line);
}

void AuditLog::reserve(const Layout& layout, const ReservedRange& range) {
  nlohmann::ordered_json line = line_of(layout, "reserved", range.node, range.holder);
  line["first"] = std::to_string(range.first_id);
  line["last"] = std::to_string(range.last_id);
  queue(line);
  flush();
}

void AuditLog::release(const Layout& layout, std::uint64_t node, std::uint64_t holder,
                       std::optional<std::uint64_t> last_id) {
  nlohmann::ordered_json line = line_of(layout, "released", node, holder);
  if (last_id) line["last"] = std::to_string(*last_id);
  queue(line);
}

void AuditLog::flush() {
  std::lock_guard write_lock(write_mutex_);
  std::string lines;
  {
    std::lock_guard lock(mutex_);
    lines.swap(pending_);
  }
  if (lines.empty()) return;
  Result<void> written = write_out(lines);
  std::lock_guard lock(mutex_);
  if (!written) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    if (!failing_) log(LogLevel::error, "audit log failing", {{"error", written.error().message()}});
    failing_ = written.error();
    // Keep the lines for the next attempt, ahead of newer ones, within the bound.
    if (lines.size() + pending_.size() <= kMaxPendingBytes) {
      pending_.insert(0, lines);
    } else {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (failing_) {
    log(LogLevel::info, "audit log writing again", {{"path", options_.path}});
    failing_.reset();
  }
}

void AuditLog::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, options_.flush_interval, [&] { return stopping_; });
    const bool last = stopping_;
    lock.unlock();
    flush();
    lock.lock();
    if (last) return;
  }
}

Result<void> AuditLog::rotate() {
  for (int i = options_.keep - 1; i >= 1; --i) {
    const std::string from = options_.path + "." + std::to_string(i);
    const std::string to = options_.path + "." + std::to_string(i + 1);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return io_error("rotate", from);
  }
  if (options_.keep >= 1) {
    if (::rename(options_.path.c_str(), (options_.path + ".1").c_str()) != 0) return io_error("rotate", options_.path);
  } else if (::unlink(options_.path.c_str()) != 0 && errno != ENOENT) {
    return io_error("rotate", options_.path);
  }
  const int fd = open_for_append(options_.path);
  if (fd < 0) return io_error("open", options_.path);
  ::close(fd_);
  fd_ = fd;
  size_ = 0;
  rotations_.fetch_add(1, std::memory_order_relaxed);
  return {};
}

Result<void> AuditLog::write_out(const std::string& lines) {
  if (size_ > 0 && size_ + lines.size() > options_.max_bytes) {
    if (Result<void> r = rotate(); !r) return r;
  }
  // One write of whole lines; a short write is finished, so no line is cut.
  std::size_t done = 0;
  while (done < lines.size()) {
    const ssize_t n = ::write(fd_, lines.data() + done, lines.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      const int cause = errno;
      // Take back a partial line so that the file holds whole records (should that
      // fail too, `verify --ranges` reports the cut line as unparsed).
      if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) errno = cause;
      errno = cause;
      return io_error("write", options_.path);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return io_error("fsync", options_.path);
  size_ += lines.size();
  bytes_.fetch_add(lines.size(), std::memory_order_relaxed);
  return {};
}

Result<void> AuditLog::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return failing_ ? Result<void>(*failing_) : Result<void>();
    stopping_ = true;
    wake_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  std::lock_guard write_lock(write_mutex_);
  std::lock_guard lock(mutex_);
  closed_ = true;
  ::close(fd_);
  if (failing_) return *failing_;
  return {};
}

nlohmann::ordered_json AuditLog::info() const {
  std::lock_guard lock(mutex_);
  return {{"path", options_.path},
          {"records", records_.load(std::memory_order_relaxed)},
          {"dropped", dropped_.load(std::memory_order_relaxed)},
          {"failing", failing_ ? nlohmann::ordered_json(failing_->message()) : nlohmann::ordered_json()}};
}

void AuditLog::render_metrics(Buffer& out) const {
  append_family(out, "idforge_audit_records_total", "Ranges recorded in the audit log: reserved, claimed and released.",
                static_cast<double>(records_.load(std::memory_order_relaxed)), "counter");
  append_family(out, "idforge_audit_bytes_total", "Bytes written to the audit log (fsynced).",
                static_cast<double>(bytes_.load(std::memory_order_relaxed)), "counter");
  append_family(out, "idforge_audit_write_errors_total", "Failed writes of the audit log (retried).",
                static_cast<double>(errors_.load(std::memory_order_relaxed)), "counter");
  append_family(out, "idforge_audit_dropped_total", "Audit records dropped: the log was failing and 16 MiB waited.",
                static_cast<double>(dropped_.load(std::memory_order_relaxed)), "counter");
  append_family(out, "idforge_audit_rotations_total", "Times the audit log was rotated.",
                static_cast<double>(rotations_.load(std::memory_order_relaxed)), "counter");
}

}  // namespace idforge::detail
