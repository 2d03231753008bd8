// SPDX-License-Identifier: Apache-2.0
#include "verify_ranges.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "common.h"
#include "idforge/layout.h"

namespace idforge::cli {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxExamples = 10;

enum class Kind { claimed, reserved, released };

// One record of an audit log.
struct Record {
  Kind kind = Kind::claimed;
  std::uint32_t input = 0;
  std::uint64_t line = 0;
  std::uint64_t first = 0;
  std::optional<std::uint64_t> last;  // Always set but for a release that issued nothing.
  std::uint64_t issued = 0;
  std::string host;
  std::int64_t pid = 0;
  std::string run;  // Empty in a log of a version before reservations were recorded.
  std::uint64_t holder = 0;
  std::string at;
  // The generator's states of first and last (tick, then sequence): consecutive
  // states of a node are consecutive numbers, which its IDs are not.
  std::uint64_t first_state = 0;
  std::optional<std::uint64_t> last_state;
};

// The layouts records name, parsed once each (nullopt: not a layout).
using Layouts = std::map<std::string, std::optional<Layout>>;

std::uint64_t state_of(const Layout& layout, std::uint64_t id) {
  const Parts parts = layout.decompose(id);
  return (static_cast<std::uint64_t>(parts.tick) << layout.sequence_field().bits) | parts.sequence;
}

// An ID space (a layout's geometry) and a node in it.
using NodeKey = std::pair<std::string, std::uint64_t>;
// One holder of a node: a generator of one run of a process.
using HolderKey = std::tuple<std::string, std::string, std::uint64_t>;  // host, run, holder

HolderKey holder_of(const Record& r) { return {r.host, r.run, r.holder}; }

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
std::variant<std::pair<NodeKey, Record>, std::string> parse_record(std::string_view line, Layouts& layouts) {
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::string("not a JSON object");
  Record r;
  const auto kind = j.find("kind");
  if (kind != j.end()) {
    if (*kind == "reserved") {
      r.kind = Kind::reserved;
    } else if (*kind == "released") {
      r.kind = Kind::released;
    } else if (*kind != "claimed") {
      return std::string("kind must be claimed, reserved or released");
    }
  }
  const auto space = j.find("space");
  const auto node = j.find("node");
  const auto issued = j.find("issued");
  const std::optional<std::uint64_t> first = id_field(j, "first"), last = id_field(j, "last");
  if (space == j.end() || !space->is_string() || node == j.end() || !node->is_number_unsigned()) {
    return std::string("not an audit record: it needs space and node");
  }
  switch (r.kind) {
    case Kind::claimed:
      if (!first || !last || issued == j.end() || !issued->is_number_unsigned()) {
        return std::string("not an audit record: a claimed range needs first, last (IDs as strings) and issued");
      }
      r.issued = issued->get<std::uint64_t>();
      break;
    case Kind::reserved:
      if (!first || !last) return std::string("a reserved range needs first and last (IDs as strings)");
      break;
    case Kind::released:
      if (j.contains("last") && !last) return std::string("a release's last must be an ID as a string");
      break;
  }
  if (first && last && *first > *last) return std::string("first is after last");
  r.first = first.value_or(0);
  r.last = last;
  if (const auto h = j.find("host"); h != j.end() && h->is_string()) r.host = h->get<std::string>();
  if (const auto p = j.find("pid"); p != j.end() && p->is_number_integer()) r.pid = p->get<std::int64_t>();
  if (const auto u = j.find("run"); u != j.end() && u->is_string()) r.run = u->get<std::string>();
  if (const auto h = j.find("holder"); h != j.end() && h->is_number_unsigned()) r.holder = h->get<std::uint64_t>();
  if (const auto a = j.find("at"); a != j.end() && a->is_string()) r.at = a->get<std::string>();
  if (r.kind != Kind::claimed && r.run.empty()) return std::string("a reservation record needs run and holder");
  if (!r.run.empty()) {
    // Reservations are checked in the generator's states: the record's layout says how.
    const auto spec = j.find("layout");
    if (spec == j.end() || !spec->is_string()) return std::string("a record with a run needs its layout");
    auto [at, fresh] = layouts.try_emplace(spec->get<std::string>());
    if (fresh) {
      Result<Layout> parsed = Layout::parse(at->first);
      if (parsed) at->second = *parsed;
    }
    if (!at->second) return "layout '" + at->first + "' is not a layout";
    if (at->second->geometry() != space->get<std::string>()) {
      return "layout '" + at->first + "' is of geometry " + at->second->geometry() + ", not the record's space " +
             space->get<std::string>();
    }
    r.first_state = state_of(*at->second, r.first);
    if (r.last) r.last_state = state_of(*at->second, *r.last);
  }
  return std::pair{NodeKey{space->get<std::string>(), node->get<std::uint64_t>()}, r};
}

// What a holder may have issued: its reserved ranges, cut at its release.
struct HolderSpan {
  std::vector<Record> reserved;  // Sorted by first; each cut to the release.
  std::optional<Record> released;
  std::uint64_t first = UINT64_MAX;  // Of the cut ranges; first > last: nothing.
  std::uint64_t last = 0;
};

struct NodeRecords {
  std::vector<Record> claimed;
  std::map<HolderKey, HolderSpan> holders;
};

struct RangesReport {
  std::uint64_t ranges = 0;  // Claimed.
  std::uint64_t reserved = 0;
  std::uint64_t released = 0;
  std::uint64_t issued = 0;
  std::uint64_t overlaps = 0;              // Claimed ranges of a node that overlap.
  std::uint64_t reservation_overlaps = 0;  // Reserved ranges of two holders of a node that overlap.
  std::uint64_t uncovered = 0;             // Claimed ranges outside their holder's reservations.
  std::uint64_t unparsed = 0;
  std::vector<BadLine> unparsed_examples;
  std::vector<Overlap> overlap_examples;
  std::vector<Overlap> reservation_overlap_examples;
  std::vector<Overlap> uncovered_examples;  // b: the claimed range; a: its holder's nearest reservation.
  std::map<NodeKey, NodeRecords> nodes;
};

// Sorts `records` by their first ID and calls `found(reach, r)` for every record
// that begins at or before the furthest end seen so far (when `apart(reach, r)`).
template <class Apart, class Found>
void each_overlap(std::vector<Record>& records, Apart&& apart, Found&& found) {
  std::sort(records.begin(), records.end(),
            [](const Record& a, const Record& b) { return std::tie(a.first, a.last) < std::tie(b.first, b.last); });
  const Record* reach = nullptr;
  for (const Record& r : records) {
    if (reach != nullptr && r.first <= *reach->last && apart(*reach, r)) found(*reach, r);
    if (reach == nullptr || *r.last > *reach->last) reach = &r;
  }
}

void check(RangesReport& report) {
  for (auto& [key, node] : report.nodes) {
    each_overlap(node.claimed, [](const Record&, const Record&) { return true; }, [&](const Record& a, const Record& b) {
      ++report.overlaps;
      if (report.overlap_examples.size() < kMaxExamples) report.overlap_examples.push_back({key, a, b});
    });
    // Every holder's reservations, cut at its release: what it may have issued.
    std::vector<Record> spans;
    for (auto& [holder, h] : node.holders) {
      for (Record& r : h.reserved) {
        if (h.released && (!h.released->last || *h.released->last < *r.last)) {
          if (!h.released->last || *h.released->last < r.first) continue;  // Given back whole.
          r.last = h.released->last;
          r.last_state = h.released->last_state;
        }
        h.first = std::min(h.first, r.first);
        h.last = std::max(h.last, *r.last);
        spans.push_back(r);
      }
    }
    each_overlap(spans, [](const Record& a, const Record& b) { return holder_of(a) != holder_of(b); },
                 [&](const Record& a, const Record& b) {
                   ++report.reservation_overlaps;
                   if (report.reservation_overlap_examples.size() < kMaxExamples) {
                     report.reservation_overlap_examples.push_back({key, a, b});
                   }
                 });
    // Every claimed range of a holder that recorded reservations lies inside them.
    for (const Record& c : node.claimed) {
      const auto h = node.holders.find(holder_of(c));
      if (c.run.empty() || h == node.holders.end() || h->second.reserved.empty()) continue;
      // In states: the next state after a reservation's last is the first of the
      // next reservation, while the next ID of the node is a tick away.
      std::uint64_t from = c.first_state;
      bool covered = false;
      for (const Record& r : h->second.reserved) {
        if (r.first_state <= from && from <= *r.last_state) {
          if (*r.last_state >= *c.last_state) {
            covered = true;
            break;
          }
          from = *r.last_state + 1;
        }
      }
      if (!covered) {
        ++report.uncovered;
        if (report.uncovered_examples.size() < kMaxExamples) {
          report.uncovered_examples.push_back({key, h->second.reserved.back(), c});
        }
      }
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
    t.last = std::max(t.last, *r.last);
  }
  return t;
}

const char* kind_name(Kind k) { return k == Kind::claimed ? "claimed" : k == Kind::reserved ? "reserved" : "released"; }

json record_json(const std::vector<Input>& inputs, const Record& r) {
  return {{"input", inputs[r.input].name}, {"line", r.line}, {"kind", kind_name(r.kind)},
          {"first", std::to_string(r.first)}, {"last", r.last ? json(std::to_string(*r.last)) : json()},
          {"issued", r.issued},  {"host", r.host}, {"pid", r.pid}, {"run", r.run}, {"holder", r.holder}, {"at", r.at}};
}

std::string record_text(const std::vector<Input>& inputs, const Record& r) {
  return inputs[r.input].name + ":" + std::to_string(r.line) + " " + kind_name(r.kind) + " [" + std::to_string(r.first) +
         ", " + (r.last ? std::to_string(*r.last) : std::string("-")) + "] " + r.host + " pid " + std::to_string(r.pid) +
         " at " + r.at;
}

void append_examples(std::string& out, const std::vector<Input>& inputs, const char* what, std::uint64_t count,
                     const std::vector<Overlap>& examples) {
  if (examples.empty()) return;
  out += "\n" + std::string(what) + " (" + std::to_string(examples.size()) + " of " + std::to_string(count) + "):\n";
  for (const Overlap& o : examples) {
    out += "  " + o.node.first + " node " + std::to_string(o.node.second) + ":\n    " + record_text(inputs, o.a) +
           "\n    " + record_text(inputs, o.b) + "\n";
  }
}

std::string to_text(const std::vector<Input>& inputs, const RangesReport& r) {
  std::string out = format_table({{"ranges", std::to_string(r.ranges)},
                                   {"reserved", std::to_string(r.reserved)},
                                   {"released", std::to_string(r.released)},
                                   {"issued", std::to_string(r.issued)},
                                   {"overlaps", std::to_string(r.overlaps)},
                                   {"reservation_overlaps", std::to_string(r.reservation_overlaps)},
                                   {"uncovered", std::to_string(r.uncovered)},
                                   {"unparsed", std::to_string(r.unparsed)},
                                   {"nodes", std::to_string(r.nodes.size())}});
  if (!r.nodes.empty()) {
    std::vector<std::vector<std::string>> rows = {{"space", "node", "ranges", "holders", "issued", "first", "last"}};
    for (const auto& [key, node] : r.nodes) {
      const NodeTotals t = totals(node.claimed);
      rows.push_back({key.first, std::to_string(key.second), std::to_string(node.claimed.size()),
                      std::to_string(node.holders.size()), std::to_string(t.issued),
                      node.claimed.empty() ? "-" : std::to_string(t.first),
                      node.claimed.empty() ? "-" : std::to_string(t.last)});
    }
    out += "\n" + format_table(rows);
  }
  append_examples(out, inputs, "overlapping ranges", r.overlaps, r.overlap_examples);
  append_examples(out, inputs, "overlapping reservations of two holders", r.reservation_overlaps,
                  r.reservation_overlap_examples);
  append_examples(out, inputs, "claimed ranges outside their holder's reservations", r.uncovered, r.uncovered_examples);
  if (!r.unparsed_examples.empty()) {
    out += "\nunparsed (" + std::to_string(r.unparsed_examples.size()) + " of " + std::to_string(r.unparsed) + "):\n";
    for (const BadLine& b : r.unparsed_examples) {
      out += "  " + inputs[b.input].name + ":" + std::to_string(b.line) + "  " + b.error + "\n";
    }
  }
  const std::uint64_t faults = r.overlaps + r.reservation_overlaps + r.uncovered;
  out += "\n" + (faults == 0 ? "no overlapping ranges among " + std::to_string(r.ranges) + " claimed and " +
                                   std::to_string(r.reserved) + " reserved"
                             : std::to_string(faults) + " ranges that overlap or lie outside a reservation, among " +
                                   std::to_string(r.ranges + r.reserved)) +
         "\n";
  return out;
}

json examples_json(const std::vector<Input>& inputs, const std::vector<Overlap>& examples) {
  json out = json::array();
  for (const Overlap& o : examples) {
    out.push_back({{"space", o.node.first}, {"node", o.node.second}, {"a", record_json(inputs, o.a)},
                   {"b", record_json(inputs, o.b)}});
  }
  return out;
}

json to_json(const std::vector<Input>& inputs, const RangesReport& r) {
  json out = {{"ranges", r.ranges},     {"reserved", r.reserved},
              {"released", r.released}, {"issued", r.issued},
              {"overlaps", r.overlaps}, {"reservation_overlaps", r.reservation_overlaps},
              {"uncovered", r.uncovered}, {"unparsed", r.unparsed}};
  out["overlap_examples"] = examples_json(inputs, r.overlap_examples);
  out["reservation_overlap_examples"] = examples_json(inputs, r.reservation_overlap_examples);
  out["uncovered_examples"] = examples_json(inputs, r.uncovered_examples);
  json bad = json::array();
  for (const BadLine& b : r.unparsed_examples) {
    bad.push_back({{"input", inputs[b.input].name}, {"line", b.line}, {"error", b.error}});
  }
  out["unparsed_examples"] = bad;
  json nodes = json::array();
  for (const auto& [key, node] : r.nodes) {
    const NodeTotals t = totals(node.claimed);
    json holders = json::array();
    for (const auto& [holder, h] : node.holders) {
      const bool any = h.first <= h.last;
      holders.push_back({{"host", std::get<0>(holder)}, {"run", std::get<1>(holder)}, {"holder", std::get<2>(holder)},
                         {"first", any ? json(std::to_string(h.first)) : json()},
                         {"last", any ? json(std::to_string(h.last)) : json()}, {"released", h.released.has_value()}});
    }
    nodes.push_back({{"space", key.first}, {"node", key.second}, {"ranges", node.claimed.size()}, {"issued", t.issued},
                     {"first", node.claimed.empty() ? json() : json(std::to_string(t.first))},
                     {"last", node.claimed.empty() ? json() : json(std::to_string(t.last))}, {"holders", holders}});
  }
  out["nodes"] = nodes;
  json ins = json::array();
  for (const Input& in : inputs) ins.push_back({{"name", in.name}, {"ranges", in.count}});
  out["inputs"] = ins;
  return out;
}

}  // namespace

int run_verify_ranges(std::vector<Input>& inputs, bool as_json, bool skip_unparsed) {
  RangesReport report;
  Layouts layouts;
  for (std::uint32_t i = 0; i < inputs.size(); ++i) {
    TokenReader reader(inputs[i].fd, "'" + inputs[i].name + "'");
    while (std::optional<std::string_view> line = reader.next_line()) {
      if (line->find_first_not_of(" \t\r") == std::string_view::npos) continue;
      auto parsed = parse_record(*line, layouts);
      if (auto* bad = std::get_if<std::string>(&parsed)) {
        ++report.unparsed;
        if (report.unparsed_examples.size() < kMaxExamples) report.unparsed_examples.push_back({i, reader.line(), *bad});
        continue;
      }
      auto& [key, record] = std::get<0>(parsed);
      record.input = i;
      record.line = reader.line();
      ++inputs[i].count;
      NodeRecords& node = report.nodes[key];
      switch (record.kind) {
        case Kind::claimed:
          ++report.ranges;
          report.issued += record.issued;
          node.claimed.push_back(std::move(record));
          break;
        case Kind::reserved:
          ++report.reserved;
          node.holders[holder_of(record)].reserved.push_back(std::move(record));
          break;
        case Kind::released:
          ++report.released;
          node.holders[holder_of(record)].released = std::move(record);
          break;
      }
    }
    if (reader.error()) {
      print_error(*reader.error() + "; nothing was verified");
      return kExitFailure;
    }
  }
  for (auto& [key, node] : report.nodes) {
    for (auto& [holder, h] : node.holders) {
      std::sort(h.reserved.begin(), h.reserved.end(), [](const Record& a, const Record& b) { return a.first < b.first; });
    }
  }
  check(report);
  Output out;
  out.append(as_json ? to_json(inputs, report).dump(-1, ' ', false, json::error_handler_t::replace) + "\n"
                     : to_text(inputs, report));
  if (!out.flush()) return kExitFailure;
  // An all-clear over records that were never read is no all-clear.
  const std::string example =
      report.unparsed_examples.empty()
          ? std::string()
          : " (such as line " + std::to_string(report.unparsed_examples.front().line) + " of " +
                inputs[report.unparsed_examples.front().input].name + ": " + report.unparsed_examples.front().error + ")";
  if (report.ranges + report.reserved + report.released == 0) {
    print_error(report.unparsed == 0 ? std::string("no audit record was read: the input is empty, so nothing was verified")
                                     : "no line was read as an audit record" + example + ", so nothing was verified");
    return kExitFailure;
  }
  if (report.unparsed != 0 && !skip_unparsed) {
    print_error(std::to_string(report.unparsed) + " lines were not read as audit records" + example +
                ", so the check says nothing about them (pass --skip-unparsed to accept the check of the rest)");
    return kExitFailure;
  }
  return report.overlaps + report.reservation_overlaps + report.uncovered == 0 ? kExitOk : kExitFailure;
}

}  // namespace idforge::cli
