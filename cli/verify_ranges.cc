// SPDX-License-Identifier: Apache-2.0
#include "verify_ranges.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "common.h"

namespace idforge::cli {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxExamples = 10;

// One record of an audit log.
struct Record {
  std::uint32_t input = 0;
  std::uint64_t line = 0;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t issued = 0;
  std::string host;
  std::int64_t pid = 0;
  std::string at;
};

// An ID space (a layout's geometry) and a node in it.
using NodeKey = std::pair<std::string, std::uint64_t>;

struct Overlap {
  NodeKey node;
  Record a, b;
};

struct BadLine {
  std::uint32_t input = 0;
  std::uint64_t line = 0;
  std::string error;
};

std::optional<std::uint64_t> id_field(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return parse_whole(it->get<std::string>());
}

// Reads one line as a record, or says why it is none.
std::variant<std::pair<NodeKey, Record>, std::string> parse_record(std::string_view line) {
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::string("not a JSON object");
  const auto space = j.find("space");
  const auto node = j.find("node");
  const auto issued = j.find("issued");
  const std::optional<std::uint64_t> first = id_field(j, "first"), last = id_field(j, "last");
  if (space == j.end() || !space->is_string() || node == j.end() || !node->is_number_unsigned() || !first || !last ||
      issued == j.end() || !issued->is_number_unsigned()) {
    return std::string("not an audit record: it needs space, node, first, last (IDs as strings) and issued");
  }
  if (*first > *last) return std::string("first is after last");
  Record r;
  r.first = *first;
  r.last = *last;
  r.issued = issued->get<std::uint64_t>();
  if (const auto h = j.find("host"); h != j.end() && h->is_string()) r.host = h->get<std::string>();
  if (const auto p = j.find("pid"); p != j.end() && p->is_number_integer()) r.pid = p->get<std::int64_t>();
  if (const auto a = j.find("at"); a != j.end() && a->is_string()) r.at = a->get<std::string>();
  return std::pair{NodeKey{space->get<std::string>(), node->get<std::uint64_t>()}, r};
}

struct RangesReport {
  std::uint64_t ranges = 0;
  std::uint64_t issued = 0;
  std::uint64_t overlaps = 0;
  std::uint64_t unparsed = 0;
  std::vector<BadLine> unparsed_examples;
  std::vector<Overlap> overlap_examples;
  std::map<NodeKey, std::vector<Record>> nodes;
};

// Sorts each node's ranges by their first ID and counts every range that begins at
// or before the furthest end seen so far.
void find_overlaps(RangesReport& report) {
  for (auto& [key, records] : report.nodes) {
    std::sort(records.begin(), records.end(),
              [](const Record& a, const Record& b) { return std::tie(a.first, a.last) < std::tie(b.first, b.last); });
    const Record* reach = nullptr;
    for (const Record& r : records) {
      if (reach != nullptr && r.first <= reach->last) {
        ++report.overlaps;
        if (report.overlap_examples.size() < kMaxExamples) report.overlap_examples.push_back({key, *reach, r});
      }
      if (reach == nullptr || r.last > reach->last) reach = &r;
    }
  }
}

struct NodeTotals {
  std::uint64_t issued = 0;
  std::uint64_t first = UINT64_MAX;
  std::uint64_t last = 0;
};

NodeTotals totals(const std::vector<Record>& records) {
  NodeTotals t;
  for (const Record& r : records) {
    t.issued += r.issued;
    t.first = std::min(t.first, r.first);
    t.last = std::max(t.last, r.last);
  }
  return t;
}

json record_json(const std::vector<Input>& inputs, const Record& r) {
  return {{"input", inputs[r.input].name}, {"line", r.line}, {"first", std::to_string(r.first)},
          {"last", std::to_string(r.last)}, {"issued", r.issued},  {"host", r.host},
          {"pid", r.pid},                   {"at", r.at}};
}

std::string record_text(const std::vector<Input>& inputs, const Record& r) {
  return inputs[r.input].name + ":" + std::to_string(r.line) + " [" + std::to_string(r.first) + ", " +
         std::to_string(r.last) + "] " + r.host + " pid " + std::to_string(r.pid) + " at " + r.at;
}

std::string to_text(const std::vector<Input>& inputs, const RangesReport& r) {
  std::string out = format_table({{"ranges", std::to_string(r.ranges)},
                                   {"issued", std::to_string(r.issued)},
                                   {"overlaps", std::to_string(r.overlaps)},
                                   {"unparsed", std::to_string(r.unparsed)},
                                   {"nodes", std::to_string(r.nodes.size())}});
  if (!r.nodes.empty()) {
    std::vector<std::vector<std::string>> rows = {{"space", "node", "ranges", "issued", "first", "last"}};
    for (const auto& [key, records] : r.nodes) {
      const NodeTotals t = totals(records);
      rows.push_back({key.first, std::to_string(key.second), std::to_string(records.size()), std::to_string(t.issued),
                      std::to_string(t.first), std::to_string(t.last)});
    }
    out += "\n" + format_table(rows);
  }
  if (!r.overlap_examples.empty()) {
    out += "\noverlapping ranges (" + std::to_string(r.overlap_examples.size()) + " of " + std::to_string(r.overlaps) +
           "):\n";
    for (const Overlap& o : r.overlap_examples) {
      out += "  " + o.node.first + " node " + std::to_string(o.node.second) + ":\n    " + record_text(inputs, o.a) +
             "\n    " + record_text(inputs, o.b) + "\n";
    }
  }
  if (!r.unparsed_examples.empty()) {
    out += "\nunparsed (" + std::to_string(r.unparsed_examples.size()) + " of " + std::to_string(r.unparsed) + "):\n";
    for (const BadLine& b : r.unparsed_examples) {
      out += "  " + inputs[b.input].name + ":" + std::to_string(b.line) + "  " + b.error + "\n";
    }
  }
  out += "\n" + (r.overlaps == 0 ? "no overlapping ranges among " + std::to_string(r.ranges)
                                 : std::to_string(r.overlaps) + " overlapping ranges among " + std::to_string(r.ranges)) +
         "\n";
  return out;
}

json to_json(const std::vector<Input>& inputs, const RangesReport& r) {
  json out = {{"ranges", r.ranges}, {"issued", r.issued}, {"overlaps", r.overlaps}, {"unparsed", r.unparsed}};
  json examples = json::array();
  for (const Overlap& o : r.overlap_examples) {
    examples.push_back({{"space", o.node.first}, {"node", o.node.second}, {"a", record_json(inputs, o.a)},
                        {"b", record_json(inputs, o.b)}});
  }
  out["overlap_examples"] = examples;
  json bad = json::array();
  for (const BadLine& b : r.unparsed_examples) {
    bad.push_back({{"input", inputs[b.input].name}, {"line", b.line}, {"error", b.error}});
  }
  out["unparsed_examples"] = bad;
  json nodes = json::array();
  for (const auto& [key, records] : r.nodes) {
    const NodeTotals t = totals(records);
    nodes.push_back({{"space", key.first}, {"node", key.second}, {"ranges", records.size()}, {"issued", t.issued},
                     {"first", std::to_string(t.first)}, {"last", std::to_string(t.last)}});
  }
  out["nodes"] = nodes;
  json ins = json::array();
  for (const Input& in : inputs) ins.push_back({{"name", in.name}, {"ranges", in.count}});
  out["inputs"] = ins;
  return out;
}

}  // namespace

int run_verify_ranges(std::vector<Input>& inputs, bool as_json) {
  RangesReport report;
  for (std::uint32_t i = 0; i < inputs.size(); ++i) {
    TokenReader reader(inputs[i].fd, "'" + inputs[i].name + "'");
    while (std::optional<std::string_view> line = reader.next_line()) {
      if (line->find_first_not_of(" \t\r") == std::string_view::npos) continue;
      auto parsed = parse_record(*line);
      if (auto* bad = std::get_if<std::string>(&parsed)) {
        ++report.unparsed;
        if (report.unparsed_examples.size() < kMaxExamples) report.unparsed_examples.push_back({i, reader.line(), *bad});
        continue;
      }
      auto& [key, record] = std::get<0>(parsed);
      record.input = i;
      record.line = reader.line();
      ++report.ranges;
      ++inputs[i].count;
      report.issued += record.issued;
      report.nodes[key].push_back(std::move(record));
    }
    if (reader.error()) {
      print_error(*reader.error() + "; nothing was verified");
      return kExitFailure;
    }
  }
  find_overlaps(report);
  Output out;
  out.append(as_json ? to_json(inputs, report).dump(-1, ' ', false, json::error_handler_t::replace) + "\n"
                     : to_text(inputs, report));
  if (!out.flush()) return kExitFailure;
  return report.overlaps == 0 ? kExitOk : kExitFailure;
}

}  // namespace idforge::cli
