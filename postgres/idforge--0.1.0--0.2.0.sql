-- SPDX-License-Identifier: Apache-2.0
-- idforge 0.1.0 to 0.2.0: the reservation travels in the WAL and names its server;
-- idforge_recover() makes a refused one this server's own.
\echo Use "ALTER EXTENSION idforge UPDATE" to load this file. \quit

CREATE FUNCTION idforge_recover(issued_until timestamptz DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'idforge_recover' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION idforge_recover(timestamptz) IS
  'Makes a refused reservation this server''s own, past issued_until, the mark and the clock (superuser)';
REVOKE ALL ON FUNCTION idforge_recover(timestamptz) FROM PUBLIC;
