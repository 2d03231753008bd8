// SPDX-License-Identifier: Apache-2.0
// idforge layout: the capacity planner.
#include <chrono>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "common.h"
#include "idforge/clock.h"
#include "idforge/time_text.h"

namespace idforge::cli {
namespace {

struct LayoutOptions {
  std::string layout;
  bool json = false;
};

constexpr double kMsPerYear = 365.2425 * 86'400'000.0;
// A layout with less time left than this gets a warning.
constexpr double kWarnYears = 10.0;

std::string years(double y) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", y);
  return buf;
}

// Groups digits in threes: 4096000 -> 4,096,000.
std::string grouped(double value) {
  const std::string digits = std::to_string(static_cast<std::uint64_t>(std::llround(value)));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// The lifetime warning, or "" when the layout has more than kWarnYears left.
std::string lifetime_warning(const Layout& layout, std::int64_t now_ms) {
  const Capacity c = layout.capacity();
  const std::string end = format_utc_ms(c.last_unix_ms);
  if (c.last_unix_ms < now_ms) {
    return "WARNING: layout " + std::string(layout.name()) + " ran out of time on " + end +
           "; it can no longer make IDs (old IDs still decode). Choose a layout with a later end.";
  }
  if (layout.epoch_unix_ms() > now_ms) {
    return "WARNING: layout " + std::string(layout.name()) + "'s epoch " + format_utc_ms(layout.epoch_unix_ms()) +
           " is in the future; it can make no ID until then. Choose an epoch in the past.";
  }
  const double left = static_cast<double>(c.last_unix_ms - now_ms) / kMsPerYear;
  if (left < kWarnYears) {
    return "WARNING: layout " + std::string(layout.name()) + " runs out of time in " + years(left) +
           " years, on " + end + "; plan the move to a layout with a later end now.";
  }
  return "";
}

nlohmann::ordered_json to_json(const Layout& layout, std::int64_t now_ms) {
  const Capacity c = layout.capacity();
  nlohmann::ordered_json j;
  j["name"] = std::string(layout.name());
  j["spec"] = layout.spec();
  nlohmann::ordered_json fields = nlohmann::ordered_json::array();
  for (const Field& f : layout.fields()) {
    const char* kind = f.kind == FieldKind::timestamp ? "timestamp" : f.kind == FieldKind::sequence ? "sequence" : "node";
    fields.push_back({{"name", std::string(f.name())}, {"kind", kind}, {"bits", f.bits}, {"shift", f.shift}});
  }
  j["fields"] = fields;
  j["id_space"] = "snowflake-" + layout.geometry();
  j["tick_ms"] = layout.tick_ms();
  j["epoch"] = format_utc_ms(layout.epoch_unix_ms());
  j["ids_per_tick"] = c.ids_per_tick;
  j["ids_per_second_per_node"] = c.ids_per_second_per_node;
  j["nodes"] = c.nodes;
  j["last_time"] = format_utc_ms(c.last_unix_ms);
  j["years_left"] = std::max(0.0, static_cast<double>(c.last_unix_ms - now_ms) / kMsPerYear);
  j["js_unsafe_from"] = c.js_unsafe_from_unix_ms ? nlohmann::ordered_json(format_utc_ms(*c.js_unsafe_from_unix_ms))
                                                 : nlohmann::ordered_json(nullptr);
  const std::string warning = lifetime_warning(layout, now_ms);
  j["warning"] = warning.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(warning);
  return j;
}

std::string describe(const Layout& layout, std::int64_t now_ms) {
  const Capacity c = layout.capacity();
  std::string s;
  auto row = [&s](std::string_view key, const std::string& value) {
    s += std::string(key) + std::string(14 - key.size(), ' ') + value + "\n";
  };
  row("layout", std::string(layout.name()));
  row("spec", layout.spec());
  std::string bits;
  int total = 0;
  for (const Field& f : layout.fields()) {
    bits += (bits.empty() ? "" : " | ") + std::string(f.name()) + " " + std::to_string(f.bits);
    total += f.bits;
  }
  row("bits", std::to_string(total) + ": " + bits + (total == 64 ? " (the top bit is the sign bit, never set)" : ""));
  row("id space", "snowflake-" + layout.geometry() + " (every layout with its node and sequence bits here shares "
                  "its nodes and IDs)");
  row("tick", std::to_string(layout.tick_ms()) + " ms");
  row("epoch", format_utc_ms(layout.epoch_unix_ms()));
  row("per node", grouped(c.ids_per_second_per_node) + " IDs/s (" + grouped(static_cast<double>(c.ids_per_tick)) +
                      " per tick)");
  row("nodes", grouped(static_cast<double>(c.nodes)));
  row("cluster", grouped(c.ids_per_second_per_node * static_cast<double>(c.nodes)) + " IDs/s");
  const double left = static_cast<double>(c.last_unix_ms - now_ms) / kMsPerYear;
  row("ends", format_utc_ms(c.last_unix_ms) + (left > 0 ? " (" + years(left) + " years from now)" : " (past)"));
  row("2^53", c.js_unsafe_from_unix_ms
                  ? "IDs exceed JavaScript's safe integers from " + format_utc_ms(*c.js_unsafe_from_unix_ms) +
                        "; send them as strings"
                  : std::string("every ID stays below 2^53 (safe as a JavaScript number)"));
  const std::string warning = lifetime_warning(layout, now_ms);
  if (!warning.empty()) s += "\n" + warning + "\n";
  return s;
}

int run_layout(const LayoutOptions& options) {
  const std::int64_t now_ms = SystemClock().wall_ns() / 1'000'000;
  Output out;
  if (options.layout.empty()) {
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    std::string table = "NAME       IDS/S/NODE   NODES     ENDS                      SPEC\n";
    for (std::string_view name : Layout::preset_names()) {
      const Layout layout = Layout::parse(name).value();
      const Capacity c = layout.capacity();
      all.push_back(to_json(layout, now_ms));
      char line[512];
      std::snprintf(line, sizeof line, "%-10s %-12s %-9s %-24s%s  %s\n", std::string(name).c_str(),
                    grouped(c.ids_per_second_per_node).c_str(), grouped(static_cast<double>(c.nodes)).c_str(),
                    format_utc_ms(c.last_unix_ms).c_str(), c.last_unix_ms < now_ms ? "!" : " ",
                    layout.spec().c_str());
      table += line;
    }
    out.append(options.json ? all.dump() + "\n" : table + "\n! = ran out of time; 'idforge layout NAME' for details\n");
    return out.flush() ? kExitOk : kExitFailure;
  }
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return fail(layout.error());
  out.append(options.json ? to_json(*layout, now_ms).dump() + "\n" : describe(*layout, now_ms));
  return out.flush() ? kExitOk : kExitFailure;
}

}  // namespace

Command add_layout(CLI::App& root) {
  auto options = std::make_shared<LayoutOptions>();
  CLI::App* app = root.add_subcommand("layout", "Show a bit layout's capacity and lifetime");
  app->description(
      "The capacity planner: IDs per second per node, number of nodes, when the layout's\n"
      "time runs out (with a warning inside 10 years), and when IDs pass 2^53.\n"
      "With no layout, lists the presets.\n\n"
      "A layout spec names fields, most significant first, as name:bits joined by '-';\n"
      "the field named time/timestamp is the timestamp and seq/sequence/increment/counter\n"
      "the sequence, any other name is a node field. Options follow '/': tick= (Nms or Ns,\n"
      "Default: 1ms) and epoch= (Unix ms or a UTC date; Default: 1970-01-01). Example:\n"
      "  idforge layout 'time:41-datacenter:5-worker:5-seq:12/tick=1ms/epoch=2024-01-01'\n");
  app->add_option("layout", options->layout, "A preset name or a layout spec");
  app->add_flag("--json", options->json, "Print JSON instead of text");
  app->footer("Exit codes: 0 shown; 2 an invalid layout.");
  return {app, [options] { return run_layout(*options); }};
}

}  // namespace idforge::cli
