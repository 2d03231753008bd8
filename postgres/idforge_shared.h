/* SPDX-License-Identifier: Apache-2.0
 * What the extension's backends and its mark keeper share: the settings and the
 * one generator state in shared memory.
 *
 * The generator (docs/postgres.md):
 *   - `state` is the next free (tick << sequence_bits) | sequence of the node. Every
 *     backend claims IDs from it with one compare-and-swap (idforge/state_claim.h),
 *     so the IDs of all sessions are unique and increase in the order claimed.
 *   - `reserved_tick` is the largest tick the mark keeper has made durable — in
 *     the WAL (wal.c: flushed, so standbys replay it) and in the mark file
 *     ($PGDATA/idforge.mark, mark_file.h) — *before* storing it here; no claim
 *     passes it. At start-up it is -1 (nothing passes) until the keeper has read
 *     the previous mark, raised `state` past it and made its first reservation, so
 *     a server restarted after a crash with its clock behind, or a standby promoted
 *     in its primary's place, starts after every ID issued before. During recovery
 *     backends issue nothing.
 *   - A backend whose claim is stopped by `reserved_tick` sets `requested`, wakes
 *     the keeper and waits on `reserved` up to idforge.max_wait_ms. */
#ifndef IDFORGE_POSTGRES_SHARED_H_
#define IDFORGE_POSTGRES_SHARED_H_

#include "postgres.h"

#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/spin.h"

#include "core_bridge.h"

typedef struct IdforgeShared {
  uint64 state;                   /* Through idforge_claim_states only. */
  pg_atomic_uint64 reserved_tick; /* The durable limit, as int64; -1: none yet. */
  pg_atomic_uint32 requested;     /* A backend waits for an extension. */
  ConditionVariable reserved;     /* Broadcast after every extension, and on keeper errors. */
  Latch *keeper_latch;            /* The keeper's latch, once it runs. */
  slock_t mutex;                  /* Guards keeper_error and the recover fields. */
  char keeper_error[IDFORGE_ERROR_SIZE]; /* Why the keeper cannot reserve, or "". */
  /* idforge_recover(): a call numbers its request and waits for the keeper's answer. */
  uint32 recover_requested;
  uint32 recover_answered;
  int64 recover_until_unix_ms;
  char recover_answer[IDFORGE_ERROR_SIZE];
} IdforgeShared;

/* The settings (idforge.c). */
extern char *idforge_layout_setting;
extern int idforge_node_setting;
extern int idforge_max_lead_ms;
extern int idforge_max_wait_ms;
extern int idforge_reserve_ahead_ms;

/* The layout the settings name, parsed at load. */
extern IdforgeLayout idforge_layout;
/* The shared state, attached at start-up. */
extern IdforgeShared *idforge_shared;

/* Unix milliseconds now, from the database's clock. */
int64 idforge_now_unix_ms(void);
/* The tick holding `unix_ms` (rounded down; negative before the epoch). */
int64 idforge_tick_at(int64 unix_ms);

/* The keeper's file: the reservation, and whose it is (mark_file.h). */
#define IDFORGE_MARK_FILE "idforge.mark"

/* The keeper's main function (mark_keeper.c), started by the postmaster. */
PGDLLEXPORT void idforge_mark_keeper_main(Datum arg);

/* The reservation's WAL record (wal.c): registered at load; logged and flushed by
 * the keeper. */
struct IdforgeMark;
void idforge_register_wal(void);
void idforge_log_reservation(const struct IdforgeMark *mark);

#endif /* IDFORGE_POSTGRES_SHARED_H_ */
