/* SPDX-License-Identifier: Apache-2.0
 * The mark keeper: a background worker that keeps the generator's reservation
 * durable. It reads the previous mark at start, raises the shared state past it,
 * and then, ahead of need, writes a later mark (fsync'd, renamed durably) before
 * it lets backends stamp up to it (idforge_shared.h). */
#include "idforge_shared.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/wait_event.h"

#define MARK_TEMP_FILE IDFORGE_MARK_FILE ".tmp"

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

/* Reads the previous mark: 1 and its instant in *unix_ms, 0 when there is none,
 * -1 when it cannot be read or is damaged (the reason in `error`). */
static int
read_mark(int64 *unix_ms, char *error)
{
	char		text[512];
	char		tail;
	long long	value;
	ssize_t		n;
	int			fd = OpenTransientFile(IDFORGE_MARK_FILE, O_RDONLY | PG_BINARY);

	if (fd < 0)
	{
		if (errno == ENOENT)
			return 0;
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot open %s/%s: %m", DataDir, IDFORGE_MARK_FILE);
		return -1;
	}
	n = read(fd, text, sizeof text - 1);
	CloseTransientFile(fd);
	if (n < 0)
	{
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot read %s/%s: %m", DataDir, IDFORGE_MARK_FILE);
		return -1;
	}
	text[n] = '\0';
	if (sscanf(text, "reserved_until_unix_ms %lld%c", &value, &tail) != 2 || tail != '\n' || value < 0)
	{
		snprintf(error, IDFORGE_ERROR_SIZE,
				 "%s/%s is damaged (it must begin 'reserved_until_unix_ms N'); IDs stay refused until it is "
				 "repaired: write a time past the last ID this server issued, or remove the file only when the clock "
				 "is surely past it", DataDir, IDFORGE_MARK_FILE);
		return -1;
	}
	*unix_ms = (int64) value;
	return 1;
}

/* Makes `unix_ms` the durable mark. Returns 0, or -1 with the reason. */
static int
write_mark(int64 unix_ms, char *error)
{
	char		text[512];
	int			length;
	int			fd;

	length = snprintf(text, sizeof text, "reserved_until_unix_ms %lld\nlayout %s\nnode %d\n",
					  (long long) unix_ms, idforge_layout.spec, idforge_node_setting);
	fd = OpenTransientFile(MARK_TEMP_FILE, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0)
	{
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot create %s/%s: %m", DataDir, MARK_TEMP_FILE);
		return -1;
	}
	errno = 0;
	if (write(fd, text, length) != length || pg_fsync(fd) != 0)
	{
		if (errno == 0)
			errno = ENOSPC;
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot write %s/%s: %m", DataDir, MARK_TEMP_FILE);
		CloseTransientFile(fd);
		return -1;
	}
	if (CloseTransientFile(fd) != 0)
	{
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot close %s/%s: %m", DataDir, MARK_TEMP_FILE);
		return -1;
	}
	/* Renames over the mark, and fsyncs the file and its directory. */
	if (durable_rename(MARK_TEMP_FILE, IDFORGE_MARK_FILE, LOG) != 0)
	{
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot rename %s/%s over %s (see the log above)", DataDir,
				 MARK_TEMP_FILE, IDFORGE_MARK_FILE);
		return -1;
	}
	return 0;
}

/* The last millisecond of `tick`. */
static int64
last_ms_of_tick(int64 tick)
{
	return idforge_layout.epoch_unix_ms + (tick + 1) * idforge_layout.tick_ms - 1;
}

/* Raises the shared state past the previous mark. Returns false (after recording
 * why) when the mark cannot be read. */
static bool
start_after_mark(void)
{
	char		error[IDFORGE_ERROR_SIZE];
	int64		mark_ms = 0;
	int			found = read_mark(&mark_ms, error);

	if (found < 0)
	{
		set_keeper_error(error);
		return false;
	}
	if (found > 0)
	{
		int64		next_tick = idforge_tick_at(mark_ms) + 1;
		uint64		start = next_tick > 0 ? ((uint64) next_tick) << idforge_layout.sequence_bits : 0;
		uint64		unused;

		/* Raises the word to at least `start` by claiming (and skipping) one state there. */
		(void) idforge_core_claim_states(&idforge_shared->state, start, 1, INT64_MAX, idforge_layout.sequence_bits,
									&unused);
		ereport(LOG, (errmsg("idforge: node %d of layout %s starts after its mark, %lld (Unix ms)",
							 idforge_node_setting, idforge_layout.name, (long long) mark_ms)));
	}
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
	char		error[IDFORGE_ERROR_SIZE];
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
	if (write_mark(last_ms_of_tick(target), error) != 0)
	{
		set_keeper_error(error);
		return;
	}
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

	for (;;)
	{
		if (ShutdownRequestPending)
			proc_exit(0);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!started && (started = start_after_mark()))
		{
			/* The first reservation now, so that the first call need not wait for it. */
			pg_atomic_write_u32(&idforge_shared->requested, 1);
		}
		if (started)
			maybe_extend();
		/* Awake at least eight times per reservation, or once a second while the mark is unreadable. */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 started ? Max(idforge_reserve_ahead_ms / 8, 1) : 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
