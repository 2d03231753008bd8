// SPDX-License-Identifier: Apache-2.0
#include "idforge/etcd_space.h"

#include <algorithm>
#include <map>
#include <set>

#include "idforge/random.h"
#include "idforge/time_text.h"
#include "lease/etcd/client.h"
#include "lease/etcd/txn.h"

namespace idforge {
namespace {

using detail::cat;
using Refusal = EtcdSpace::Refusal;
using etcdserverpb::RangeRequest;
using etcdserverpb::TxnRequest;

constexpr std::string_view kSpaceMagic = "idforge-space 1";
// The most nodes one space may own: a mark each is written when it is made.
constexpr std::uint64_t kMaxSpaceNodes = 65'536;

std::string nodes_text(std::uint64_t first, std::uint64_t last) { return cat(first, "-", last); }

// The stamp of a layout at `unix_ms`, inside the layout's lifetime.
std::int64_t stamp_at(const Layout& layout, std::int64_t unix_ms) {
  return std::clamp<std::int64_t>(layout.tick_at_unix_ms(unix_ms), 0, layout.max_tick());
}

std::int64_t now_unix_ms(Clock& clock) { return clock.wall_ns() / 1'000'000; }

// The marks under `keys` (a space's mark/ prefix) as etcd holds them: node -> text.
Result<std::map<std::uint64_t, std::string>> read_marks(EtcdClient::Impl& etcd, const std::string& keys) {
  std::map<std::uint64_t, std::string> out;
  RangeRequest request;
  request.set_key(keys);
  request.set_range_end(detail::prefix_end(keys));
  request.set_limit(10'000);
  for (;;) {
    Result<etcdserverpb::RangeResponse> page = etcd.range(request, etcd.default_deadline());
    if (!page) return page.error();
    for (const etcdserverpb::KeyValue& kv : page->kvs()) {
      const std::optional<std::int64_t> node = detail::parse_stamp(std::string_view(kv.key()).substr(keys.size()));
      if (node && *node >= 0) out[static_cast<std::uint64_t>(*node)] = kv.value();
    }
    if (!page->more() || page->kvs_size() == 0) break;
    request.set_key(page->kvs(page->kvs_size() - 1).key() + std::string(1, '\0'));
  }
  return out;
}

// Writes `stamp` as the mark of each node of [first, last] that has none (or, with
// `raise`, whose mark is below it or damaged), kOpsPerTxn keys per transaction.
// Returns how many marks were written.
Result<std::uint64_t> write_marks(EtcdClient::Impl& etcd, const std::string& prefix, const NodeSpace& which,
                                  std::uint64_t first, std::uint64_t last, std::int64_t stamp, bool raise) {
  const std::string keys = detail::node_keys(prefix, which.name, "mark");
  Result<std::map<std::uint64_t, std::string>> existing = read_marks(etcd, keys);
  if (!existing) return existing.error();
  std::vector<std::uint64_t> due;
  for (std::uint64_t node = first;; ++node) {
    auto it = existing->find(node);
    const std::optional<std::int64_t> mark = it != existing->end() ? detail::parse_stamp(it->second) : std::nullopt;
    if (it == existing->end() || (raise && (!mark || *mark < stamp))) due.push_back(node);
    if (node == last) break;
  }
  for (std::size_t at = 0; at < due.size(); at += detail::kOpsPerTxn) {
    TxnRequest txn;
    for (std::size_t i = at; i < std::min(due.size(), at + detail::kOpsPerTxn); ++i) {
      const std::string key = detail::node_key(prefix, which.name, "mark", due[i]);
      // Creating, a mark someone else wrote meanwhile stays; raising, marks only go up
      // (instances are stopped by the recovering record, so nobody else writes them).
      if (!raise) detail::compare_absent(txn, key);
      detail::put(txn.mutable_success(), key, std::to_string(stamp));
    }
    Result<etcdserverpb::TxnResponse> answer = etcd.txn(txn, etcd.default_deadline());
    if (!answer) return answer.error();
    if (!answer->succeeded()) {
      // A mark appeared meanwhile: the rest of this batch one by one.
      for (std::size_t i = at; i < std::min(due.size(), at + detail::kOpsPerTxn); ++i) {
        TxnRequest one;
        const std::string key = detail::node_key(prefix, which.name, "mark", due[i]);
        detail::compare_absent(one, key);
        detail::put(one.mutable_success(), key, std::to_string(stamp));
        if (Result<etcdserverpb::TxnResponse> a = etcd.txn(one, etcd.default_deadline()); !a) return a.error();
      }
    }
  }
  return static_cast<std::uint64_t>(due.size());
}

// Deletes every holder key of `which` under `prefix` (a recovery frees every node).
Result<void> free_holders(EtcdClient::Impl& etcd, const std::string& prefix, const NodeSpace& which) {
  const std::string keys = detail::node_keys(prefix, which.name, "holder");
  TxnRequest txn;
  auto* erase = txn.mutable_success()->Add()->mutable_request_delete_range();
  erase->set_key(keys);
  erase->set_range_end(detail::prefix_end(keys));
  Result<etcdserverpb::TxnResponse> answer = etcd.txn(txn, etcd.default_deadline());
  if (!answer) return answer.error();
  return {};
}

struct Found {
  std::optional<std::string> text;
  std::int64_t mod_revision = 0;
  std::uint64_t cluster_id = 0;
  std::int64_t revision = 0;
};

Result<Found> read_key(EtcdClient::Impl& etcd, const std::string& key) {
  RangeRequest request;
  request.set_key(key);
  Result<etcdserverpb::RangeResponse> read = etcd.range(request, etcd.default_deadline());
  if (!read) return read.error();
  Found out;
  out.cluster_id = read->header().cluster_id();
  out.revision = read->header().revision();
  if (read->kvs_size() > 0) {
    out.text = read->kvs(0).value();
    out.mod_revision = read->kvs(0).mod_revision();
  }
  return out;
}

bool is_space_id(std::string_view id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string random_space_id() {
  std::array<std::uint8_t, 16> bytes;
  SystemRandom::instance().fill(bytes);
  std::string out;
  for (std::uint8_t b : bytes) {
    constexpr char kHex[] = "0123456789abcdef";
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

Result<std::pair<std::uint64_t, std::uint64_t>> range_of(const EtcdSpaceSpec& spec) {
  const std::uint64_t all = spec.layout.node_bits() >= 64 ? ~0ULL : (1ULL << spec.layout.node_bits()) - 1;
  const auto [first, last] = spec.nodes.value_or(std::pair<std::uint64_t, std::uint64_t>{0, all});
  if (first > last || last > all) {
    return Error(Errc::invalid_argument, cat("nodes ", nodes_text(first, last), " are outside layout ",
                                             spec.layout.name(), "'s nodes 0-", all));
  }
  if (last - first >= kMaxSpaceNodes) {
    return Error(Errc::invalid_argument, cat("nodes ", nodes_text(first, last), " are ", last - first + 1,
                                             " nodes; one ID space owns at most ", kMaxSpaceNodes,
                                             " (a mark is kept for each): give --nodes a smaller range"));
  }
  return std::pair{first, last};
}

Result<void> check_spec(const EtcdSpaceSpec& spec) {
  if (Result<void> p = check_etcd_prefix(spec.prefix); !p) return p;
  if (!spec.datacenter.empty()) {
    if (Result<void> dc = check_etcd_datacenter(spec.datacenter); !dc) return dc;
  }
  if (Result<std::pair<std::uint64_t, std::uint64_t>> r = range_of(spec); !r) return r.error();
  return {};
}

// A record made from a spec (a new space, or one made again by a recovery).
EtcdSpaceRecord record_of(const EtcdSpaceSpec& spec, std::string id, std::uint64_t cluster_id, std::int64_t now_ms) {
  const auto range = *range_of(spec);
  EtcdSpaceRecord r;
  r.id = std::move(id);
  r.geometry = NodeSpace(spec.layout).name;
  r.layout = spec.layout.spec();
  r.first_node = range.first;
  r.last_node = range.second;
  r.datacenter = spec.datacenter;
  r.cluster_id = cluster_id;
  r.created_unix_ms = now_ms;
  return r;
}

// The marks a space keeps, each range with its stamp for the instant `unix_ms`:
// the Snowflake nodes of its range, and flake-128 workers 0-1023.
struct MarkRange {
  NodeSpace which;
  std::uint64_t first;
  std::uint64_t last;
  std::int64_t stamp;
};
std::vector<MarkRange> mark_ranges(const EtcdSpaceRecord& r, const Layout& layout, std::int64_t unix_ms) {
  return {MarkRange{NodeSpace(layout), r.first_node, r.last_node, stamp_at(layout, unix_ms)},
          MarkRange{NodeSpace::flake128(), 0, kEtcdFlake128Workers - 1, unix_ms}};
}

std::string describe(const EtcdSpaceRecord& r) {
  return cat("ID space ", r.id, " (", r.geometry, ", nodes ", nodes_text(r.first_node, r.last_node),
             r.datacenter.empty() ? std::string() : cat(", datacenter ", r.datacenter), ", made ",
             format_utc_ms(r.created_unix_ms), " on etcd cluster ", etcd_id_hex(r.cluster_id), ")");
}

}  // namespace

Result<void> check_etcd_datacenter(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
  if (ok) return {};
  return Error(Errc::invalid_argument, cat("datacenter '", name, "' must be 1 to 64 characters of a-z, 0-9, '.', '_' "
                                           "and '-' (such as us-east-1)"));
}

std::string etcd_id_hex(std::uint64_t id) { return detail::hex_u64(id); }

std::string EtcdSpaceRecord::text() const {
  return cat(kSpaceMagic, "\nid ", id, "\ngeometry ", geometry, "\nlayout ", layout, "\nnodes ",
             nodes_text(first_node, last_node), "\ndatacenter ", datacenter.empty() ? std::string("-") : datacenter,
             "\ncluster ", etcd_id_hex(cluster_id), "\ncreated ", format_utc_ms(created_unix_ms), "\nincarnation ",
             incarnation, "\nrecovered ", recovered_unix_ms != 0 ? format_utc_ms(recovered_unix_ms) : std::string("-"),
             "\nstate ", recovering ? "recovering" : "ready", "\n");
}

Result<EtcdSpaceRecord> EtcdSpaceRecord::parse(std::string_view text) {
  const auto damaged = [](std::string why) {
    return Error(Errc::io, cat("the ID space record is damaged (", why, "); nothing says which space this is. "
                               "Recover it with 'idforge nodes recover' (giving --space-id if the hosts know it)"));
  };
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return damaged("no final newline");
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  constexpr const char* kKeys[] = {"id",      "geometry", "layout",      "nodes",     "datacenter",
                                   "cluster", "created",  "incarnation", "recovered", "state"};
  if (lines.size() != 11 || lines[0] != kSpaceMagic) return damaged("not an idforge space record of this version");
  std::string_view v[10];
  for (std::size_t i = 0; i < 10; ++i) {
    const std::string_view key = kKeys[i];
    if (!lines[i + 1].starts_with(key) || lines[i + 1].size() <= key.size() + 1 || lines[i + 1][key.size()] != ' ') {
      return damaged(cat("line ", i + 2, " is not '", key, " …'"));
    }
    v[i] = lines[i + 1].substr(key.size() + 1);
  }
  EtcdSpaceRecord r;
  r.id = std::string(v[0]);
  r.geometry = std::string(v[1]);
  r.layout = std::string(v[2]);
  const auto nodes = detail::parse_node_range(v[3]);
  r.datacenter = v[4] == "-" ? std::string() : std::string(v[4]);
  const std::optional<std::uint64_t> cluster = detail::parse_hex_u64(v[5]);
  Result<std::int64_t> created = parse_utc_ms(v[6]);
  const auto incarnation = detail::parse_nonnegative(v[7]);
  Result<std::int64_t> recovered = v[8] == "-" ? Result<std::int64_t>(0) : parse_utc_ms(v[8]);
  if (!is_space_id(r.id) || !nodes || !cluster || !created || !incarnation || !recovered ||
      (v[9] != "ready" && v[9] != "recovering") || !r.geometry.starts_with("snowflake-")) {
    return damaged("a value is malformed");
  }
  r.first_node = nodes->first;
  r.last_node = nodes->second;
  r.cluster_id = *cluster;
  r.created_unix_ms = *created;
  r.incarnation = *incarnation;
  r.recovered_unix_ms = *recovered;
  r.recovering = v[9] == "recovering";
  return r;
}

std::string_view EtcdSpace::to_string(Refusal reason) {
  switch (reason) {
    case Refusal::none: return "none";
    case Refusal::missing: return "missing";
    case Refusal::gone: return "gone";
    case Refusal::damaged: return "damaged";
    case Refusal::cluster: return "cluster";
    case Refusal::revision: return "revision";
    case Refusal::changed: return "changed";
    case Refusal::mark_missing: return "mark_missing";
    case Refusal::mark_below_host: return "mark_below_host";
  }
  return "none";
}

Result<EtcdSpaceRecord> EtcdSpace::create(EtcdClient& client, const EtcdSpaceSpec& spec, Clock& clock) {
  if (Result<void> valid = check_spec(spec); !valid) return valid.error();
  EtcdClient::Impl& etcd = client.impl();
  Result<Found> there = read_key(etcd, detail::space_key(spec.prefix));
  if (!there) return there.error();
  if (there->text) {
    Result<EtcdSpaceRecord> r = EtcdSpaceRecord::parse(*there->text);
    return Error(Errc::invalid_argument,
                 cat("etcd prefix ", spec.prefix, " already holds ", r ? describe(*r) : std::string("a damaged ID space record"),
                     "; a space is made once. Use it as it is, or give the new one its own --etcd-prefix"));
  }
  const NodeSpace snowflake(spec.layout);
  Result<Found> legacy = read_key(etcd, detail::legacy_geometry_key(spec.prefix));
  if (!legacy) return legacy.error();
  if (legacy->text && *legacy->text != snowflake.name) {
    return Error(Errc::invalid_argument,
                 cat("etcd prefix ", spec.prefix, " was used by instances of geometry ", *legacy->text,
                     ", not ", snowflake.name, " (layout '", spec.layout.spec(), "'); make the space with their "
                     "layout, or give this one its own --etcd-prefix"));
  }
  const std::int64_t now_ms = now_unix_ms(clock);
  EtcdSpaceRecord record = record_of(spec, random_space_id(), there->cluster_id, now_ms);
  // Marks first, then the record: an instance can use the space only once every
  // node it may take has a mark (marks left by earlier instances stay).
  for (const MarkRange& part : mark_ranges(record, spec.layout, now_ms)) {
    Result<std::uint64_t> w = write_marks(etcd, spec.prefix, part.which, part.first, part.last, part.stamp, false);
    if (!w) return w.error();
  }
  TxnRequest txn;
  detail::compare_absent(txn, detail::space_key(spec.prefix));
  detail::put(txn.mutable_success(), detail::space_key(spec.prefix), record.text());
  Result<etcdserverpb::TxnResponse> made = etcd.txn(txn, etcd.default_deadline());
  if (!made) return made.error();
  if (!made->succeeded()) {
    return Error(Errc::invalid_argument, cat("another ID space was made under etcd prefix ", spec.prefix,
                                             " meanwhile; use that one"));
  }
  return record;
}

Result<EtcdSpace::Recovery> EtcdSpace::recover(EtcdClient& client, const EtcdSpaceSpec& spec,
                                               std::optional<std::int64_t> issued_until_unix_ms,
                                               std::int64_t margin_ms, const std::optional<std::string>& space_id,
                                               Clock& clock) {
  if (margin_ms < 0) detail::die("EtcdSpace::recover: margin_ms < 0");
  if (Result<void> p = check_etcd_prefix(spec.prefix); !p) return p.error();
  if (space_id && !is_space_id(*space_id)) {
    return Error(Errc::invalid_argument, cat("space ID '", *space_id, "' must be 32 lower-case hex digits, as "
                                             "'idforge nodes' and the instances' refusals print it"));
  }
  EtcdClient::Impl& etcd = client.impl();
  const std::string key = detail::space_key(spec.prefix);
  Result<Found> there = read_key(etcd, key);
  if (!there) return there.error();
  std::optional<EtcdSpaceRecord> record;
  if (there->text) {
    Result<EtcdSpaceRecord> parsed = EtcdSpaceRecord::parse(*there->text);
    if (parsed) record = *parsed;
  }
  const std::int64_t now_ms = now_unix_ms(clock);
  if (!record) {
    // Gone (a wipe, a restore from before the space) or damaged: made again from the spec.
    if (Result<void> valid = check_spec(spec); !valid) return valid.error();
    record = record_of(spec, space_id.value_or(random_space_id()), there->cluster_id, now_ms);
  } else if (space_id && *space_id != record->id) {
    return Error(Errc::invalid_argument, cat("etcd prefix ", spec.prefix, " holds ", describe(*record),
                                             ", not space ", *space_id, "; recover it without --space-id"));
  }
  Result<Layout> layout = Layout::parse(record->layout);
  if (!layout) return layout.error();
  if (Result<void> in_time = check_recovery_time(*layout, issued_until_unix_ms); !in_time) return in_time.error();

  const auto changed_meanwhile = [&spec] {
    return Error(Errc::unavailable, cat("the ID space record under ", spec.prefix, " changed while it was being "
                                        "recovered (another recovery?); run the recovery again"));
  };
  // 1. The record says "recovering": every instance's transactions (which compare
  //    the record) fail from here on, and none takes a node until step 3.
  record->recovering = true;
  TxnRequest stop;
  if (there->text) {
    detail::compare_mod_revision(stop, key, there->mod_revision);
  } else {
    detail::compare_absent(stop, key);
  }
  detail::put(stop.mutable_success(), key, record->text());
  Result<etcdserverpb::TxnResponse> stopped = etcd.txn(stop, etcd.default_deadline());
  if (!stopped) return stopped.error();
  if (!stopped->succeeded()) {
    return changed_meanwhile();
  }
  // 2. Every mark past anything an instance may have issued; every node free.
  Recovery out;
  out.raised_to_unix_ms = std::max(issued_until_unix_ms.value_or(0), now_ms + margin_ms);
  for (const MarkRange& part : mark_ranges(*record, *layout, out.raised_to_unix_ms)) {
    Result<std::uint64_t> raised = write_marks(etcd, spec.prefix, part.which, part.first, part.last, part.stamp, true);
    if (!raised) return raised.error();
    out.marks += *raised;
    if (Result<void> freed = free_holders(etcd, spec.prefix, part.which); !freed) return freed.error();
  }
  // 3. Ready again: this cluster's ID, and an incarnation no host has seen.
  const std::string recovering_text = record->text();
  record->recovering = false;
  record->cluster_id = there->cluster_id;
  record->incarnation = std::max(record->incarnation + 1, now_ms);
  record->recovered_unix_ms = now_ms;
  TxnRequest ready;
  detail::compare_value(ready, key, recovering_text);
  detail::put(ready.mutable_success(), key, record->text());
  Result<etcdserverpb::TxnResponse> done = etcd.txn(ready, etcd.default_deadline());
  if (!done) return done.error();
  if (!done->succeeded()) {
    return changed_meanwhile();
  }
  out.record = *record;
  return out;
}

}  // namespace idforge
