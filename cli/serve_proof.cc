// SPDX-License-Identifier: Apache-2.0
#include "serve_proof.h"

#include <unistd.h>

#include "common.h"

namespace idforge::cli {

void add_proof_flags(CLI::App& serve, ProofFlags& flags) {
  serve
      .add_option("--audit-log", flags.audit_log,
                  "Append one JSON line per range of IDs a node claims (not per ID) to this file, fsynced each "
                  "second; check a fleet's logs with 'idforge verify --ranges'")
      ->envname("IDFORGE_AUDIT_LOG");
  serve.add_option("--audit-log-max-mb", flags.audit_log_max_mb, "Rotate the audit log to FILE.1 past this size")
      ->envname("IDFORGE_AUDIT_LOG_MAX_MB")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 20));
  serve.add_option("--audit-log-keep", flags.audit_log_keep, "Rotated audit logs kept (FILE.1 … FILE.N)")
      ->envname("IDFORGE_AUDIT_LOG_KEEP")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  serve
      .add_flag("--require-synced-clock", flags.require_synced_clock,
                "Refuse to start while the kernel reports the clock unsynchronised (adjtimex: no NTP or chrony "
                "disciplining it)")
      ->envname("IDFORGE_REQUIRE_SYNCED_CLOCK");
  serve
      .add_option("--max-peer-skew-ms", flags.max_peer_skew_ms,
                  "Cluster mode: refuse to start when this clock is further than this from the mean of the other "
                  "instances' (measured from their /v1/info at start and each minute)")
      ->envname("IDFORGE_MAX_PEER_SKEW_MS")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{86'400'000}));
}

Result<void> check_synced_clock(const ProofFlags& flags, const detail::ClockHealth& health) {
  if (!flags.require_synced_clock) return {};
  const Result<detail::ClockDiscipline> d = health.discipline();
  if (!d) return Error(Errc::unavailable, d.error().message() + "; --require-synced-clock needs to read it");
  if (d->synchronized) return {};
  return Error(Errc::unavailable, "the kernel reports the clock unsynchronised (adjtimex state " + d->state +
                                      ", max error " + std::to_string(d->max_error_us / 1000) +
                                      " ms): start NTP or chrony and wait for it to synchronise, or drop "
                                      "--require-synced-clock");
}

Result<std::unique_ptr<detail::AuditLog>> audit_log_from(const ProofFlags& flags) {
  if (flags.audit_log.empty()) return std::unique_ptr<detail::AuditLog>();
  detail::AuditLogOptions options;
  options.path = flags.audit_log;
  options.max_bytes = flags.audit_log_max_mb << 20;
  options.keep = flags.audit_log_keep;
  options.host = host_name();
  options.pid = ::getpid();
  return detail::AuditLog::open(std::move(options));
}

}  // namespace idforge::cli
