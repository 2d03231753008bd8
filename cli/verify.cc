// SPDX-License-Identifier: Apache-2.0
// idforge verify: check a population of IDs, or a fleet's audit logs, for
// duplicates.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common.h"
#include "idforge/clock.h"
#include "idforge/time_text.h"
#include "population.h"
#include "verify_ranges.h"

namespace idforge::cli {
namespace {

struct VerifyOptions {
  std::string layout = "twitter";
  std::string format;
  std::string encoding;
  bool json = false;
  bool ranges = false;
  bool skip_unparsed = false;
  std::string tmp_dir;
  std::size_t memory_mb = 1024;
  std::vector<std::string> files;
};

Result<std::vector<Input>> open_inputs(const std::vector<std::string>& files) {
  std::vector<Input> inputs;
  if (files.empty()) inputs.push_back({"stdin", STDIN_FILENO});
  for (const std::string& f : files) {
    if (f == "-") {
      inputs.push_back({"stdin", STDIN_FILENO});
      continue;
    }
    const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error(Errc::invalid_argument, "cannot open '" + f + "': " + std::strerror(errno));
    inputs.push_back({f, fd});
  }
  for (Input& in : inputs) {
    struct stat st {};
    in.rereadable = ::fstat(in.fd, &st) == 0 && S_ISREG(st.st_mode);
  }
  return inputs;
}

// A progress line on stderr, rewritten about once a second, when stderr is a terminal.
class Progress {
 public:
  Progress() : on_(::isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()), last_(start_) {}
  ~Progress() { clear(); }

  void update(std::uint64_t ids, std::uint64_t spilled_bytes) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\ridforge verify: %.1f M IDs read (%.1f M/s), %.2f GiB in --tmp-dir\033[K",
                 static_cast<double>(ids) / 1e6, static_cast<double>(ids) / 1e6 / seconds,
                 static_cast<double>(spilled_bytes) / (1 << 30));
    shown_ = true;
  }
  void say(const char* what) {
    if (!on_) return;
    std::fprintf(stderr, "\ridforge verify: %s\033[K", what);
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool on_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// Reads every input into the population. Fails with the first read or temporary-file error.
Result<void> read_all(std::vector<Input>& inputs, Population& population, Progress& progress) {
  SystemClock clock;
  for (std::uint32_t i = 0; i < inputs.size(); ++i) {
    Input& in = inputs[i];
    const std::uint64_t before = population.ids();
    population.begin_input(i);
    population.set_now(clock.wall_ns() / 1'000'000);
    TokenReader reader(in.fd, "'" + in.name + "'");
    std::uint64_t words = 0;
    while (std::optional<std::string_view> word = reader.next()) {
      if (Result<void> added = population.add(*word, reader.line()); !added) return added;
      if ((++words & 0xfffff) == 0) {
        population.set_now(clock.wall_ns() / 1'000'000);
        progress.update(population.ids(), population.spilled_bytes());
      }
    }
    if (reader.error()) return Error(Errc::io, *reader.error());
    in.count = population.ids() - before;
  }
  return {};
}

// Reads the inputs that are regular files again to find where the example repeats were seen.
void locate(std::vector<Input>& inputs, const Population& population, PopulationReport& report) {
  for (std::uint32_t i = 0; i < inputs.size(); ++i) {
    Input& in = inputs[i];
    if (!in.rereadable || ::lseek(in.fd, 0, SEEK_SET) != 0) continue;
    TokenReader reader(in.fd, "'" + in.name + "'");
    while (std::optional<std::string_view> word = reader.next()) {
      const int r = population.repeat_index(report, *word);
      if (r >= 0 && report.repeats[static_cast<std::size_t>(r)].seen.size() < kMaxPlaces) {
        report.repeats[static_cast<std::size_t>(r)].seen.push_back({i, reader.line()});
      }
    }
  }
}

std::string node_fields_text(const Layout& layout, const NodeReport& n) {
  if (!n.node) return "-";
  if (n.format != Format::snowflake || layout.node_field_count() < 2) return std::to_string(*n.node);
  std::string text = std::to_string(*n.node) + " (";
  const auto values = layout.node_values(*n.node);
  for (int i = 0; i < layout.node_field_count(); ++i) {
    if (i > 0) text += " ";
    text += std::string(layout.node_field(i).name()) + "=" + std::to_string(values[static_cast<std::size_t>(i)]);
  }
  return text + ")";
}

std::string instant_text(const std::optional<std::int64_t>& unix_ms) {
  return unix_ms ? format_utc_ms(*unix_ms) : "-";
}

nlohmann::json to_json(const Layout& layout, const std::vector<Input>& inputs, const PopulationReport& r,
                       std::uint64_t spilled_bytes) {
  using nlohmann::json;
  auto where = [&](const Where& w) { return json{{"input", inputs[w.input].name}, {"line", w.line}}; };
  json out = {{"ids", r.ids},
              {"duplicates", r.duplicates},
              {"distinct_repeated", r.distinct_repeated},
              {"unparsed", r.unparsed},
              {"out_of_order", r.out_of_order},
              {"future", r.future},
              {"layout", layout.name() == "custom" ? layout.spec() : std::string(layout.name())},
              {"spilled_bytes", spilled_bytes}};
  json repeats = json::array();
  for (const Repeat& rep : r.repeats) {
    json seen = json::array();
    for (const Where& w : rep.seen) seen.push_back(where(w));
    repeats.push_back({{"id", rep.id}, {"occurrences", rep.occurrences}, {"seen", seen}});
  }
  out["repeats"] = repeats;
  json unparsed = json::array();
  for (const Unparsed& u : r.unparsed_examples) {
    json e = where(u.where);
    e["text"] = u.text;
    e["error"] = u.error;
    unparsed.push_back(e);
  }
  out["unparsed_examples"] = unparsed;
  json nodes = json::array();
  for (const NodeReport& n : r.nodes) {
    json node = {{"format", to_string(n.format)}, {"node", nullptr}, {"ids", n.ids},
                 {"first", nullptr},              {"last", nullptr}, {"first_unix_ms", nullptr},
                 {"last_unix_ms", nullptr},       {"out_of_order", nullptr},
                 {"future", n.future},            {"duplicates", n.duplicates}};
    if (n.node) node["node"] = *n.node;
    if (n.node && n.format == Format::snowflake) {
      const auto values = layout.node_values(*n.node);
      for (int i = 0; i < layout.node_field_count(); ++i) {
        node["fields"][std::string(layout.node_field(i).name())] = values[static_cast<std::size_t>(i)];
      }
    }
    if (n.first_unix_ms) {
      node["first"] = format_utc_ms(*n.first_unix_ms);
      node["last"] = format_utc_ms(*n.last_unix_ms);
      node["first_unix_ms"] = *n.first_unix_ms;
      node["last_unix_ms"] = *n.last_unix_ms;
    }
    if (n.out_of_order) node["out_of_order"] = *n.out_of_order;
    nodes.push_back(node);
  }
  out["nodes"] = nodes;
  json ins = json::array();
  for (const Input& in : inputs) ins.push_back({{"name", in.name}, {"ids", in.count}});
  out["inputs"] = ins;
  return out;
}

std::string to_text(const Layout& layout, const std::vector<Input>& inputs, const PopulationReport& r) {
  auto where = [&](const Where& w) { return inputs[w.input].name + ":" + std::to_string(w.line); };
  std::string out = format_table({{"ids", std::to_string(r.ids)},
                           {"duplicates", std::to_string(r.duplicates)},
                           {"unparsed", std::to_string(r.unparsed)},
                           {"out_of_order", std::to_string(r.out_of_order)},
                           {"future", std::to_string(r.future)},
                           {"nodes", std::to_string(r.nodes.size())}});
  if (!r.nodes.empty()) {
    std::vector<std::vector<std::string>> rows = {
        {"format", "node", "ids", "first", "last", "out_of_order", "future", "duplicates"}};
    for (const NodeReport& n : r.nodes) {
      rows.push_back({std::string(to_string(n.format)), node_fields_text(layout, n), std::to_string(n.ids),
                      instant_text(n.first_unix_ms), instant_text(n.last_unix_ms),
                      n.out_of_order ? std::to_string(*n.out_of_order) : "-", std::to_string(n.future),
                      std::to_string(n.duplicates)});
    }
    out += "\n" + format_table(rows);
  }
  if (!r.repeats.empty()) {
    out += "\nrepeated IDs (" + std::to_string(r.repeats.size()) + " of " + std::to_string(r.distinct_repeated) +
           ", smallest first):\n";
    for (const Repeat& rep : r.repeats) {
      out += "  " + rep.id + "  " + std::to_string(rep.occurrences) + " times";
      if (!rep.seen.empty()) {
        out += ", at";
        for (const Where& w : rep.seen) out += " " + where(w);
      }
      out += "\n";
    }
  }
  if (!r.unparsed_examples.empty()) {
    out += "\nunparsed (" + std::to_string(r.unparsed_examples.size()) + " of " + std::to_string(r.unparsed) + "):\n";
    for (const Unparsed& u : r.unparsed_examples) out += "  " + where(u.where) + "  " + u.text + "  " + u.error + "\n";
  }
  out += "\n" + (r.duplicates == 0 ? "no duplicates among " + std::to_string(r.ids) + " IDs"
                                   : std::to_string(r.duplicates) + " duplicates among " + std::to_string(r.ids) +
                                         " IDs") +
         (r.unparsed != 0 ? ", and " + std::to_string(r.unparsed) + " words not read" : std::string()) + "\n";
  return out;
}

// Why the check proves less than it seems to, or nothing when it is complete: no
// ID read at all, or words left unread (unless the user asked to skip them).
std::optional<std::string> incomplete(const PopulationReport& r, const VerifyOptions& options) {
  const std::string hint = "name their form with --layout, --format or --encoding, or fix the input (one ID a word, "
                           "white space between)";
  if (r.ids == 0) {
    return r.unparsed == 0 ? std::string("no ID was read: the input is empty, so nothing was verified")
                           : "no word was read as an ID (" + std::to_string(r.unparsed) + " words, such as '" +
                                 r.unparsed_examples.front().text + "': " + r.unparsed_examples.front().error +
                                 "), so nothing was verified; " + hint;
  }
  if (r.unparsed != 0 && !options.skip_unparsed) {
    return std::to_string(r.unparsed) + " words were not read as IDs (such as '" + r.unparsed_examples.front().text +
           "': " + r.unparsed_examples.front().error + "), so the check says nothing about them; " + hint +
           " (or pass --skip-unparsed to accept the check of the rest)";
  }
  return std::nullopt;
}

std::string default_tmp_dir() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

int run_verify_ids(const VerifyOptions& options, const PopulationOptions& population_options,
                   std::vector<Input>& inputs) {
  Population population(population_options);
  Progress progress;
  if (Result<void> read = read_all(inputs, population, progress); !read) {
    progress.clear();
    print_error(read.error().message() + "; nothing was verified");
    return kExitFailure;
  }
  progress.say("searching for repeats");
  const std::uint64_t spilled = population.spilled_bytes();
  Result<PopulationReport> report = population.finish();
  if (!report) {
    progress.clear();
    print_error(report.error().message() + "; nothing was verified");
    return kExitFailure;
  }
  if (report->duplicates > 0) {
    progress.say("locating the repeated IDs");
    locate(inputs, population, *report);
  }
  progress.clear();
  const std::optional<std::string> gap = incomplete(*report, options);
  nlohmann::json json;
  if (options.json) {
    json = to_json(population_options.layout, inputs, *report, spilled);
    json["complete"] = !gap.has_value();
  }
  Output out;
  out.append(options.json ? json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"
                          : to_text(population_options.layout, inputs, *report));
  if (!out.flush()) return kExitFailure;
  if (gap) {
    print_error(*gap);
    return kExitFailure;
  }
  return report->duplicates == 0 ? kExitOk : kExitFailure;
}

int run_verify(const VerifyOptions& options, bool layout_given) {
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return fail(layout.error());
  PopulationOptions population;
  population.layout = *layout;
  population.digits_are_snowflakes = layout_given;
  if (!options.format.empty()) {
    Result<Format> f = parse_format(options.format);
    if (!f) return fail(f.error());
    population.format = *f;
  }
  if (!options.encoding.empty()) {
    Result<Encoding> e = parse_encoding(options.encoding);
    if (!e) return fail(e.error());
    if (population.format && *population.format != Format::snowflake) {
      return fail(Error(Errc::invalid_argument, "--encoding applies to --format snowflake only"));
    }
    population.encoding = *e;
  }
  population.memory_bytes = options.memory_mb << 20;
  population.tmp_dir = options.tmp_dir.empty() ? default_tmp_dir() : options.tmp_dir;
  struct stat st {};
  if (::stat(population.tmp_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(Error(Errc::invalid_argument, "--tmp-dir '" + population.tmp_dir + "' is not a directory"));
  }
  Result<std::vector<Input>> inputs = open_inputs(options.files);
  if (!inputs) return fail(inputs.error());
  if (options.ranges) return run_verify_ranges(*inputs, options.json, options.skip_unparsed);
  return run_verify_ids(options, population, *inputs);
}

}  // namespace

Command add_verify(CLI::App& root) {
  auto options = std::make_shared<VerifyOptions>();
  CLI::App* app = root.add_subcommand("verify", "Check IDs, or a fleet's audit logs, for duplicates");
  app->description(
      "Check a population of IDs for duplicates: the outputs of many machines at once\n"
      "(several files are one population), in any text form 'idforge decode' reads.\n"
      "Reads standard input when no file is given ('-' is standard input too).\n\n"
      "Every word must be read as an ID, and one way only: digits are a Snowflake ID\n"
      "of --layout when --layout is given, and words of two readings (16 digits:\n"
      "Snowflake or hex; 32 hex digits: flake-128 or a UUID without dashes) need\n"
      "--layout or --format. A check that reads no ID, or leaves words unread, fails\n"
      "(--skip-unparsed accepts the rest).\n\n"
      "Reports IDs read; duplicates (an ID seen n times counts n - 1), with the\n"
      "smallest repeated IDs and, for inputs that are files, where each was seen;\n"
      "words that are no ID, with their lines; and per node (a Snowflake ID's node\n"
      "fields, a flake-128 worker, an ObjectId's process value; other formats per\n"
      "format): count, first and last instant, order inversions (an ID below the one\n"
      "before it from the same node in the same input) and IDs stamped later than\n"
      "this machine's clock.\n\n"
      "Scales past memory: IDs beyond --memory-mb go to anonymous temporary files in\n"
      "--tmp-dir (8 bytes per Snowflake ID, 24 per other ID), which are gone when the\n"
      "command ends however it ends.\n\n"
      "With --ranges the files are audit logs written by 'idforge serve --audit-log':\n"
      "claimed ranges of one node that overlap, reservations of two holders that\n"
      "overlap, and claimed ranges outside their holder's reservations are reported:\n"
      "a proof that the fleet never issued an ID twice, without storing a single ID.\n"
      "Every line must be a record, as every word must be an ID.\n\n"
      "  idforge gen -n 1000000 | idforge verify\n"
      "  idforge verify --json host-a.txt host-b.txt host-c.txt\n"
      "  idforge verify --ranges /var/log/idforge/audit.log*\n");
  app->add_option("files", options->files, "Files of IDs (or audit logs with --ranges); Default: standard input");
  app->add_option("--layout", options->layout, layout_option_help())->capture_default_str();
  app->add_option("--format", options->format,
                  "Read every ID as this format: snowflake, ulid, uuidv4, uuidv7, objectid, ksuid or flake128 "
                  "(Default: detect, as 'idforge decode' does)");
  app->add_option("--encoding", options->encoding,
                  "Read Snowflake IDs in this text form only: dec, hex, base62, base32 or base58 (Default: detect)");
  app->add_flag("--json", options->json,
                "One JSON object: ids, duplicates, unparsed, out_of_order, future, nodes, repeats, "
                "unparsed_examples, inputs, complete (every word read, at least one ID)");
  app->add_flag("--ranges", options->ranges, "The files are audit logs: check their ranges for overlaps");
  app->add_flag("--skip-unparsed", options->skip_unparsed,
                "Words that are no ID (with --ranges: lines that are no record) are reported, and do not fail the "
                "check of the others");
  app->add_option("--tmp-dir", options->tmp_dir, "Where IDs that do not fit in memory go (Default: $TMPDIR, else /tmp)");
  app->add_option("--memory-mb", options->memory_mb,
                  "Memory for the IDs themselves, in MiB (as much again when other formats are mixed in bulk "
                  "with Snowflake IDs; plus 1 MiB of read buffer and a few bytes per node)")
      ->check(CLI::Range(std::size_t{16}, std::size_t{1} << 20))
      ->capture_default_str();
  app->footer(
      "Exit codes: 0 no duplicates among the IDs read, every word read; 1 duplicates or\n"
      "a finding of --ranges, no ID (record) read, words (lines) left unread (without\n"
      "--skip-unparsed), or the check could not finish (a read error, --tmp-dir full);\n"
      "2 bad flags or an input that cannot be opened.");
  return {app, [app, options] { return run_verify(*options, app->count("--layout") > 0); }};
}

}  // namespace idforge::cli
