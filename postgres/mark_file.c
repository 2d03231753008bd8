/* SPDX-License-Identifier: Apache-2.0
 * The mark and the floor as files (mark_file.h). */
#include "mark_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "access/xlog.h"
#include "idforge_shared.h"
#include "miscadmin.h"
#include "storage/fd.h"

#define MARK_MAGIC "idforge-mark 3"
#define FLOOR_MAGIC "idforge-floor 1"
#define FLOOR_FILE "idforge.floor"

void
idforge_server_name(char out[IDFORGE_SERVER_SIZE])
{
	char		path[MAXPGPATH];
	char	   *real = realpath(DataDir, NULL);
	struct stat st;
	struct statfs fs;
	unsigned long long fsid = 0;

	strlcpy(path, real != NULL ? real : DataDir, sizeof path);
	free(real);
	memset(&st, 0, sizeof st);
	(void) stat(path, &st);
	if (statfs(path, &fs) == 0)
		memcpy(&fsid, &fs.f_fsid, Min(sizeof fsid, sizeof fs.f_fsid));
	snprintf(out, IDFORGE_SERVER_SIZE, "%llu:%s:%llx:%llu", (unsigned long long) GetSystemIdentifier(), path, fsid,
			 (unsigned long long) st.st_ino);
}

/* The whole of a small file: 1 and the text, 0 when it does not exist, -1 with the reason. */
static int
read_small(const char *name, char *text, size_t size, char *error)
{
	ssize_t		n;
	int			fd = OpenTransientFile(name, O_RDONLY | PG_BINARY);

	if (fd < 0)
	{
		if (errno == ENOENT)
			return 0;
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot open %s/%s: %m", DataDir, name);
		return -1;
	}
	n = read(fd, text, size - 1);
	CloseTransientFile(fd);
	if (n < 0)
	{
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot read %s/%s: %m", DataDir, name);
		return -1;
	}
	text[n] = '\0';
	return 1;
}

/* The value after "key " on the line starting at *at, copied into `out` (of
 * `size`); advances *at past the line. False when the line is not that key's. */
static bool
take_line(const char **at, const char *key, char *out, size_t size)
{
	const char *line = *at;
	const char *nl = strchr(line, '\n');
	size_t		key_length = strlen(key);
	size_t		length;

	if (nl == NULL || strncmp(line, key, key_length) != 0 || line[key_length] != ' ')
		return false;
	length = (size_t) (nl - line) - key_length - 1;
	if (length >= size)
		return false;
	memcpy(out, line + key_length + 1, length);
	out[length] = '\0';
	*at = nl + 1;
	return true;
}

/* A whole number of plain digits into *out. */
static bool
digits(const char *text, uint64 *out)
{
	char	   *end;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(text, &end, 10);
	return errno == 0 && *end == '\0';
}

static IdforgeRecordState
damaged(char *error, const char *name, const char *why)
{
	snprintf(error, IDFORGE_ERROR_SIZE, "%s/%s is damaged (%s)", DataDir, name, why);
	return IDFORGE_RECORD_DAMAGED;
}

IdforgeRecordState
idforge_read_mark(IdforgeMark *mark, char *error)
{
	char		text[2048];
	char		field[IDFORGE_SERVER_SIZE];
	const char *at = text;
	uint64		value;
	int			found = read_small(IDFORGE_MARK_FILE, text, sizeof text, error);

	memset(mark, 0, sizeof *mark);
	if (found == 0)
		return IDFORGE_RECORD_MISSING;
	if (found < 0)
		return IDFORGE_RECORD_DAMAGED;
	if (strncmp(text, "reserved_until_unix_ms ", 23) == 0)
	{
		/* Version 1: Unix milliseconds, for the layout and node of the same server. */
		long long	unix_ms;
		char		tail;
		int			node;

		if (sscanf(text, "reserved_until_unix_ms %lld%c", &unix_ms, &tail) != 2 || tail != '\n' || unix_ms < 0)
			return damaged(error, IDFORGE_MARK_FILE, "not a mark of any version");
		at = strstr(text, "\nnode ");
		node = at != NULL ? atoi(at + 6) : idforge_node_setting;
		mark->stamp = idforge_tick_at((int64) unix_ms);
		mark->node = (uint64) node;
		strlcpy(mark->geometry, idforge_layout.geometry, sizeof mark->geometry);
		strlcpy(mark->layout, idforge_layout.spec, sizeof mark->layout);
		return IDFORGE_RECORD_VALID;
	}
	if (!take_line(&at, "idforge-mark", field, sizeof field) || strcmp(field, "3") != 0)
		return damaged(error, IDFORGE_MARK_FILE, "it does not begin 'idforge-mark 3'");
	if (!take_line(&at, "geometry", mark->geometry, sizeof mark->geometry) ||
		!take_line(&at, "node", field, sizeof field) || !digits(field, &mark->node) ||
		!take_line(&at, "stamp", field, sizeof field) || !digits(field, &value) || value > (uint64) PG_INT64_MAX ||
		!take_line(&at, "server", mark->server, sizeof mark->server) ||
		!take_line(&at, "adopted", mark->adopted, sizeof mark->adopted) ||
		!take_line(&at, "layout", mark->layout, sizeof mark->layout) || *at != '\0')
		return damaged(error, IDFORGE_MARK_FILE, "a line is missing or malformed");
	mark->stamp = (int64) value;
	if (strcmp(mark->adopted, "-") == 0)
		mark->adopted[0] = '\0';
	return IDFORGE_RECORD_VALID;
}

IdforgeRecordState
idforge_read_floor(uint64 node, const char *geometry, int64 *stamp, char *error)
{
	char		text[1024];
	char		field[128];
	char		floor_geometry[64];
	const char *at = text;
	uint64		floor_node;
	uint64		value;
	int			found = read_small(FLOOR_FILE, text, sizeof text, error);

	if (found == 0)
		return IDFORGE_RECORD_MISSING;
	if (found < 0)
		return IDFORGE_RECORD_DAMAGED;
	if (!take_line(&at, "idforge-floor", field, sizeof field) || strcmp(field, "1") != 0 ||
		!take_line(&at, "geometry", floor_geometry, sizeof floor_geometry) ||
		!take_line(&at, "node", field, sizeof field) || !digits(field, &floor_node) ||
		!take_line(&at, "stamp", field, sizeof field) || !digits(field, &value) || value > (uint64) PG_INT64_MAX ||
		*at != '\0')
		return damaged(error, FLOOR_FILE, "a line is missing or malformed");
	if (floor_node != node || strcmp(floor_geometry, geometry) != 0)
		return IDFORGE_RECORD_MISSING;
	*stamp = (int64) value;
	return IDFORGE_RECORD_VALID;
}

/* Replaces `name` with `text`: a temporary file, fsync'd, renamed durably. */
static int
replace_file(const char *name, const char *text, char *error)
{
	char		temp[MAXPGPATH];
	int			length = (int) strlen(text);
	int			fd;

	snprintf(temp, sizeof temp, "%s.tmp", name);
	fd = OpenTransientFile(temp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0)
	{
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot create %s/%s: %m", DataDir, temp);
		return -1;
	}
	errno = 0;
	if (write(fd, text, length) != length || pg_fsync(fd) != 0)
	{
		if (errno == 0)
			errno = ENOSPC;
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot write %s/%s: %m", DataDir, temp);
		CloseTransientFile(fd);
		return -1;
	}
	if (CloseTransientFile(fd) != 0)
	{
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot close %s/%s: %m", DataDir, temp);
		return -1;
	}
	/* Renames over the record, and fsyncs the file and its directory. */
	if (durable_rename(temp, name, LOG) != 0)
	{
		snprintf(error, IDFORGE_ERROR_SIZE, "cannot rename %s/%s over %s (see the log above)", DataDir, temp, name);
		return -1;
	}
	return 0;
}

int
idforge_write_mark(const IdforgeMark *mark, char *error)
{
	char		text[2048];
	char		floor_text[512];
	char		ignored[IDFORGE_ERROR_SIZE];
	int64		floor_stamp = 0;
	bool		higher = idforge_read_floor(mark->node, mark->geometry, &floor_stamp, ignored) != IDFORGE_RECORD_VALID ||
		floor_stamp < mark->stamp;

	snprintf(text, sizeof text, MARK_MAGIC "\ngeometry %s\nnode %llu\nstamp %lld\nserver %s\nadopted %s\nlayout %s\n",
			 mark->geometry, (unsigned long long) mark->node, (long long) mark->stamp, mark->server,
			 mark->adopted[0] ? mark->adopted : "-", mark->layout);
	if (replace_file(IDFORGE_MARK_FILE, text, error) != 0)
		return -1;
	if (!higher)
		return 0;
	snprintf(floor_text, sizeof floor_text, FLOOR_MAGIC "\ngeometry %s\nnode %llu\nstamp %lld\n", mark->geometry,
			 (unsigned long long) mark->node, (long long) mark->stamp);
	return replace_file(FLOOR_FILE, floor_text, error);
}
