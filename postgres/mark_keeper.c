/* SPDX-License-Identifier: Apache-2.0
 * The mark keeper: a background worker that keeps the generator's reservation
 * durable, in the WAL and in the data directory (mark_file.h, wal.c).
 *
 * While the server is in recovery it issues nothing (backends refuse), and on a
 * standby it notes in the mark that this server replays it. Once recovery is over
 * it reads the mark and starts after it — refusing a mark that is another
 * server's (a copy started beside its original), one older than the floor, a
 * missing one the floor remembers, or one of another geometry — and then, ahead of
 * need, logs each later reservation to the WAL and flushes it, writes the mark
 * (fsync'd, renamed durably), and only then lets backends stamp up to it
 * (idforge_shared.h). idforge_recover() makes a refused reservation this
 * server's own, past every ID it may cover. */
#include "idforge_shared.h"

#include <errno.h>
#include <unistd.h>

#include "access/xlog.h"
#include "mark_file.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/wait_event.h"

#define RECOVER_HINT                                                                                          \
	"once no other server issues on this node, SELECT idforge_recover() as a superuser (with the time of the " \
	"newest ID the node may have issued, if it may reach further: SELECT idforge_recover('2026-12-04 10:20:00+00'))"

/* This server's name (mark_file.h), known once the keeper runs. */
static char self[IDFORGE_SERVER_SIZE];

/* Records why the keeper cannot reserve ("" when it can), logs it once per
 * change, and wakes the waiting backends so they fail with it. */
static void
set_keeper_error(const char *message)
{
	bool		changed;

	SpinLockAcquire(&idforge_shared->mutex);
	changed = strcmp(idforge_shared->keeper_error, message) != 0;
	strlcpy(idforge_shared->keeper_error, message, sizeof idforge_shared->keeper_error);
	SpinLockRelease(&idforge_shared->mutex);
	if (changed && message[0] != '\0')
		ereport(LOG, (errmsg("idforge: %s", message)));
	ConditionVariableBroadcast(&idforge_shared->reserved);
}

/* This server's mark for `stamp` of the configured node. */
static IdforgeMark
own_mark(int64 stamp)
{
	IdforgeMark mark;

	memset(&mark, 0, sizeof mark);
	mark.stamp = stamp;
	mark.node = (uint64) idforge_node_setting;
	strlcpy(mark.geometry, idforge_layout.geometry, sizeof mark.geometry);
	strlcpy(mark.server, self, sizeof mark.server);
	strlcpy(mark.layout, idforge_layout.spec, sizeof mark.layout);
	return mark;
}

/* On a standby (standby.signal in the data directory), notes in the mark that this
 * server replays it, so that after a promotion it continues its primary's node. */
static void
note_standby(void)
{
	static bool noted = false;
	IdforgeMark mark;
	char		error[IDFORGE_ERROR_SIZE];

	if (noted || access(STANDBY_SIGNAL_FILE, F_OK) != 0)
		return;
	noted = true;
	if (idforge_read_mark(&mark, error) != IDFORGE_RECORD_VALID || strcmp(mark.adopted, self) == 0)
		return;
	strlcpy(mark.adopted, self, sizeof mark.adopted);
	if (idforge_write_mark(&mark, error) != 0)
		ereport(LOG, (errmsg("idforge: %s", error)));
}

/* What the records say to start after: 1 and the stamp, 0 for a node never held
 * here, -1 after recording why they are refused. */
static int
inherited_stamp(int64 *stamp)
{
	char		error[IDFORGE_ERROR_SIZE];
	char		why[IDFORGE_ERROR_SIZE];
	IdforgeMark mark;
	int64		floor_stamp = -1;
	IdforgeRecordState mark_state = idforge_read_mark(&mark, error);
	IdforgeRecordState floor_state;
	const uint64 node = (uint64) idforge_node_setting;

	if (mark_state == IDFORGE_RECORD_DAMAGED)
	{
		snprintf(why, sizeof why, "%s; IDs stay refused until it is recovered: %s", error, RECOVER_HINT);
		set_keeper_error(why);
		return -1;
	}
	floor_state = idforge_read_floor(node, idforge_layout.geometry, &floor_stamp, error);
	if (floor_state == IDFORGE_RECORD_DAMAGED)
		ereport(LOG, (errmsg("idforge: %s; the mark alone bounds the node, and the next reservation rewrites it",
							 error)));
	if (mark_state == IDFORGE_RECORD_VALID && mark.node == node && strcmp(mark.geometry, idforge_layout.geometry) != 0)
	{
		snprintf(why, sizeof why,
				 "node %llu was reserved under geometry %s (layout %s), but idforge.layout = '%s' has geometry %s: two "
				 "geometries on one node can make the same IDs. Give this layout another node, or, %s",
				 (unsigned long long) node, mark.geometry, mark.layout, idforge_layout_setting, idforge_layout.geometry,
				 RECOVER_HINT);
		set_keeper_error(why);
		return -1;
	}
	if (mark_state != IDFORGE_RECORD_VALID || mark.node != node)
	{
		/* No mark of this node: it was never held here — unless the floor says it was. */
		if (floor_state == IDFORGE_RECORD_VALID)
		{
			snprintf(why, sizeof why,
					 "%s/%s of node %llu is gone (or is another node's), but %s/idforge.floor says this data directory "
					 "reserved the node up to stamp %lld: the mark was lost or restored from elsewhere. IDs stay "
					 "refused: %s",
					 DataDir, IDFORGE_MARK_FILE, (unsigned long long) node, DataDir, (long long) floor_stamp,
					 RECOVER_HINT);
			set_keeper_error(why);
			return -1;
		}
		if (mark_state == IDFORGE_RECORD_VALID)
			ereport(LOG, (errmsg("idforge: this server now makes node %d (its mark was of node %llu, which it no "
								 "longer makes)", idforge_node_setting, (unsigned long long) mark.node)));
		return 0;
	}
	if (floor_state == IDFORGE_RECORD_VALID && floor_stamp > mark.stamp)
	{
		snprintf(why, sizeof why,
				 "%s/%s says node %llu was reserved up to stamp %lld, but %s/idforge.floor says %lld: the mark went "
				 "back in time (restored from a backup?), and IDs past it may have been issued already. IDs stay "
				 "refused: %s",
				 DataDir, IDFORGE_MARK_FILE, (unsigned long long) node, (long long) mark.stamp, DataDir,
				 (long long) floor_stamp, RECOVER_HINT);
		set_keeper_error(why);
		return -1;
	}
	if (mark.server[0] != '\0' && strcmp(mark.server, self) != 0)
	{
		if (strcmp(mark.adopted, self) != 0)
		{
			snprintf(why, sizeof why,
					 "the reservation of node %llu in %s/%s belongs to another server (%s), not to this one (%s): this "
					 "data directory is a copy of it (pg_basebackup started as a primary, a restored backup, a cloned "
					 "disk), and that server may still issue on the node. IDs stay refused. Give this server a node of "
					 "its own (idforge.node = a node no other server or idforge process uses, then restart), or, if "
					 "the server it was copied from is gone for good, %s",
					 (unsigned long long) node, DataDir, IDFORGE_MARK_FILE, mark.server, self, RECOVER_HINT);
			set_keeper_error(why);
			return -1;
		}
		ereport(LOG, (errmsg("idforge: this server was a standby of %s and continues its node %llu after the "
							 "reservation it replayed (stamp %lld)", mark.server, (unsigned long long) node,
							 (long long) mark.stamp)));
	}
	*stamp = Max(mark.stamp, floor_stamp);
	return 1;
}

/* Raises the shared state to the tick after `stamp`. */
static void
start_after(int64 stamp)
{
	int64		next_tick = stamp + 1;
	uint64		start = next_tick > 0 ? ((uint64) next_tick) << idforge_layout.sequence_bits : 0;
	uint64		unused;

	/* Raises the word to at least `start` by claiming (and skipping) one state there. */
	(void) idforge_core_claim_states(&idforge_shared->state, start, 1, INT64_MAX, idforge_layout.sequence_bits,
									 &unused);
	ereport(LOG, (errmsg("idforge: node %d of layout %s starts after stamp %lld", idforge_node_setting,
						 idforge_layout.name, (long long) stamp)));
}

/* Makes this server's reservation durable up to `stamp`: in the WAL first (a
 * standby that replays it, and this server after a crash, raise their marks to
 * it), then in the mark file. Returns 0, or -1 with the reason recorded. */
static int
reserve(int64 stamp)
{
	char		error[IDFORGE_ERROR_SIZE];
	IdforgeMark mark = own_mark(stamp);

	idforge_log_reservation(&mark);
	if (idforge_write_mark(&mark, error) != 0)
	{
		set_keeper_error(error);
		return -1;
	}
	return 0;
}

/* Answers an idforge_recover() call: this server's reservation, past the time it
 * was given, the mark and the floor, whatever they say. */
static void
answer_recover(void)
{
	char		error[IDFORGE_ERROR_SIZE];
	char		answer[IDFORGE_ERROR_SIZE];
	IdforgeMark mark;
	int64		floor_stamp = -1;
	int64		until_ms;
	int64		target;
	uint32		request;

	SpinLockAcquire(&idforge_shared->mutex);
	request = idforge_shared->recover_requested;
	until_ms = idforge_shared->recover_until_unix_ms;
	SpinLockRelease(&idforge_shared->mutex);
	if (request == idforge_shared->recover_answered)
		return;
	target = idforge_tick_at(idforge_now_unix_ms());
	if (until_ms != PG_INT64_MIN)
		target = Max(target, idforge_tick_at(until_ms));
	if (idforge_read_mark(&mark, error) == IDFORGE_RECORD_VALID && mark.node == (uint64) idforge_node_setting)
		target = Max(target, mark.stamp);
	if (idforge_read_floor((uint64) idforge_node_setting, idforge_layout.geometry, &floor_stamp, error) ==
		IDFORGE_RECORD_VALID)
		target = Max(target, floor_stamp);
	target = Min(target, idforge_layout.max_tick);
	if (reserve(target) == 0)
	{
		start_after(target);
		pg_atomic_write_u64(&idforge_shared->reserved_tick, (uint64) target);
		set_keeper_error("");
		snprintf(answer, sizeof answer, "node %d of layout %s is this server's, reserved up to stamp %lld",
				 idforge_node_setting, idforge_layout.name, (long long) target);
		ereport(LOG, (errmsg("idforge: recovered: %s", answer)));
	}
	else
	{
		SpinLockAcquire(&idforge_shared->mutex);
		strlcpy(answer, idforge_shared->keeper_error, sizeof answer);
		SpinLockRelease(&idforge_shared->mutex);
	}
	SpinLockAcquire(&idforge_shared->mutex);
	strlcpy(idforge_shared->recover_answer, answer, sizeof idforge_shared->recover_answer);
	idforge_shared->recover_answered = request;
	SpinLockRelease(&idforge_shared->mutex);
	ConditionVariableBroadcast(&idforge_shared->reserved);
}

/* Starts after what the records say. Returns false (after recording why) when
 * they are refused. */
static bool
start_after_mark(void)
{
	int64		stamp = -1;
	int			found = inherited_stamp(&stamp);

	if (found < 0)
		return false;
	if (found > 0)
		start_after(stamp);
	return true;
}

/* The shared state when the keeper last extended the reservation. */
static uint64 state_at_extension = 0;

/* Extends the reservation when a backend asked, or when IDs were made since the
 * last extension and the newest stamp or the clock is within half of
 * reserve_ahead_ms of it. An idle server writes nothing. */
static void
maybe_extend(void)
{
	int64		ahead = Max(idforge_reserve_ahead_ms / idforge_layout.tick_ms, 1);
	int64		reserved = (int64) pg_atomic_read_u64(&idforge_shared->reserved_tick);
	uint64		state = __atomic_load_n(&idforge_shared->state, __ATOMIC_RELAXED);
	int64		newest = state > 0 ? (int64) ((state - 1) >> idforge_layout.sequence_bits) : -1;
	int64		now = idforge_tick_at(idforge_now_unix_ms());
	int64		need = Max(now, newest);
	bool		requested = pg_atomic_exchange_u32(&idforge_shared->requested, 0) != 0;
	int64		target;

	if (!requested && (reserved < 0 || state == state_at_extension || reserved - need >= ahead / 2))
		return;
	/* A stamp that leads the clock (a burst, a clock behind the mark) gets an eighth of its lead more. */
	target = Min(need + Max(ahead, (need - now) / 8), idforge_layout.max_tick);
	if (target <= reserved)
	{
		ConditionVariableBroadcast(&idforge_shared->reserved);
		return;
	}
	if (reserve(target) != 0)
		return;
	pg_atomic_write_u64(&idforge_shared->reserved_tick, (uint64) target);
	state_at_extension = state;
	set_keeper_error("");
}

void
idforge_mark_keeper_main(Datum arg)
{
	bool		started = false;

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	idforge_shared->keeper_latch = MyLatch;
	idforge_server_name(self);

	for (;;)
	{
		if (ShutdownRequestPending)
			proc_exit(0);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (RecoveryInProgress())
		{
			/* Nothing is issued during recovery; a standby notes that it replays the mark. */
			note_standby();
		}
		else
		{
			if (idforge_shared->recover_requested != idforge_shared->recover_answered)
			{
				answer_recover();
				started = true;
			}
			if (!started && (started = start_after_mark()))
			{
				/* The first reservation now, so that the first call need not wait for it. */
				pg_atomic_write_u32(&idforge_shared->requested, 1);
			}
			if (started)
				maybe_extend();
		}
		/* Awake at least eight times per reservation; once a second while refused or in recovery. */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 started ? Max(idforge_reserve_ahead_ms / 8, 1) : 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
