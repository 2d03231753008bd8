// SPDX-License-Identifier: Apache-2.0
// AuditLog: the service's audit trail — one JSON line per range of IDs a node's
// generator reserved, claimed or gave back (idforge/audit.h), appended to a file
// and rotated by size.
//
//   {"at":"2026-12-01T10:00:00.250Z","host":"web-3","pid":4242,"run":"9f3c…","holder":1,"kind":"claimed",
//    "layout":"twitter","space":"node10-seq12","node":5,"first":"1863…","last":"1863…","states":1024000,
//    "issued":812345}
//   {…,"kind":"reserved","layout":"twitter","space":"node10-seq12","node":5,"first":"1863…","last":"1863…"}
//   {…,"kind":"released","layout":"twitter","space":"node10-seq12","node":5,"last":"1863…"}
//
// `run` is random per process start and `holder` numbers its generators, so
// (host, run, holder) names one holder of a node. A "released" line without
// "last" says the holder issued nothing.
//
// `space` is the layout's geometry: layouts of one geometry are one ID space, and
// `idforge verify --ranges` checks that no two ranges of a node in a space
// overlap, across every log of a fleet. IDs are strings, as everywhere in JSON.
//
// record() and release() only format the line into memory (the generators call
// them with their renewal lock held); a writer thread appends what has gathered
// every `flush_interval` and fsyncs it, so a busy node costs one line a renewal
// period and one write and fsync a second. reserve() writes its line — after
// every line gathered before it — and fsyncs it before it returns, so that what a
// holder may issue is on disk before it issues: once per reservation (a second's
// worth by default), off the request path. When the file would pass `max_bytes` it is
// renamed FILE.1 (FILE.1 to FILE.2, …, keeping `keep` old files) and a new FILE
// begins. A failing disk does not stop the service from issuing: the error is
// counted and logged once (and when writing works again); lines wait in memory up
// to 16 MiB, past which new ones are dropped and counted.
//
// Thread safety: record() from any thread; close() once.
#ifndef IDFORGE_SERVER_AUDIT_LOG_H_
#define IDFORGE_SERVER_AUDIT_LOG_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "idforge/audit.h"
#include "idforge/result.h"
#include "server/reporter.h"

namespace idforge::detail {

struct AuditLogOptions {
  std::string path;
  // Rotate when the file would pass this size. Default: 64 MiB.
  std::uint64_t max_bytes = 64ULL << 20;
  // Old files kept (FILE.1 … FILE.keep). Default: 10.
  int keep = 10;
  // How often gathered lines are written and fsynced. Default: 1 s.
  std::chrono::milliseconds flush_interval{1000};
  // Who writes, as every line says.
  std::string host;
  std::int64_t pid = 0;
};

class AuditLog final : public AuditSink, public Reporter {
 public:
  // Opens (or creates, mode 0640) the file for appending and starts the writer.
  // Fails with io when it cannot.
  static Result<std::unique_ptr<AuditLog>> open(AuditLogOptions options);
  ~AuditLog() override;

  void record(const Layout& layout, const ClaimedRange& range) override;
  void reserve(const Layout& layout, const ReservedRange& range) override;
  void release(const Layout& layout, std::uint64_t node, std::uint64_t holder,
               std::optional<std::uint64_t> last_id) override;

  // Writes what is left, fsyncs and stops the writer. Idempotent; returns the last
  // write error, if writing was failing.
  Result<void> close();

  std::string info_key() const override { return "audit"; }
  nlohmann::ordered_json info() const override;
  void render_metrics(Buffer& out) const override;

 private:
  AuditLog(AuditLogOptions options, int fd, std::uint64_t size);
  void run();
  // The line's fields every record begins with.
  nlohmann::ordered_json line_of(const Layout& layout, const char* kind, std::uint64_t node, std::uint64_t holder) const;
  // Queues one line for the writer.
  void queue(const nlohmann::ordered_json& line);
  // Writes what is queued, fsync'd; on failure keeps it for the next try (within
  // the bound), counts and logs. Takes write_mutex_.
  void flush();
  // Appends `lines` (and rotates first when they would not fit). REQUIRES: write_mutex_ held.
  Result<void> write_out(const std::string& lines);
  Result<void> rotate();

  const AuditLogOptions options_;
  const std::string run_;  // Random per process start: names this run in every line.
  std::mutex write_mutex_;  // Held while the file is written (writer thread, reserve(), close()).
  int fd_;                // Guarded by write_mutex_.
  std::uint64_t size_;    // Guarded by write_mutex_.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string pending_;       // Guarded by mutex_.
  bool stopping_ = false;     // Guarded by mutex_.
  bool closed_ = false;       // Guarded by mutex_.
  std::optional<Error> failing_;  // Guarded by mutex_: the last write error, until one succeeds.
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> rotations_{0};
  std::thread writer_;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_AUDIT_LOG_H_
