// SPDX-License-Identifier: Apache-2.0
// The flags of `idforge serve` that make its work checkable: the audit log of
// claimed ranges (--audit-log), and the clock checks (--require-synced-clock,
// --max-peer-skew-ms).
#ifndef IDFORGE_CLI_SERVE_PROOF_H_
#define IDFORGE_CLI_SERVE_PROOF_H_

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "server/audit_log.h"
#include "server/clock_health.h"

namespace idforge::cli {

struct ProofFlags {
  std::string audit_log;  // Empty: no audit log.
  std::uint64_t audit_log_max_mb = 64;
  int audit_log_keep = 10;
  bool require_synced_clock = false;
  std::int64_t max_peer_skew_ms = 10'000;
};

// Registers --audit-log, --audit-log-max-mb, --audit-log-keep,
// --require-synced-clock and --max-peer-skew-ms on `serve`.
void add_proof_flags(CLI::App& serve, ProofFlags& flags);

// The audit log the flags ask for, or nullptr when they ask for none. Fails with io
// when the file cannot be opened.
Result<std::unique_ptr<detail::AuditLog>> audit_log_from(const ProofFlags& flags);

// Fails with unavailable, saying what the kernel reports, when the flags require
// a synchronised clock and `health` has none.
Result<void> check_synced_clock(const ProofFlags& flags, const detail::ClockHealth& health);

}  // namespace idforge::cli

#endif  // IDFORGE_CLI_SERVE_PROOF_H_
