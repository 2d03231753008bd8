// SPDX-License-Identifier: Apache-2.0
// Audit: a record of the ranges of IDs a generator claims, for proof after the fact.
//
// A Generator given an AuditSink (GeneratorOptions::audit) reports, from renew()
// and close() — never from next() — the range of its node's (stamp, sequence)
// states it claimed since its last report. Every ID the generator hands out lies
// in exactly one reported range, and a generator's ranges follow one another
// without overlap. The ranges of different holders of a node (a restart, a
// successor on another machine) do not overlap either, because a successor
// starts after its predecessors' durable mark; `idforge verify --ranges` checks
// that over a whole fleet's audit logs, without storing a single ID.
//
// A range is given as the IDs of its first and last state (the IDs of one node
// sort as their states do), its number of states, and how many IDs were handed
// out in it: states the generator skipped because the clock moved on lie inside
// a range but were never issued. So a busy node reports one range a renewal
// period (a quarter of reserve_ahead_ms, Default: 250 ms), however many IDs it
// issues, and an idle node reports nothing.
//
// What the record cannot cover: the IDs issued after the last report by a process
// that is killed (at most one renewal period of them). They are still below the
// node's durable mark, which every successor starts after.
//
// Example:
//
//   class Printer final : public idforge::AuditSink {
//     void record(const idforge::Layout&, const idforge::ClaimedRange& r) override {
//       std::printf("node %llu: %llu..%llu\n", (unsigned long long)r.node,
//                   (unsigned long long)r.first_id, (unsigned long long)r.last_id);
//     }
//   };
//   Printer printer;
//   idforge::GeneratorOptions options;
//   options.audit = &printer;
#ifndef IDFORGE_AUDIT_H_
#define IDFORGE_AUDIT_H_

#include <cstdint>

#include "idforge/layout.h"

namespace idforge {

// A run of consecutive states of one node that a generator claimed.
struct ClaimedRange {
  // The node number (Layout::node_number).
  std::uint64_t node = 0;
  // The ID of the range's first state and of its last.
  std::uint64_t first_id = 0;
  std::uint64_t last_id = 0;
  // How many states the range spans (last − first + 1, counting in states).
  std::uint64_t states = 0;
  // How many IDs were handed out in it (at most `states`). Exact when no claim
  // was in flight at the report; otherwise it may include that claim's skipped
  // states, which the next report does not count again. So a generator's ranges
  // never add up to fewer IDs than it issued, and to more only by such states.
  std::uint64_t issued = 0;
};

// Where a generator reports its claimed ranges.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Records a range claimed under `layout`. Called from Generator::renew() and
  // close() with the generator's renewal lock held: it must not block for long
  // (queue the record and write it elsewhere) and must not call the generator.
  virtual void record(const Layout& layout, const ClaimedRange& range) = 0;
};

}  // namespace idforge

#endif  // IDFORGE_AUDIT_H_
