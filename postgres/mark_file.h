/* SPDX-License-Identifier: Apache-2.0
 * The reservation a server keeps in its data directory, and whose it is
 * (docs/postgres.md, "What keeps IDs unique").
 *
 *   idforge.mark   the reservation: the largest stamp this node may have issued,
 *                  its geometry and node, the server that made it, and a standby
 *                  that replayed it, if one did
 *   idforge.floor  the largest stamp this data directory ever reserved for the
 *                  node: a second copy, never lowered, so that a mark that is lost
 *                  or older than it is a store that forgot
 *
 * Both are written to a temporary file, fsync'd and renamed durably. The mark
 * keeper writes them before it lets backends stamp up to a reservation, and the
 * WAL replay of a reservation (wal.c) writes them on every server that replays it.
 *
 * A server is named by its system identifier, its data directory's path, and the
 * file system and inode of that directory: a copy (pg_basebackup, a restored
 * backup, a cloned disk) has another name, even at the same path. */
#ifndef IDFORGE_POSTGRES_MARK_FILE_H_
#define IDFORGE_POSTGRES_MARK_FILE_H_

#include "postgres.h"

#define IDFORGE_SERVER_SIZE 320

typedef struct IdforgeMark
{
	int64		stamp;			/* In the layout's stamps (tick numbers). */
	uint64		node;
	char		geometry[64];
	char		server[IDFORGE_SERVER_SIZE];	/* Who made it; "" for a mark of version 1. */
	char		adopted[IDFORGE_SERVER_SIZE];	/* A standby that replayed it, or "". */
	char		layout[256];	/* The maker's layout, for people. */
} IdforgeMark;

typedef enum IdforgeRecordState
{
	IDFORGE_RECORD_MISSING,
	IDFORGE_RECORD_VALID,
	IDFORGE_RECORD_DAMAGED
} IdforgeRecordState;

/* This server's name (see above) into `out`. */
void		idforge_server_name(char out[IDFORGE_SERVER_SIZE]);

/* Reads idforge.mark. A mark of version 1 (Unix milliseconds) is read as the
 * stamp that holds that instant in `layout_spec`'s layout. Damaged: the reason in
 * `error`; an I/O failure is damaged too. */
IdforgeRecordState idforge_read_mark(IdforgeMark *mark, char *error);

/* Reads idforge.floor: the largest stamp reserved for `node` of `geometry` (other
 * nodes' records read as missing). */
IdforgeRecordState idforge_read_floor(uint64 node, const char *geometry, int64 *stamp, char *error);

/* Makes `mark` the mark, and raises the floor to it. Returns 0, or -1 with the
 * reason in `error`. */
int			idforge_write_mark(const IdforgeMark *mark, char *error);

#endif							/* IDFORGE_POSTGRES_MARK_FILE_H_ */
