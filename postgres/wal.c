/* SPDX-License-Identifier: Apache-2.0
 * The reservation in the WAL: a custom resource manager whose one record says
 * "server S reserved node N of geometry G up to stamp T". The mark keeper writes
 * it, and flushes it, before the mark file; every server that replays it — a
 * standby, the primary itself after a crash, a copy recovering from its backup —
 * raises its own mark to it, so the reservation travels with the database: a
 * promoted standby continues after the last reservation it replayed, whatever its
 * clock says.
 *
 * Replaying this WAL needs the extension loaded (shared_preload_libraries) on
 * every server that replays it; docs/postgres.md says how to remove it safely. */
#include "idforge_shared.h"

#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xloginsert.h"
#include "access/xlogreader.h"
#include "access/xlogrecovery.h"
#include "lib/stringinfo.h"
#include "mark_file.h"

/* The resource manager's ID, from the range PostgreSQL keeps for extensions. */
#define IDFORGE_RMGR_ID 171
#define XLOG_IDFORGE_RESERVE 0x00

typedef struct IdforgeReserveRecord
{
	int64		stamp;
	uint64		node;
	char		geometry[64];
	char		server[IDFORGE_SERVER_SIZE];
	char		layout[256];
} IdforgeReserveRecord;

static void
idforge_redo(XLogReaderState *record)
{
	IdforgeReserveRecord r;
	IdforgeMark mark;
	IdforgeMark before;
	char		error[IDFORGE_ERROR_SIZE];
	bool		same;

	if ((XLogRecGetInfo(record) & ~XLR_INFO_MASK) != XLOG_IDFORGE_RESERVE ||
		XLogRecGetDataLen(record) != sizeof r)
		elog(PANIC, "idforge: unknown WAL record (info %u, %u bytes)", XLogRecGetInfo(record),
			 XLogRecGetDataLen(record));
	memcpy(&r, XLogRecGetData(record), sizeof r);
	/* What this server holds already, raised and never lowered. */
	same = idforge_read_mark(&before, error) == IDFORGE_RECORD_VALID && before.node == r.node &&
		strcmp(before.geometry, r.geometry) == 0;
	memset(&mark, 0, sizeof mark);
	mark.stamp = same ? Max(before.stamp, r.stamp) : r.stamp;
	mark.node = r.node;
	strlcpy(mark.geometry, r.geometry, sizeof mark.geometry);
	strlcpy(mark.server, r.server, sizeof mark.server);
	strlcpy(mark.layout, r.layout, sizeof mark.layout);
	/* A standby that replays it may become its primary's successor. */
	if (StandbyMode)
		idforge_server_name(mark.adopted);
	else if (same && strcmp(before.server, r.server) == 0)
		strlcpy(mark.adopted, before.adopted, sizeof mark.adopted);
	if (idforge_write_mark(&mark, error) != 0)
		ereport(ERROR, (errmsg("idforge: cannot replay a reservation: %s", error)));
}

static void
idforge_desc(StringInfo buf, XLogReaderState *record)
{
	IdforgeReserveRecord r;

	if (XLogRecGetDataLen(record) != sizeof r)
		return;
	memcpy(&r, XLogRecGetData(record), sizeof r);
	appendStringInfo(buf, "node %llu of %s reserved up to stamp %lld by %s", (unsigned long long) r.node, r.geometry,
					 (long long) r.stamp, r.server);
}

static const char *
idforge_identify(uint8 info)
{
	return (info & ~XLR_INFO_MASK) == XLOG_IDFORGE_RESERVE ? "RESERVE" : NULL;
}

static RmgrData idforge_rmgr = {
	.rm_name = "idforge",
	.rm_redo = idforge_redo,
	.rm_desc = idforge_desc,
	.rm_identify = idforge_identify,
};

void
idforge_register_wal(void)
{
	RegisterCustomRmgr(IDFORGE_RMGR_ID, &idforge_rmgr);
}

void
idforge_log_reservation(const IdforgeMark *mark)
{
	IdforgeReserveRecord r;
	XLogRecPtr	at;

	memset(&r, 0, sizeof r);
	r.stamp = mark->stamp;
	r.node = mark->node;
	strlcpy(r.geometry, mark->geometry, sizeof r.geometry);
	strlcpy(r.server, mark->server, sizeof r.server);
	strlcpy(r.layout, mark->layout, sizeof r.layout);
	XLogBeginInsert();
	XLogRegisterData((char *) &r, sizeof r);
	at = XLogInsert(IDFORGE_RMGR_ID, XLOG_IDFORGE_RESERVE);
	XLogFlush(at);
}
