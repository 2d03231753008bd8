// SPDX-License-Identifier: Apache-2.0
// idforge sql: SQL that installs a never-duplicate ID generator for one node into
// PostgreSQL, with no extension (managed databases allow plain SQL and PL/pgSQL),
// and its decode and time-range helpers.
//
// How the generated function keeps its promise (docs/postgres.md tells users):
//   - Its state is one sequence per node of a geometry in the database,
//     idforge."snowflake-<geometry>-node-<N>", whatever the function is called or
//     where it lives: two functions made for one node share it (and its lock), so
//     they never repeat each other's IDs. It holds (tick << sequence_bits) |
//     sequence of the last ID issued. Sequence changes are never rolled back, are
//     written to the WAL, and a server restarts them at or past every value a
//     committed transaction saw, so a restart, a crash or a failover to a replica
//     that has replayed the WAL continues after the last ID. A state made for
//     another layout of the geometry (another epoch or tick) is refused.
//   - Every call takes a session-level advisory lock (released before it returns,
//     and on every error) around nextval and setval, so the jump to the current tick
//     cannot race another session's nextval: calls on one node are serialised.
//   - A used-up tick carries into the next (the sequence counts on), a clock behind
//     the last ID continues on logical time; both only while the stamp is at most
//     max_lead_ms ahead of the clock. Past that a call waits up to max_wait_ms, then
//     fails. The sequence's MAXVALUE is the layout's last ID: it never wraps.
#include <algorithm>
#include <cctype>

#include "common.h"
#include "core/text.h"
#include "idforge/generator.h"
#include "idforge/node_space.h"
#include "idforge/time_text.h"
#include "idforge/version.h"

namespace idforge::cli {
namespace {

struct SqlOptions {
  std::string layout = "twitter";
  std::optional<std::string> node;
  std::string schema = "public";
  std::string function = "next_id";
  std::int64_t max_lead_ms = GeneratorOptions{}.max_lead_ms;
  std::int64_t max_wait_ms = GeneratorOptions{}.max_wait_ms;
};

// The longest suffix a helper adds to the function's name ("_fields").
constexpr std::size_t kLongestSuffix = 7;
// PostgreSQL truncates identifiers longer than this.
constexpr std::size_t kMaxIdentifier = 63;
// The advisory lock's first key half: "idfg".
constexpr std::int64_t kLockClass = 0x69646667;

Error invalid(std::string message) { return Error(Errc::invalid_argument, std::move(message)); }

// A lower-case SQL identifier that needs no quoting and no case folding.
Result<void> check_identifier(const std::string& name, const std::string& flag, std::size_t max) {
  const bool ok = !name.empty() && name.size() <= max && (std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
                  });
  if (ok) return {};
  return invalid(flag + " '" + name + "' must be 1 to " + std::to_string(max) +
                 " characters of a-z, 0-9 and _, starting with a letter or _");
}

std::string num(std::int64_t v) { return std::to_string(v); }
std::string num(std::uint64_t v) { return std::to_string(v); }

// Replaces every "{key}" in `text` with its value.
std::string fill(std::string text, const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [key, value] : values) {
    const std::string mark = "{" + key + "}";
    for (std::size_t at; (at = text.find(mark)) != std::string::npos;) text.replace(at, mark.size(), value);
  }
  return text;
}

// The generator: the sequence that holds its node's state and the function.
constexpr const char* kGenerator = R"SQL(
-- The state of node {node} of geometry {geometry} in this database, shared by every
-- function made for the node: (tick << {seq_bits}) | sequence of the last ID issued.
-- Never lower it, and never call nextval or setval on it yourself.
CREATE SCHEMA IF NOT EXISTS idforge;
DO $idforge$
DECLARE
  legacy regclass := to_regclass('{q}{name}_state');
BEGIN
  IF to_regclass('{state}') IS NULL THEN
    CREATE SEQUENCE {state} AS bigint MINVALUE 0 MAXVALUE {max_state} START 0 CACHE 1 NO CYCLE;
    COMMENT ON SEQUENCE {state} IS '{identity}';
  ELSIF obj_description(to_regclass('{state}'), 'pg_class') IS DISTINCT FROM '{identity}' THEN
    RAISE EXCEPTION 'idforge: node {node} of geometry {geometry} already has a state in this database, of another layout: %',
      obj_description(to_regclass('{state}'), 'pg_class')
      USING HINT = 'One node has one state per database: make this layout''s generator for another node.';
  END IF;
  -- A state of an earlier version, per function: carried over, never lowered.
  IF legacy IS NOT NULL AND obj_description(legacy, 'pg_class') = 'idforge generator: layout {spec}, node {node}' THEN
    EXECUTE format('SELECT setval(%L, greatest((SELECT last_value FROM {state}), (SELECT last_value FROM %s)))',
                   '{state}', legacy);
    EXECUTE format('COMMENT ON SEQUENCE %s IS %L', legacy, 'idforge: moved to {state}; no longer used');
  END IF;
  -- A function of this name that makes another layout's IDs is not replaced.
  IF to_regprocedure('{q}{name}()') IS NOT NULL
     AND obj_description(to_regprocedure('{q}{name}()'), 'pg_proc') LIKE 'idforge generator: %'
     AND obj_description(to_regprocedure('{q}{name}()'), 'pg_proc') IS DISTINCT FROM '{identity}' THEN
    RAISE EXCEPTION 'idforge: {q}{name}() already makes the IDs of another generator: %',
      obj_description(to_regprocedure('{q}{name}()'), 'pg_proc')
      USING HINT = 'Give this generator its own --function name.';
  END IF;
END
$idforge$;

-- {name}(): the next ID of layout {layout_name}, node {node}. Never a duplicate, whatever the
-- clock does; at most {per_tick} IDs per {tick_ms} ms tick, calls on this node serialised.
CREATE OR REPLACE FUNCTION {q}{name}() RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $idforge$
DECLARE
  lock_key constant bigint := ({lock_class}::bigint << 32) | '{state}'::regclass::oid::bigint;
  state bigint;
  now_ms bigint;
  now_tick bigint;
  ahead_ms bigint;
  waited_ms bigint := 0;
BEGIN
  BEGIN
    -- Inside the block, so that a cancellation the moment after it is taken still
    -- reaches the handler that releases it.
    PERFORM pg_advisory_lock(lock_key);
    state := nextval('{state}');
    LOOP
      now_ms := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
      IF now_ms < {epoch_ms} THEN
        RAISE EXCEPTION 'idforge: the clock reads %, before layout {layout_name}''s epoch {epoch_text}', clock_timestamp()
          USING ERRCODE = 'object_not_in_prerequisite_state';
      END IF;
      now_tick := (now_ms - {epoch_ms}) / {tick_ms};
      IF state < now_tick << {seq_bits} THEN
        -- The clock is past the last ID: start the current tick.
        IF now_tick > {max_tick} THEN
          RAISE EXCEPTION 'idforge: layout {layout_name} has run out of time (its last instant is {last_text})'
            USING ERRCODE = 'sequence_generator_limit_exceeded';
        END IF;
        state := now_tick << {seq_bits};
        PERFORM setval('{state}', state);
        EXIT;
      END IF;
      ahead_ms := ((state >> {seq_bits}) - now_tick) * {tick_ms};
      EXIT WHEN ahead_ms <= {max_lead_ms};
      -- Too far ahead of the clock: more IDs than ticks, or the clock is behind the last ID.
      IF waited_ms + ahead_ms - {max_lead_ms} > {max_wait_ms} THEN
        RAISE EXCEPTION 'idforge: {name}() is % ms ahead of the clock, past its lead of {max_lead_ms} ms; it issues again when the clock catches up',
          ahead_ms
          USING ERRCODE = 'object_not_in_prerequisite_state',
                HINT = 'The clock stepped back, or more than {per_tick} IDs a tick were asked for. Retry later, or re-run idforge sql with a larger --max-lead-ms.';
      END IF;
      PERFORM pg_sleep((ahead_ms - {max_lead_ms}) / 1000.0);
      waited_ms := waited_ms + ahead_ms - {max_lead_ms};
    END LOOP;
    PERFORM pg_advisory_unlock(lock_key);
  EXCEPTION
    WHEN sequence_generator_limit_exceeded THEN
      PERFORM pg_advisory_unlock(lock_key);
      RAISE EXCEPTION 'idforge: layout {layout_name} has run out of time (its last instant is {last_text})'
        USING ERRCODE = 'sequence_generator_limit_exceeded';
    WHEN OTHERS OR query_canceled THEN
      PERFORM pg_advisory_unlock(lock_key);
      RAISE;
  END;
  RETURN ((state >> {seq_bits}) << {ts_shift}) | ((state & {seq_mask}) << {seq_shift}) | {node_bits_in_id};
END
$idforge$;
COMMENT ON FUNCTION {q}{name}() IS '{identity}';
)SQL";

// The helpers: pure functions of an ID or an instant.
constexpr const char* kHelpers = R"SQL(
-- {name}_time(id): the instant an ID's stamp starts.
CREATE OR REPLACE FUNCTION {q}{name}_time(id bigint) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $idforge$
BEGIN
  IF id < 0 OR (id >> {ts_shift}) > {max_tick} THEN
    RAISE EXCEPTION 'idforge: % is not an ID of layout {layout_name}', id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN timestamptz 'epoch' + ({epoch_ms} + (id >> {ts_shift}) * {tick_ms}) * interval '1 millisecond';
END
$idforge$;

-- {name}_fields(id): an ID taken apart, as `idforge decode --layout {layout_name}` does.
CREATE OR REPLACE FUNCTION {q}{name}_fields(id bigint, OUT "time" timestamptz, OUT tick bigint{field_outs}, OUT "{seq_name}" bigint)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $idforge$
BEGIN
  "time" := {q}{name}_time(id);
  tick := id >> {ts_shift};
{field_sets}  "{seq_name}" := (id >> {seq_shift}) & {seq_mask};
END
$idforge$;

-- {name}_min_at(t), {name}_max_at(t): the smallest and largest ID any node can stamp
-- in the tick holding t, so that  WHERE id BETWEEN {name}_min_at(a) AND {name}_max_at(b)
-- is one index range over every ID made from a to b.
CREATE OR REPLACE FUNCTION {q}{name}_min_at(t timestamptz) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $idforge$
DECLARE
  ms constant bigint := floor(extract(epoch FROM t) * 1000)::bigint;
  tick bigint;
BEGIN
  IF ms < {epoch_ms} OR ms > {last_ms} THEN
    RAISE EXCEPTION 'idforge: % is outside layout {layout_name}''s lifetime, {epoch_text} to {last_text}', t
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  tick := (ms - {epoch_ms}) / {tick_ms};
  RETURN tick << {ts_shift};
END
$idforge$;

CREATE OR REPLACE FUNCTION {q}{name}_max_at(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN {q}{name}_min_at(t) | {below_stamp};
)SQL";

int run_sql(CLI::App& app, const SqlOptions& options) {
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return fail(layout.error());
  Result<std::optional<std::uint64_t>> node = resolve_node(*layout, options.node, app.remaining(), "sql");
  if (!node) return fail(node.error());
  if (!*node) {
    std::string fields;
    for (int f = 0; f < layout->node_field_count(); ++f) fields += std::string(" --") += layout->node_field(f).name();
    return fail(invalid("a node is required: --node N, or the layout's node fields (" + fields.substr(1) +
                        "); each database that makes IDs of one layout needs its own node"));
  }
  for (const auto& [name, flag, max] : {std::tuple{options.schema, "--schema", kMaxIdentifier},
                                        std::tuple{options.function, "--function", kMaxIdentifier - kLongestSuffix}}) {
    if (Result<void> ok = check_identifier(name, flag, max); !ok) return fail(ok.error());
  }
  if (options.max_lead_ms < 0 || options.max_lead_ms > 86'400'000) {
    return fail(invalid("--max-lead-ms must be from 0 to 86400000 (one day)"));
  }
  if (options.max_wait_ms < 0 || options.max_wait_ms > 3'600'000) {
    return fail(invalid("--max-wait-ms must be from 0 to 3600000 (one hour)"));
  }

  const Layout& l = *layout;
  const int seq_bits = l.sequence_field().bits;
  const std::uint64_t seq_mask = l.sequence_field().max_value();
  const std::uint64_t max_state = (static_cast<std::uint64_t>(l.max_tick()) << seq_bits) | seq_mask;
  const int ts_shift = l.timestamp_field().shift;
  const Capacity capacity = l.capacity();
  const std::string spec = l.spec();
  std::string field_outs;
  std::string field_sets;
  for (int f = 0; f < l.node_field_count(); ++f) {
    const Field& field = l.node_field(f);
    const std::string name(field.name());
    field_outs += ", OUT \"" + name + "\" bigint";
    field_sets += "  \"" + name + "\" := (id >> " + num(static_cast<std::int64_t>(field.shift)) + ") & " +
                  num(field.max_value()) + ";\n";
  }
  const std::string q = "\"" + options.schema + "\".";
  // One state per node of the geometry, whatever the function's name or schema.
  const std::string geometry = NodeSpace(l).name;
  std::string state_name = geometry + "-node-" + num(**node);
  if (state_name.size() > kMaxIdentifier) {
    char hash[20];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(detail::fnv1a64(l.geometry())));
    state_name = std::string("snowflake-") + hash + "-node-" + num(**node);
  }
  const std::vector<std::pair<std::string, std::string>> values = {
      {"q", q},
      {"name", options.function},
      {"state", "idforge.\"" + state_name + "\""},
      {"geometry", geometry},
      {"spec", spec},
      {"identity", "idforge generator: layout " + spec + ", node " + num(**node)},
      {"layout_name", std::string(l.name()) == "custom" ? spec : std::string(l.name())},
      {"node", num(**node)},
      {"seq_bits", num(static_cast<std::int64_t>(seq_bits))},
      {"seq_mask", num(seq_mask)},
      {"seq_name", std::string(l.sequence_field().name())},
      {"seq_shift", num(static_cast<std::int64_t>(l.sequence_field().shift))},
      {"ts_shift", num(static_cast<std::int64_t>(ts_shift))},
      {"node_bits_in_id", num(l.node_bits_in_id(**node))},
      {"below_stamp", num((std::uint64_t{1} << ts_shift) - 1)},
      {"max_state", num(max_state)},
      {"max_tick", num(l.max_tick())},
      {"epoch_ms", num(l.epoch_unix_ms())},
      {"tick_ms", num(l.tick_ms())},
      {"last_ms", num(capacity.last_unix_ms)},
      {"epoch_text", format_utc_ms(l.epoch_unix_ms())},
      {"last_text", format_utc_ms(capacity.last_unix_ms)},
      {"per_tick", num(capacity.ids_per_tick)},
      {"max_lead_ms", num(options.max_lead_ms)},
      {"max_wait_ms", num(options.max_wait_ms)},
      {"lock_class", num(kLockClass)},
      {"field_outs", field_outs},
      {"field_sets", field_sets},
  };
  Output out;
  out.append("-- Made by idforge " IDFORGE_VERSION " (idforge sql): layout " + spec + ", node " + num(**node) +
             ", max lead " + num(options.max_lead_ms) + " ms, max wait " + num(options.max_wait_ms) +
             " ms.\n-- Run it with: psql -v ON_ERROR_STOP=1 -1 -f FILE (it is safe to run again).\n");
  if (options.schema != "public") out.append("CREATE SCHEMA IF NOT EXISTS \"" + options.schema + "\";\n");
  out.append(fill(kGenerator, values));
  out.append(fill(kHelpers, values));
  return out.flush() ? kExitOk : kExitFailure;
}

}  // namespace

Command add_sql(CLI::App& root) {
  auto options = std::make_shared<SqlOptions>();
  CLI::App* app = root.add_subcommand("sql", "SQL that installs an ID generator into PostgreSQL, no extension needed");
  app->description(
      "Prints SQL that installs, for one node of a layout, a PostgreSQL function that\n"
      "makes never-duplicate IDs (usable as a column DEFAULT), with its decode and\n"
      "time-range helpers. It needs no extension, so it runs on managed databases.\n"
      "The generator's state is a sequence in the database: a restart, a crash, a\n"
      "failover to a replica that has replayed the WAL, or a clock step back never\n"
      "repeats an ID. Calls on one node are serialised (docs/postgres.md gives the rate).\n\n"
      "  idforge sql --layout instagram --shard 5 | psql -v ON_ERROR_STOP=1 -1\n"
      "  CREATE TABLE photos (id bigint PRIMARY KEY DEFAULT next_id(), ...);\n\n"
      "Creates, in --schema, with NAME from --function:\n"
      "  NAME()                 the next ID (bigint)\n"
      "  NAME_time(id)          when an ID was made (timestamptz)\n"
      "  NAME_fields(id)        time, tick, each node field and the sequence, by the\n"
      "                         layout's names\n"
      "  NAME_min_at(t)         the smallest ID of the tick holding t\n"
      "  NAME_max_at(t)         the largest: WHERE id BETWEEN NAME_min_at(a) AND NAME_max_at(b)\n"
      "  idforge.\"snowflake-GEOMETRY-node-N\"  the node's state (a sequence; never change it),\n"
      "                         one per node in the database, shared by every\n"
      "                         function made for the node, whatever its name\n"
      "Running it again keeps the state and replaces the functions; it refuses a\n"
      "state made for another layout of the node, and a NAME that makes another\n"
      "generator's IDs.\n\n"
      "Node: --node N, or the layout's node fields by name (--shard 5 for instagram,\n"
      "--datacenter 1 --worker 7 for twitter). Each database making IDs of one layout\n"
      "needs its own node, as every idforge process does.\n");
  app->add_option("--layout", options->layout, layout_option_help())->capture_default_str();
  app->add_option("--node", options->node, "Node number: the node fields concatenated (twitter: datacenter*32+worker)");
  app->add_option("--schema", options->schema, "The schema to create the functions in (created if missing)")
      ->capture_default_str();
  app->add_option("--function", options->function, "The generator's name; the helpers' names start with it")
      ->capture_default_str();
  app->add_option("--max-lead-ms", options->max_lead_ms,
                  "How far stamps may run ahead of the clock in bursts or after the clock steps back (0: never)")
      ->capture_default_str();
  app->add_option("--max-wait-ms", options->max_wait_ms, "How long a call waits for the clock before it fails")
      ->capture_default_str();
  app->allow_extras();
  app->footer("Exit codes: 0 printed; 1 failure writing output; 2 bad flags, layout or node.");
  return {app, [app, options] { return run_sql(*app, *options); }};
}

}  // namespace idforge::cli
