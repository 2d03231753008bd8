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
// Reservations. Before a generator issues in newly reserved time, it records the
// range of states it may issue in (reserve(), written durably before it returns),
// and when it gives its node back, the last ID it issued (release()). So a process
// killed between reports still left a record of every ID it may have issued: its
// reserved ranges, which successors start after. `idforge verify --ranges` checks
// that the reserved ranges of a node's holders never overlap (a release gives back
// what lies past its last ID) and that every claimed range lies in its holder's.
//
// A holder is one generator: its records carry the same `holder` number, unique in
// the process.
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
#include <optional>

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
  // The generator that claimed it, unique in the process.
  std::uint64_t holder = 0;
};

// The states a generator may issue in from now on: those of the stamps it has just
// reserved, after every state it reserved (or inherited) before.
struct ReservedRange {
  std::uint64_t node = 0;
  std::uint64_t first_id = 0;
  std::uint64_t last_id = 0;
  std::uint64_t holder = 0;
};

// Where a generator reports its claimed ranges.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Records a range claimed under `layout`. Called from Generator::renew() and
  // close() with the generator's renewal lock held: it must not block for long
  // (queue the record and write it elsewhere) and must not call the generator.
  virtual void record(const Layout& layout, const ClaimedRange& range) = 0;
  // Records durably, before the generator issues in it, a range the generator may
  // issue in. Called from the generator's extension (off the hot path, with its
  // renewal lock held); a failure is the sink's to report: the generator goes on.
  // Default: nothing.
  virtual void reserve(const Layout& layout, const ReservedRange& range) {
    (void)layout;
    (void)range;
  }
  // Records that `holder` gave node `node` back, having issued nothing past
  // `last_id` (its final reservation), after the release was made durable.
  // `last_id` is nullopt when the holder issued nothing. Default: nothing.
  virtual void release(const Layout& layout, std::uint64_t node, std::uint64_t holder,
                       std::optional<std::uint64_t> last_id) {
    (void)layout;
    (void)node;
    (void)holder;
    (void)last_id;
  }
};

}  // namespace idforge

#endif  // IDFORGE_AUDIT_H_
