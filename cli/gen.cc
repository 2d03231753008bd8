// idforge gen: print new IDs, one per line, safely by default.
#include <cstdlib>
#include <optional>
#include <unistd.h>

#include "common.h"
#include "idforge/clock.h"
#include "idforge/encoding.h"
#include "idforge/file_reservation.h"
#include "idforge/flake128.h"
#include "idforge/generator.h"
#include "idforge/ksuid.h"
#include "idforge/object_id.h"
#include "idforge/renewer.h"
#include "idforge/ulid.h"
#include "idforge/uuid.h"

namespace idforge::cli {
namespace {

struct GenOptions {
  std::string format = "snowflake";
  std::string layout = "twitter";
  std::uint64_t count = 1;
  std::string encoding = "dec";
  std::optional<std::uint64_t> node;
  std::string data_dir;
  std::int64_t max_lead_ms = GeneratorOptions{}.max_lead_ms;
  std::int64_t max_wait_ms = GeneratorOptions{}.max_wait_ms;
};

// flake-128 workers picked automatically come from 0 .. kAutoWorkers - 1.
constexpr std::uint64_t kAutoWorkers = 1024;

// Reads node fields given by their layout names ("--worker 5", "--worker=5") from
// the arguments CLI11 did not recognise. Returns the node number, nullopt when no
// field was given, or an error.
Result<std::optional<std::uint64_t>> node_from_fields(const Layout& layout, const std::vector<std::string>& extras) {
  std::array<std::uint64_t, kMaxNodeFields> values{};
  bool any = false;
  for (std::size_t i = 0; i < extras.size(); ++i) {
    std::string arg = extras[i];
    std::string value;
    if (!arg.starts_with("--")) {
      return Error(Errc::invalid_argument, "unexpected argument '" + arg + "'; see 'idforge gen --help'");
    }
    arg.erase(0, 2);
    if (const std::size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (i + 1 < extras.size()) {
      value = extras[++i];
    }
    const int field = layout.find_node_field(arg);
    if (field < 0) {
      std::string names;
      for (int f = 0; f < layout.node_field_count(); ++f) {
        names += std::string(f ? ", --" : "--") += layout.node_field(f).name();
      }
      return Error(Errc::invalid_argument, "unknown option --" + arg + "; layout " + std::string(layout.name()) +
                                               " sets its node with " + (names.empty() ? "no fields" : names));
    }
    const Field& f = layout.node_field(field);
    const std::optional<std::uint64_t> v = parse_whole(value);
    if (!v || *v > f.max_value()) {
      return Error(Errc::invalid_argument, "--" + arg + " '" + value + "' must be a whole number from 0 to " +
                                               std::to_string(f.max_value()));
    }
    values[static_cast<std::size_t>(field)] = *v;
    any = true;
  }
  if (!any) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>(layout.node_number(values));
}

// Prints `count` IDs, one per line; `next` writes one ID's text at a pointer and
// returns its end, or the error that stops the run.
template <class Next>
int print_each(std::uint64_t count, Next&& next) {
  Output out;
  for (std::uint64_t i = 0; i < count; ++i) {
    char* at = out.reserve(64);
    Result<char*> end = next(at);
    if (!end) {
      out.flush();
      return fail(end.error());
    }
    **end = '\n';
    out.commit(*end + 1);
  }
  return out.flush() ? kExitOk : kExitFailure;
}

// Prints `count` IDs from any wide-format generator.
template <class WideGenerator>
int print_wide(std::uint64_t count, WideGenerator& generator) {
  return print_each(count, [&generator](char* out) -> Result<char*> {
    auto id = generator.next();
    if (!id) return id.error();
    return format_to(*id, out);
  });
}

// UUIDv4 needs no state: a generator only in name.
struct UuidV4Source {
  Random& random;
  Result<Uuid> next() { return Uuid::v4(random); }
};

// flake-128's worker: --worker N (or --node N); nullopt picks the lowest free one.
Result<std::optional<std::uint64_t>> flake128_worker(const GenOptions& options, const std::vector<std::string>& extras) {
  std::optional<std::uint64_t> worker = options.node;
  for (std::size_t i = 0; i < extras.size(); ++i) {
    std::string value;
    if (extras[i] == "--worker" && i + 1 < extras.size()) {
      value = extras[++i];
    } else if (extras[i].starts_with("--worker=")) {
      value = extras[i].substr(9);
    } else {
      return Error(Errc::invalid_argument, "unexpected argument '" + extras[i] + "'; flake128 takes --worker N");
    }
    if (worker) return Error(Errc::invalid_argument, "give --worker once (or --node), not both");
    worker = parse_whole(value);
    if (!worker || *worker >= kFlake128Workers) {
      return Error(Errc::invalid_argument, "--worker '" + value + "' must be a whole number from 0 to " +
                                               std::to_string(kFlake128Workers - 1));
    }
  }
  return worker;
}

int run_flake128(CLI::App& app, const GenOptions& options, const TimePolicy& policy, Clock& clock) {
  Result<std::optional<std::uint64_t>> worker = flake128_worker(options, app.remaining());
  if (!worker) return fail(worker.error());
  const NodeSpace space = NodeSpace::flake128();
  Result<std::unique_ptr<FileReservation>> reservation =
      *worker ? FileReservation::acquire(options.data_dir, space, **worker)
              : FileReservation::acquire_any(options.data_dir, space, 0, kAutoWorkers - 1);
  if (!reservation) return fail(reservation.error());
  Result<std::unique_ptr<Flake128Generator>> generator = Flake128Generator::create(policy, clock, **reservation);
  if (!generator) return fail(generator.error());
  int status = kExitOk;
  {
    Renewer renewer([&generator] { return (*generator)->renew(); },
                    std::chrono::milliseconds(GeneratorOptions{}.reserve_ahead_ms / 4));
    status = print_wide(options.count, **generator);
  }
  if (Result<void> closed = (*generator)->close(); !closed && status == kExitOk) status = fail(closed.error());
  return status;
}

int run_gen_wide(CLI::App& app, const GenOptions& options, Format format) {
  if (app.count("--layout") || app.count("--encoding")) {
    return fail(Error(Errc::invalid_argument, "--layout and --encoding apply to --format snowflake only"));
  }
  if (format != Format::flake128 && (options.node || !app.remaining().empty())) {
    return fail(Error(Errc::invalid_argument, "--format " + std::string(to_string(format)) +
                                                  " takes no node; only snowflake and flake128 do"));
  }
  SystemClock clock;
  Random& random = SystemRandom::instance();
  const TimePolicy policy{.max_lead_ms = options.max_lead_ms, .max_wait_ms = options.max_wait_ms};
  auto run = [&options](auto generator) {
    if (!generator) return fail(generator.error());
    return print_wide(options.count, **generator);
  };
  switch (format) {
    case Format::ulid:
      return run(UlidGenerator::create(policy, clock, random));
    case Format::uuidv7:
      return run(UuidV7Generator::create(policy, clock, random));
    case Format::objectid:
      return run(ObjectIdGenerator::create(policy, clock, random));
    case Format::uuidv4: {
      UuidV4Source source{random};
      return print_wide(options.count, source);
    }
    case Format::ksuid:
      return run(KsuidGenerator::create(policy, clock, random));
    case Format::flake128:
      return run_flake128(app, options, policy, clock);
    case Format::snowflake:
      break;
  }
  return kExitUsage;
}

int run_gen(CLI::App& app, const GenOptions& options) {
  Result<Format> format = parse_format(options.format);
  if (!format) return fail(format.error());
  if (*format != Format::snowflake) return run_gen_wide(app, options, *format);
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return fail(layout.error());
  Result<Encoding> encoding = parse_encoding(options.encoding);
  if (!encoding) return fail(encoding.error());
  Result<std::optional<std::uint64_t>> by_fields = node_from_fields(*layout, app.remaining());
  if (!by_fields) return fail(by_fields.error());
  if (*by_fields && options.node) return fail(Error(Errc::invalid_argument, "give --node or node fields, not both"));
  const std::optional<std::uint64_t> node = options.node ? options.node : *by_fields;

  const std::uint64_t last_node = (1ULL << layout->node_bits()) - 1;
  Result<std::unique_ptr<FileReservation>> reservation =
      node ? FileReservation::acquire(options.data_dir, *layout, *node)
           : FileReservation::acquire_any(options.data_dir, *layout, 0, last_node);
  if (!reservation) return fail(reservation.error());

  SystemClock clock;
  GeneratorOptions generator_options;
  generator_options.layout = *layout;
  generator_options.max_lead_ms = options.max_lead_ms;
  generator_options.max_wait_ms = options.max_wait_ms;
  Result<std::unique_ptr<Generator>> generator = Generator::create(generator_options, clock, **reservation);
  if (!generator) return fail(generator.error());
  int status = kExitOk;
  {
    Renewer renewer(**generator, std::chrono::milliseconds(generator_options.reserve_ahead_ms / 4));
    Output out;
    std::vector<std::uint64_t> ids(static_cast<std::size_t>(
        std::min<std::uint64_t>(options.count, layout->capacity().ids_per_tick)));
    for (std::uint64_t left = options.count; left > 0 && status == kExitOk;) {
      std::span<std::uint64_t> batch(ids.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, ids.size())));
      if (Result<void> made = (*generator)->next_batch(batch); !made) {
        out.flush();
        status = fail(made.error());
        break;
      }
      for (std::uint64_t id : batch) {
        char* at = out.reserve(kMaxEncodedLength + 1);
        at = encode_to(id, *encoding, at);
        *at++ = '\n';
        out.commit(at);
      }
      left -= batch.size();
    }
    if (!out.flush() && status == kExitOk) status = kExitFailure;
  }
  if (Result<void> closed = (*generator)->close(); !closed && status == kExitOk) status = fail(closed.error());
  return status;
}

}  // namespace

Command add_gen(CLI::App& root) {
  auto options = std::make_shared<GenOptions>();
  options->data_dir = default_data_dir();
  CLI::App* app = root.add_subcommand("gen", "Generate new IDs, one per line");
  app->description(
      "Generate new IDs, one per line: Snowflake IDs by default, or another format.\n\n"
      "Safe by default: every run holds its node through a lock file and an fsync'd\n"
      "high-water mark in the state directory, so two runs at the same moment never\n"
      "print the same ID, and a later run (even with the clock stepped back) starts\n"
      "after the last reserved instant. With no node given, the lowest free node is\n"
      "taken; a node given explicitly that another process holds is an error.\n\n"
      "Node fields can be set by the names the layout gives them, for example\n"
      "  idforge gen --layout twitter --datacenter 1 --worker 7 -n 3\n"
      "  idforge gen --layout discord --worker 2 --process 5\n"
      "Unset fields are 0 when any field is given.\n\n"
      "Other formats: --format ulid (monotonic), uuidv4, uuidv7 (monotonic), objectid,\n"
      "ksuid, flake128. flake-128's 48-bit worker is held like a Snowflake node (give\n"
      "--worker N, or the lowest free of 0-1023 is taken); the other formats need no\n"
      "node. --max-lead-ms and --max-wait-ms apply to every time-ordered format.\n");
  app->add_option("--format", options->format,
                  "snowflake, ulid, uuidv4, uuidv7, objectid, ksuid or flake128")
      ->capture_default_str();
  app->add_option("--layout", options->layout, layout_option_help())->capture_default_str();
  app->add_option("-n,--count", options->count, "How many IDs to print")->capture_default_str()->check(
      CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 62));
  app->add_option("--encoding", options->encoding, "Text form: dec, hex, base62, base32 or base58")
      ->capture_default_str();
  app->add_option("--node", options->node,
                  "Node number: the node fields concatenated (twitter: datacenter*32+worker)");
  app->add_option("--data-dir,--state-dir", options->data_dir,
                  "Where node locks and high-water marks live; Default: $XDG_STATE_HOME/idforge, else "
                  "~/.local/state/idforge")
      ->envname("IDFORGE_DATA_DIR")
      ->capture_default_str();
  app->add_option("--max-lead-ms", options->max_lead_ms,
                  "How far stamps may run ahead of the clock in bursts or after a rollback (0: never)")
      ->capture_default_str();
  app->add_option("--max-wait-ms", options->max_wait_ms, "How long to wait for the clock before failing")
      ->capture_default_str();
  app->allow_extras();
  app->footer("Exit codes: 0 done; 1 failure (node held, clock behind, I/O); 2 bad flags or input.");
  return {app, [app, options] { return run_gen(*app, *options); }};
}

}  // namespace idforge::cli
