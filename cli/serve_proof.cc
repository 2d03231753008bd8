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
