-- SPDX-License-Identifier: Apache-2.0
-- The idforge extension's functions. Loaded only through shared_preload_libraries
-- (the library refuses otherwise, saying what to add to postgresql.conf).
\echo Use "CREATE EXTENSION idforge" to load this file. \quit

CREATE FUNCTION idforge_next() RETURNS bigint
AS 'MODULE_PATHNAME', 'idforge_next' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION idforge_next() IS 'The next ID of idforge.layout for idforge.node; never a duplicate';

CREATE FUNCTION idforge_next(count integer) RETURNS SETOF bigint
AS 'MODULE_PATHNAME', 'idforge_next_batch' LANGUAGE C VOLATILE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION idforge_next(integer) IS 'count consecutive IDs, claimed in one step';

CREATE FUNCTION idforge_uuidv7() RETURNS uuid
AS 'MODULE_PATHNAME', 'idforge_uuidv7' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION idforge_uuidv7() IS 'A UUIDv7 (RFC 9562), increasing within each session';

CREATE FUNCTION idforge_ulid() RETURNS uuid
AS 'MODULE_PATHNAME', 'idforge_ulid' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION idforge_ulid() IS 'A ULID as a uuid (its 16 bytes), increasing within each session';

CREATE FUNCTION idforge_ulid_text(ulid uuid) RETURNS text
AS 'MODULE_PATHNAME', 'idforge_ulid_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION idforge_ulid_text(uuid) IS 'The 26-character Crockford base32 text of a ULID kept as a uuid';

CREATE FUNCTION idforge_time(id bigint) RETURNS timestamptz
AS 'MODULE_PATHNAME', 'idforge_time' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION idforge_time(bigint) IS 'The instant an ID of idforge.layout was stamped';

CREATE FUNCTION idforge_fields(id bigint, OUT "time" timestamptz, OUT tick bigint, OUT node bigint,
                               OUT sequence bigint)
AS 'MODULE_PATHNAME', 'idforge_fields' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION idforge_fields(bigint) IS 'An ID of idforge.layout taken apart (node: the node number)';

CREATE FUNCTION idforge_min_at(t timestamptz) RETURNS bigint
AS 'MODULE_PATHNAME', 'idforge_min_at' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION idforge_max_at(t timestamptz) RETURNS bigint
AS 'MODULE_PATHNAME', 'idforge_max_at' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION idforge_min_at(timestamptz) IS 'The smallest ID any node can stamp in the tick holding t';
COMMENT ON FUNCTION idforge_max_at(timestamptz) IS 'The largest ID any node can stamp in the tick holding t';

CREATE FUNCTION idforge_decode(id text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'idforge_decode' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION idforge_decode(text) IS 'Any ID taken apart, as idforge decode --json prints it';

CREATE FUNCTION idforge_recover(issued_until timestamptz DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'idforge_recover' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION idforge_recover(timestamptz) IS
  'Makes a refused reservation this server''s own, past issued_until, the mark and the clock (superuser)';
REVOKE ALL ON FUNCTION idforge_recover(timestamptz) FROM PUBLIC;
