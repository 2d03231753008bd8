// SPDX-License-Identifier: Apache-2.0
// idforge gen: print new IDs, one per line, safely by default.
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "common.h"
#include "idforge/clock.h"
#include "idforge/encoding.h"
#include "idforge/flake128.h"
#include "idforge/generator.h"
#include "idforge/ksuid.h"
#include "idforge/object_id.h"
#include "idforge/renewer.h"
#include "idforge/ulid.h"
#include "idforge/uuid.h"
#include "run_node.h"
#include "serve_cluster.h"

namespace idforge::cli {
namespace {

struct GenOptions {
  std::string format = "snowflake";
  std::string layout = "twitter";
  std::string count = "1";
  std::string encoding = "dec";
  std::optional<std::string> node;
  std::optional<std::string> data_dir;
  std::int64_t max_lead_ms = GeneratorOptions{}.max_lead_ms;
  std::int64_t max_wait_ms = GeneratorOptions{}.max_wait_ms;
  bool verbose = false;
  ClusterFlags cluster;  // --etcd: the node is leased from the cluster's ID space.
};

// flake-128 workers picked automatically come from 0 .. kAutoWorkers - 1.
constexpr std::uint64_t kAutoWorkers = 1024;
constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 62;
// A run expected to take longer than this at the layout's cap says so on a terminal.
constexpr double kSlowRunSeconds = 3;

Error invalid(std::string message) { return Error(Errc::invalid_argument, std::move(message)); }

Result<std::uint64_t> parse_count(const std::string& text) {
  const std::optional<std::uint64_t> n = parse_whole(text);
  if (!n || *n < 1 || *n > kMaxCount) {
    return invalid("-n/--count '" + text + "' must be a whole number from 1 to " + std::to_string(kMaxCount) + " (2^62)");
  }
  return *n;
}

// flake-128's worker: --worker N (or --node N); nullopt picks the lowest free one.
Result<std::optional<std::uint64_t>> flake128_worker(const GenOptions& options, const std::vector<std::string>& extras) {
  std::optional<std::uint64_t> worker;
  if (options.node) {
    Result<std::uint64_t> n = parse_node(*options.node, kFlake128Workers - 1, "flake-128's 48-bit worker");
    if (!n) return n.error();
    worker = *n;
  }
  for (std::size_t i = 0; i < extras.size(); ++i) {
    std::string value;
    if (extras[i] == "--worker" && i + 1 < extras.size()) {
      value = extras[++i];
    } else if (extras[i].starts_with("--worker=")) {
      value = extras[i].substr(9);
    } else {
      return invalid("unexpected argument '" + extras[i] + "'; flake128 takes --worker N");
    }
    if (worker) return invalid("give --worker once (or --node), not both");
    worker = parse_whole(value);
    if (!worker || *worker >= kFlake128Workers) {
      return invalid("--worker '" + value + "' must be a whole number from 0 to " + std::to_string(kFlake128Workers - 1));
    }
  }
  return worker;
}

// Takes the node (or the lowest free one) and prints what acquiring found.
Result<RunNode> take_node(const GenOptions& options, const NodeSpace& space, const Layout& layout,
                          std::optional<std::uint64_t> node, std::uint64_t last_auto, Clock& clock) {
  Result<DataDir> dir = resolve_data_dir(options.data_dir);
  if (!dir) return dir.error();
  if (dir->warning) print_error(*dir->warning);
  Result<RunNode> taken = take_run_node(options.cluster, dir->path, space, layout, node, last_auto, clock);
  if (!taken) return taken;
  for (const std::string& note : taken->notes) print_error("warning: " + note);
  if (options.verbose) {
    print_error("holding node " + std::to_string(taken->reservation->node()) + " of " + space.name + " in " +
                taken->where +
                (taken->reservation->inherited_stamp()
                     ? "; stamps start after " + std::to_string(*taken->reservation->inherited_stamp())
                     : "; the node was never held"));
  }
  return taken;
}

// How a run ends: printed everything, a generator refusal, a failed write, or a
// signal. Writes nothing itself but the signal's line.
int finish(Output& out, Result<void> made, std::uint64_t printed) {
  if (!made) {
    out.flush();
    return fail(made.error());
  }
  const bool flushed = out.flush();
  if (stop_signal() != 0) {
    print_error("stopped by " + signal_name(stop_signal()) + " after " + std::to_string(printed) +
                " IDs; the final reservation is written");
    return kExitFailure;
  }
  return flushed ? kExitOk : kExitFailure;
}

// Prints `count` IDs, one per line, from a generator whose next() gives one value
// that format_to() writes; stops early on a refusal, a failed write or a signal.
template <class WideGenerator>
int print_wide(std::uint64_t count, WideGenerator& generator) {
  Output out;
  std::uint64_t printed = 0;
  Result<void> made;
  for (; printed < count && !out.failed() && stop_signal() == 0; ++printed) {
    auto id = generator.next();
    if (!id) {
      made = id.error();
      break;
    }
    char* at = out.reserve(64);
    at = format_to(*id, at);
    *at++ = '\n';
    out.commit(at);
  }
  return finish(out, made, printed);
}

// UUIDv4 needs no state: a generator only in name.
struct UuidV4Source {
  Random& random;
  Result<Uuid> next() { return Uuid::v4(random); }
};

int run_flake128(CLI::App& app, const GenOptions& options, std::uint64_t count, const TimePolicy& policy,
                 Clock& clock) {
  Result<std::optional<std::uint64_t>> worker = flake128_worker(options, app.remaining());
  if (!worker) return fail(worker.error());
  Result<RunNode> held = take_node(options, NodeSpace::flake128(), Layout::twitter(), *worker, kAutoWorkers - 1, clock);
  if (!held) return fail(held.error());
  Result<std::unique_ptr<Flake128Generator>> generator = Flake128Generator::create(policy, clock, *held->reservation);
  if (!generator) return fail(generator.error());
  int status = kExitOk;
  {
    Renewer renewer([&generator] { return (*generator)->renew(); },
                    std::chrono::milliseconds(GeneratorOptions{}.reserve_ahead_ms / 4));
    status = print_wide(count, **generator);
  }
  if (Result<void> closed = (*generator)->close(); !closed && status == kExitOk) status = fail(closed.error());
  if (Result<void> ended = held->end(); !ended && status == kExitOk) status = fail(ended.error());
  return status;
}

int run_gen_wide(CLI::App& app, const GenOptions& options, std::uint64_t count, Format format) {
  if (app.count("--layout") || app.count("--encoding")) {
    return fail(invalid("--layout and --encoding apply to --format snowflake only"));
  }
  if (format != Format::flake128 && (options.node || !app.remaining().empty())) {
    return fail(invalid("--format " + std::string(to_string(format)) + " takes no node; only snowflake and flake128 do"));
  }
  SystemClock clock;
  Random& random = SystemRandom::instance();
  const TimePolicy policy{.max_lead_ms = options.max_lead_ms, .max_wait_ms = options.max_wait_ms};
  auto run = [count](auto generator) {
    if (!generator) return fail(generator.error());
    return print_wide(count, **generator);
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
      return print_wide(count, source);
    }
    case Format::ksuid:
      return run(KsuidGenerator::create(policy, clock, random));
    case Format::flake128:
      return run_flake128(app, options, count, policy, clock);
    case Format::snowflake:
      break;
  }
  return kExitUsage;
}

int run_gen(CLI::App& app, const GenOptions& options) {
  Result<Format> format = parse_format(options.format);
  if (!format) return fail(format.error());
  Result<std::uint64_t> count = parse_count(options.count);
  if (!count) return fail(count.error());
  stop_on_signals();
  if (*format != Format::snowflake) return run_gen_wide(app, options, *count, *format);
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return fail(layout.error());
  Result<Encoding> encoding = parse_encoding(options.encoding);
  if (!encoding) return fail(encoding.error());
  Result<std::optional<std::uint64_t>> node = resolve_node(*layout, options.node, app.remaining(), "gen");
  if (!node) return fail(node.error());
  const std::uint64_t last_node = (1ULL << layout->node_bits()) - 1;
  SystemClock clock;
  Result<RunNode> held = take_node(options, *layout, *layout, *node, last_node, clock);
  if (!held) return fail(held.error());

  const double cap = layout->capacity().ids_per_second_per_node;
  if (static_cast<double>(*count) / cap > kSlowRunSeconds && ::isatty(STDERR_FILENO)) {
    print_error(std::to_string(*count) + " IDs at layout " + std::string(layout->name()) + "'s cap of " +
                std::to_string(static_cast<std::uint64_t>(cap)) + " per second take about " +
                std::to_string(static_cast<std::uint64_t>(static_cast<double>(*count) / cap + 0.5)) + " s");
  }
  GeneratorOptions generator_options;
  generator_options.layout = *layout;
  generator_options.max_lead_ms = options.max_lead_ms;
  generator_options.max_wait_ms = options.max_wait_ms;
  Result<std::unique_ptr<Generator>> generator = Generator::create(generator_options, clock, *held->reservation);
  if (!generator) return fail(generator.error());
  int status = kExitOk;
  {
    Renewer renewer(**generator, std::chrono::milliseconds(generator_options.reserve_ahead_ms / 4));
    Output out;
    std::vector<std::uint64_t> ids(static_cast<std::size_t>(std::min<std::uint64_t>(*count, layout->capacity().ids_per_tick)));
    std::uint64_t printed = 0;
    Result<void> made;
    while (printed < *count && !out.failed() && stop_signal() == 0) {
      std::span<std::uint64_t> batch(ids.data(), static_cast<std::size_t>(std::min<std::uint64_t>(*count - printed, ids.size())));
      made = (*generator)->next_batch(batch);
      if (!made) break;
      for (std::uint64_t id : batch) {
        char* at = out.reserve(kMaxEncodedLength + 1);
        at = encode_to(id, *encoding, at);
        *at++ = '\n';
        out.commit(at);
      }
      printed += batch.size();
    }
    status = finish(out, made, printed);
  }
  if (Result<void> closed = (*generator)->close(); !closed && status == kExitOk) status = fail(closed.error());
  if (Result<void> ended = held->end(); !ended && status == kExitOk) status = fail(ended.error());
  return status;
}

}  // namespace

Command add_gen(CLI::App& root) {
  auto options = std::make_shared<GenOptions>();
  CLI::App* app = root.add_subcommand("gen", "Generate new IDs, one per line");
  app->description(
      "Generate new IDs, one per line: Snowflake IDs by default, or another format.\n\n"
      "Safe by default: every run holds its node through a lock file and fsync'd marks\n"
      "in the data directory (shared by every idforge process on the host), so two\n"
      "runs at the same moment never print the same ID, and a later run (even with the\n"
      "clock stepped back) starts after the last reserved stamp. With no node given,\n"
      "the lowest free node is taken; a node given explicitly that another process\n"
      "holds is an error.\n\n"
      "Node fields are set by the names the layout gives them:\n"
      "  twitter    --datacenter N --worker N      discord    --worker N --process N\n"
      "  instagram  --shard N                      sonyflake  --machine N\n"
      "  baidu      --worker N                     js53       --worker N\n"
      "  a spec     its own node field names, e.g. 'time:41-region:3-host:7-seq:12' --region N --host N\n"
      "for example\n"
      "  idforge gen --layout twitter --datacenter 1 --worker 7 -n 3\n"
      "Unset fields are 0 when any field is given; --node N gives them all at once.\n\n"
      "Other formats: --format ulid (monotonic), uuidv4, uuidv7 (monotonic), objectid,\n"
      "ksuid, flake128. flake-128's 48-bit worker is held like a Snowflake node (give\n"
      "--worker N, or the lowest free of 0-1023 is taken); the other formats need no\n"
      "node. --max-lead-ms and --max-wait-ms apply to every time-ordered format.\n\n"
      "A closed pipe, SIGTERM, SIGINT or SIGHUP stops the run at once with one line on\n"
      "stderr; the final reservation is written, so the next run starts without delay.\n\n"
      "On a cluster's hosts (--etcd, or IDFORGE_ETCD set as for 'idforge serve'), the\n"
      "node is leased from the cluster's ID space in etcd, as serve leases it, and\n"
      "given back at the end; a data directory whose nodes a cluster leases refuses\n"
      "to hand them out itself.\n");
  app->add_option("--format", options->format, "snowflake, ulid, uuidv4, uuidv7, objectid, ksuid or flake128")
      ->capture_default_str();
  app->add_option("--layout", options->layout, layout_option_help())->capture_default_str();
  app->add_option("-n,--count", options->count, "How many IDs to print, 1 to 2^62")->capture_default_str();
  app->add_option("--encoding", options->encoding, "Text form: dec, hex, base62, base32 or base58")
      ->capture_default_str();
  app->add_option("--node", options->node,
                  "Node number: the node fields concatenated (twitter: datacenter*32+worker); Default: the lowest free");
  app->add_option("--data-dir,--state-dir", options->data_dir, data_dir_option_help());
  app->add_option("--max-lead-ms", options->max_lead_ms,
                  "How far stamps may run ahead of the clock in bursts or after a rollback (0: never)")
      ->capture_default_str();
  app->add_option("--max-wait-ms", options->max_wait_ms, "How long to wait for the clock before failing")
      ->capture_default_str();
  app->add_flag("-v,--verbose", options->verbose, "Say on stderr which data directory and node the run holds");
  add_etcd_flags(*app, options->cluster);
  // Not --datacenter: twitter's node field has that name.
  add_space_flags(*app, options->cluster, /*datacenter_flag=*/false);
  app->allow_extras();
  app->footer("Exit codes: 0 done; 1 failure (node held, clock behind, I/O, closed output, stopped by a signal);\n"
              "2 bad flags or input.");
  return {app, [app, options] { return run_gen(*app, *options); }};
}

}  // namespace idforge::cli
