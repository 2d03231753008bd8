/* SPDX-License-Identifier: Apache-2.0
 * The idforge extension: never-duplicate Snowflake IDs from one generator in
 * shared memory that every backend claims from, UUIDv7 and ULID generators, and
 * the decoders. Loaded at server start (shared_preload_libraries); its settings
 * name the layout and the node; its mark keeper (mark_keeper.c) keeps the
 * reservation durable. docs/postgres.md is the user's guide. */
#include "idforge_shared.h"

#include "access/xlog.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "storage/lwlock.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"
#include "utils/wait_event.h"

PG_MODULE_MAGIC;

char	   *idforge_layout_setting = NULL;
int			idforge_node_setting = -1;
int			idforge_max_lead_ms = 1000;
int			idforge_max_wait_ms = 1000;
int			idforge_reserve_ahead_ms = 1000;
IdforgeLayout idforge_layout;
IdforgeShared *idforge_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Unix ms of PostgreSQL's epoch, 2000-01-01. */
#define PG_EPOCH_UNIX_MS INT64CONST(946684800000)

int64
idforge_now_unix_ms(void)
{
	return GetCurrentTimestamp() / 1000 + PG_EPOCH_UNIX_MS;
}

int64
idforge_tick_at(int64 unix_ms)
{
	int64		delta = unix_ms - idforge_layout.epoch_unix_ms;

	return delta >= 0 ? delta / idforge_layout.tick_ms : -((-delta + idforge_layout.tick_ms - 1) / idforge_layout.tick_ms);
}

static void
idforge_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(IdforgeShared)));
}

static void
idforge_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	idforge_shared = ShmemInitStruct("idforge", sizeof(IdforgeShared), &found);
	if (!found)
	{
		memset(idforge_shared, 0, sizeof(IdforgeShared));
		pg_atomic_init_u64(&idforge_shared->reserved_tick, (uint64) INT64CONST(-1));
		pg_atomic_init_u32(&idforge_shared->requested, 0);
		ConditionVariableInit(&idforge_shared->reserved);
		SpinLockInit(&idforge_shared->mutex);
		idforge_shared->recover_until_unix_ms = PG_INT64_MIN;
	}
	LWLockRelease(AddinShmemInitLock);
}

void		_PG_init(void);

void
_PG_init(void)
{
	BackgroundWorker worker;
	char		error[IDFORGE_ERROR_SIZE];

	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("idforge must be loaded when the server starts"),
				 errhint("Add to postgresql.conf: shared_preload_libraries = 'idforge' (beside any libraries "
						 "already listed) and idforge.node = N (this server's own node), then restart the server.")));

	DefineCustomStringVariable("idforge.layout", "The bit layout of idforge_next()'s IDs: a preset or a spec.",
							   "Presets: twitter, discord, instagram, sonyflake, baidu, js53; see docs/layouts.md.",
							   &idforge_layout_setting, "twitter", PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("idforge.node", "This server's node: its own, shared with no other ID generator.",
							"The node fields concatenated (twitter: datacenter*32+worker). Required.",
							&idforge_node_setting, -1, -1, INT_MAX, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("idforge.max_lead_ms", "How far stamps may run ahead of the clock.",
							"Absorbs bursts above the layout's rate and the clock stepping back; 0 waits instead.",
							&idforge_max_lead_ms, 1000, 0, 86400000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("idforge.max_wait_ms", "How long one call waits for the clock or the mark keeper.",
							NULL, &idforge_max_wait_ms, 1000, 0, 3600000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("idforge.reserve_ahead_ms", "How far past the newest stamp each durable mark reaches.",
							"A crash leaves the mark at most this far ahead (more while stamps lead the clock).",
							&idforge_reserve_ahead_ms, 1000, 10, 86400000, PGC_POSTMASTER, GUC_UNIT_MS, NULL, NULL,
							NULL);
	MarkGUCPrefixReserved("idforge");

	if (idforge_core_layout_parse(idforge_layout_setting, &idforge_layout, error) != 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("idforge.layout = '%s' is not a layout: %s", idforge_layout_setting, error)));
	if (idforge_node_setting < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("idforge.node is not set"),
						errhint("Give this server its own node in postgresql.conf: idforge.node = N, from 0 to %llu "
								"for layout %s. No other server or idforge process may use it.",
								(unsigned long long) ((UINT64CONST(1) << idforge_layout.node_bits) - 1),
								idforge_layout.name)));
	if (idforge_core_layout_set_node(&idforge_layout, (uint64) idforge_node_setting, error) != 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s", error)));

	/* Before any WAL is replayed: recovery meets the reservation's records. */
	idforge_register_wal();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = idforge_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = idforge_shmem_startup;

	memset(&worker, 0, sizeof worker);
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_PostmasterStart;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, "idforge", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "idforge_mark_keeper_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "idforge mark keeper", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "idforge mark keeper", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* Raises an error that names why the mark keeper has not reserved time. */
static void
refuse_unreserved(void)
{
	char		reason[IDFORGE_ERROR_SIZE];

	SpinLockAcquire(&idforge_shared->mutex);
	strlcpy(reason, idforge_shared->keeper_error, sizeof reason);
	SpinLockRelease(&idforge_shared->mutex);
	ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					errmsg("idforge: no durable reservation after %d ms: %s", idforge_max_wait_ms,
						   reason[0] ? reason : "the mark keeper has not answered"),
					errhint("See the server log for the idforge mark keeper.")));
}

/* Claims `n` consecutive states, waiting (up to idforge.max_wait_ms) for the clock
 * when stamps lead it too far and for the mark keeper when they reach the
 * reservation. Returns the first. */
static uint64
take(uint64 n)
{
	const int	bits = idforge_layout.sequence_bits;
	const int64 lead_ticks = idforge_max_lead_ms / idforge_layout.tick_ms;
	TimestampTz start = GetCurrentTimestamp();

	/* A standby replays its primary's reservation; issuing beside it would repeat IDs. */
	if (RecoveryInProgress())
		ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
						errmsg("idforge: this server is in recovery (a standby, or still starting): IDs are made on "
							   "the primary"),
						errhint("Call idforge_next() on the primary. A standby promoted in its place continues its "
								"node after the last reservation it replayed.")));
	if (n > ((UINT64CONST(1) << bits) * (uint64) (lead_ticks + 1)))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("idforge: %llu IDs in one call is more than idforge.max_lead_ms allows (%llu)",
							   (unsigned long long) n,
							   (unsigned long long) ((UINT64CONST(1) << bits) * (uint64) (lead_ticks + 1)))));
	for (;;)
	{
		int64		now_ms = idforge_now_unix_ms();
		int64		now = idforge_tick_at(now_ms);
		int64		reserved = (int64) pg_atomic_read_u64(&idforge_shared->reserved_tick);
		int64		limit = Min(Min(now + lead_ticks, reserved), idforge_layout.max_tick);
		uint64		first;
		int64		last;
		long		waited_ms;

		if (now < 0)
			ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							errmsg("idforge: the clock reads before layout %s's epoch", idforge_layout.name)));
		if (idforge_core_claim_states(&idforge_shared->state, ((uint64) now) << bits, n, limit, bits, &first))
			return first;
		last = (int64) ((first + n - 1) >> bits);
		if (last > idforge_layout.max_tick)
			ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							errmsg("idforge: layout %s has run out of time", idforge_layout.name)));
		waited_ms = (long) ((GetCurrentTimestamp() - start) / 1000);
		if (last > now + lead_ticks)
		{
			/* Stamps lead the clock too far: wait for it, if that can help in time. */
			long		need_ms = (long) ((last - lead_ticks - now) * idforge_layout.tick_ms);

			if (waited_ms + need_ms > idforge_max_wait_ms)
				ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
								errmsg("idforge: the next ID is %lld ms ahead of the clock, past idforge.max_lead_ms "
									   "(%d ms); it issues again when the clock catches up",
									   (long long) ((last - now) * idforge_layout.tick_ms), idforge_max_lead_ms),
								errhint("The clock stepped back, or more than the layout's IDs per tick were asked "
										"for. Retry later, or raise idforge.max_lead_ms.")));
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, Max(need_ms, 1),
							 PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		else
		{
			/* The reservation stops it: ask the keeper, and wait for its broadcast. */
			pg_atomic_write_u32(&idforge_shared->requested, 1);
			if (idforge_shared->keeper_latch != NULL)
				SetLatch(idforge_shared->keeper_latch);
			if (waited_ms >= idforge_max_wait_ms)
				refuse_unreserved();
			(void) ConditionVariableTimedSleep(&idforge_shared->reserved, Max(Min(idforge_max_wait_ms - waited_ms, 10), 1),
											   PG_WAIT_EXTENSION);
			ConditionVariableCancelSleep();
		}
		CHECK_FOR_INTERRUPTS();
	}
}

PG_FUNCTION_INFO_V1(idforge_next);
Datum
idforge_next(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) idforge_id_of_state(&idforge_layout, take(1)));
}

PG_FUNCTION_INFO_V1(idforge_next_batch);
Datum
idforge_next_batch(PG_FUNCTION_ARGS)
{
	int32		count = PG_GETARG_INT32(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		first;

	if (count < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("idforge: idforge_next(%d) asks for no IDs; give a count of 1 or more", count)));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	first = take((uint64) count);
	for (uint64 i = 0; i < (uint64) count; ++i)
	{
		Datum		value = Int64GetDatum((int64) idforge_id_of_state(&idforge_layout, first + i));
		bool		null = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &null);
	}
	return (Datum) 0;
}

/* The next value of a wide-format generator of this backend, as a uuid Datum. */
static Datum
next_uuid_datum(int (*next) (uint8_t out[16], char *error))
{
	uint8		bytes[16];
	char		error[IDFORGE_ERROR_SIZE];
	pg_uuid_t  *uuid;

	if (next(bytes, error) != 0)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("idforge: %s", error)));
	uuid = palloc(sizeof(pg_uuid_t));
	memcpy(uuid->data, bytes, UUID_LEN);
	return UUIDPGetDatum(uuid);
}

PG_FUNCTION_INFO_V1(idforge_uuidv7);
Datum
idforge_uuidv7(PG_FUNCTION_ARGS)
{
	return next_uuid_datum(idforge_core_next_uuidv7);
}

PG_FUNCTION_INFO_V1(idforge_ulid);
Datum
idforge_ulid(PG_FUNCTION_ARGS)
{
	return next_uuid_datum(idforge_core_next_ulid);
}

PG_FUNCTION_INFO_V1(idforge_ulid_text);
Datum
idforge_ulid_text(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *uuid = PG_GETARG_UUID_P(0);
	char		text[27];

	idforge_core_ulid_text(uuid->data, text);
	PG_RETURN_TEXT_P(cstring_to_text(text));
}

/* Checks that `id` is an ID of the configured layout. */
static void
check_id(int64 id)
{
	if (id < 0 || (id >> idforge_layout.timestamp_shift) > idforge_layout.max_tick)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("idforge: %lld is not an ID of layout %s", (long long) id, idforge_layout.name)));
}

static TimestampTz
timestamp_of_unix_ms(int64 unix_ms)
{
	return (unix_ms - PG_EPOCH_UNIX_MS) * 1000;
}

PG_FUNCTION_INFO_V1(idforge_time);
Datum
idforge_time(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);

	check_id(id);
	PG_RETURN_TIMESTAMPTZ(timestamp_of_unix_ms(idforge_layout.epoch_unix_ms +
											   (id >> idforge_layout.timestamp_shift) * idforge_layout.tick_ms));
}

PG_FUNCTION_INFO_V1(idforge_fields);
Datum
idforge_fields(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	uint64		node = 0;
	int64		tick;

	check_id(id);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("idforge_fields must return a record")));
	tick = id >> idforge_layout.timestamp_shift;
	/* The node number: every bit outside the timestamp and the sequence, in order (node fields concatenate, most significant first). */
	for (int bit = 0, shift = 0; bit < 64 && shift < idforge_layout.node_bits; ++bit)
	{
		bool		in_time = bit >= idforge_layout.timestamp_shift;
		bool		in_sequence = bit >= idforge_layout.sequence_shift &&
			bit < idforge_layout.sequence_shift + idforge_layout.sequence_bits;

		if (in_time || in_sequence)
			continue;
		node |= (((uint64) id >> bit) & 1) << shift++;
	}
	values[0] = TimestampTzGetDatum(timestamp_of_unix_ms(idforge_layout.epoch_unix_ms + tick * idforge_layout.tick_ms));
	values[1] = Int64GetDatum(tick);
	values[2] = Int64GetDatum((int64) node);
	values[3] = Int64GetDatum((int64) (((uint64) id >> idforge_layout.sequence_shift) &
									   ((UINT64CONST(1) << idforge_layout.sequence_bits) - 1)));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* The smallest ID any node can stamp in the tick holding `t`. */
static int64
min_id_at(TimestampTz t)
{
	int64		unix_ms = t / 1000 + PG_EPOCH_UNIX_MS - (t % 1000 < 0 ? 1 : 0);

	if (unix_ms < idforge_layout.epoch_unix_ms || unix_ms > idforge_layout.last_unix_ms)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("idforge: %s is outside layout %s's lifetime", timestamptz_to_str(t), idforge_layout.name)));
	return idforge_tick_at(unix_ms) << idforge_layout.timestamp_shift;
}

PG_FUNCTION_INFO_V1(idforge_min_at);
Datum
idforge_min_at(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(min_id_at(PG_GETARG_TIMESTAMPTZ(0)));
}

PG_FUNCTION_INFO_V1(idforge_max_at);
Datum
idforge_max_at(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(min_id_at(PG_GETARG_TIMESTAMPTZ(0)) | (int64) ((UINT64CONST(1) << idforge_layout.timestamp_shift) - 1));
}

PG_FUNCTION_INFO_V1(idforge_decode);
Datum
idforge_decode(PG_FUNCTION_ARGS)
{
	text	   *input = PG_GETARG_TEXT_PP(0);
	char		json[IDFORGE_DECODED_SIZE];
	char		error[IDFORGE_ERROR_SIZE];

	if (idforge_core_decode_json(VARDATA_ANY(input), VARSIZE_ANY_EXHDR(input), idforge_layout.spec, idforge_now_unix_ms(),
							json, error) != 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION), errmsg("idforge: %s", error)));
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
}

PG_FUNCTION_INFO_V1(idforge_recover);
Datum
idforge_recover(PG_FUNCTION_ARGS)
{
	int64		until_ms = PG_ARGISNULL(0) ? PG_INT64_MIN : PG_GETARG_TIMESTAMPTZ(0) / 1000 + PG_EPOCH_UNIX_MS;
	uint32		request;
	TimestampTz start = GetCurrentTimestamp();
	char		answer[IDFORGE_ERROR_SIZE];

	if (!superuser())
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("idforge: only a superuser may recover the "
																	   "reservation")));
	if (RecoveryInProgress())
		ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
						errmsg("idforge: this server is in recovery; recover the reservation on the primary")));
	/* A mistyped year would leave the node nothing to issue in, for good. */
	if (until_ms != PG_INT64_MIN && until_ms > idforge_layout.last_unix_ms)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("idforge: %s is past the end of layout %s's time",
							   timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(0)), idforge_layout.name),
						errhint("Give the time of the newest ID the node may have issued.")));
	SpinLockAcquire(&idforge_shared->mutex);
	idforge_shared->recover_until_unix_ms = until_ms;
	request = ++idforge_shared->recover_requested;
	SpinLockRelease(&idforge_shared->mutex);
	if (idforge_shared->keeper_latch != NULL)
		SetLatch(idforge_shared->keeper_latch);
	for (;;)
	{
		bool		done;

		SpinLockAcquire(&idforge_shared->mutex);
		done = idforge_shared->recover_answered == request;
		strlcpy(answer, idforge_shared->recover_answer, sizeof answer);
		SpinLockRelease(&idforge_shared->mutex);
		if (done)
			break;
		if ((GetCurrentTimestamp() - start) / 1000 > 10000)
			ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							errmsg("idforge: the mark keeper did not answer within 10 s"),
							errhint("See the server log for the idforge mark keeper.")));
		(void) ConditionVariableTimedSleep(&idforge_shared->reserved, 100, PG_WAIT_EXTENSION);
		ConditionVariableCancelSleep();
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_TEXT_P(cstring_to_text(answer));
}
