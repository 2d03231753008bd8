// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "core/text.h"
#include "lease/etcd/client.h"

namespace idforge {
namespace {

using detail::cat;
using etcdserverpb::Compare;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;

std::string node_key(const std::string& prefix, const std::string& space, const char* kind, std::uint64_t node) {
  return cat(prefix, "/", space, "/", kind, "/", node);
}
std::string geometry_key(const std::string& prefix) { return prefix + "/geometry"; }
std::string layout_key(const std::string& prefix) { return prefix + "/layout"; }

// The end of the range of every key that starts with `prefix`.
std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::string(1, '\0');
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

// A mark's stamp, or nullopt when the text is not one (a damaged mark).
std::optional<std::int64_t> parse_stamp(std::string_view text) {
  std::int64_t value = 0;
  if (text.empty() || text.front() == '+') return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

void compare_absent(TxnRequest& txn, const std::string& key) {
  Compare* c = txn.add_compare();
  c->set_target(Compare::CREATE);
  c->set_result(Compare::EQUAL);
  c->set_key(key);
  c->set_create_revision(0);
}

void compare_lease(TxnRequest& txn, const std::string& key, std::int64_t lease) {
  Compare* c = txn.add_compare();
  c->set_target(Compare::LEASE);
  c->set_result(Compare::EQUAL);
  c->set_key(key);
  c->set_lease(lease);
}

void compare_value(TxnRequest& txn, const std::string& key, const std::string& value) {
  Compare* c = txn.add_compare();
  c->set_target(Compare::VALUE);
  c->set_result(Compare::EQUAL);
  c->set_key(key);
  c->set_value(value);
}

void put(google::protobuf::RepeatedPtrField<RequestOp>* ops, const std::string& key, const std::string& value,
         std::int64_t lease = 0) {
  auto* p = ops->Add()->mutable_request_put();
  p->set_key(key);
  p->set_value(value);
  p->set_lease(lease);
}

void get(google::protobuf::RepeatedPtrField<RequestOp>* ops, const std::string& key) {
  ops->Add()->mutable_request_range()->set_key(key);
}

void erase(google::protobuf::RepeatedPtrField<RequestOp>* ops, const std::string& key) {
  ops->Add()->mutable_request_delete_range()->set_key(key);
}

// The key-value that the range at `index` of a transaction's answer found, or nullptr.
const etcdserverpb::KeyValue* found(const etcdserverpb::TxnResponse& answer, int index) {
  if (index >= answer.responses_size()) return nullptr;
  const etcdserverpb::ResponseOp& op = answer.responses(index);
  if (!op.has_response_range() || op.response_range().kvs_size() == 0) return nullptr;
  return &op.response_range().kvs(0);
}

Result<void> check_lease(EtcdLease& lease) {
  if (lease.lapsed()) {
    std::optional<Error> why = lease.lost_error();
    return why ? *why : Error(Errc::lease_lost, cat("etcd lease ", EtcdLease::hex(lease.id()), " lapsed before it was confirmed"));
  }
  return {};
}

// Records the prefix's geometry if none is, and refuses another.
Result<void> check_geometry(EtcdLease& lease, const std::string& prefix, const NodeSpace& space) {
  TxnRequest txn;
  compare_absent(txn, geometry_key(prefix));
  put(txn.mutable_success(), geometry_key(prefix), space.name);
  put(txn.mutable_success(), layout_key(prefix), space.layout);
  get(txn.mutable_failure(), geometry_key(prefix));
  get(txn.mutable_failure(), layout_key(prefix));
  Result<etcdserverpb::TxnResponse> answer = lease.client().impl().txn(txn, lease.call_deadline());
  if (!answer) return answer.error();
  if (answer->succeeded()) return {};
  const etcdserverpb::KeyValue* geometry = found(*answer, 0);
  const etcdserverpb::KeyValue* layout = found(*answer, 1);
  if (geometry != nullptr && geometry->value() == space.name) return {};
  return Error(Errc::invalid_argument,
               cat("etcd prefix ", prefix, " belongs to layout geometry ",
                   geometry != nullptr ? geometry->value() : std::string("(unreadable)"), " (layout '",
                   layout != nullptr ? layout->value() : std::string("?"), "', recorded by its first instance), but "
                   "this instance's layout '", space.layout, "' has geometry ", space.name,
                   "; two geometries on one node range would put IDs in overlapping bit positions. Start with the "
                   "cluster's layout, or give this layout its own --etcd-prefix"));
}

// What an owner-checked transaction found: whether the holder key still carried
// the lease (and the transaction's operations ran), and if not, who holds it now
// (empty: nobody).
struct OwnerAnswer {
  bool owner = false;
  std::string holder_now;
};

// Runs `txn`'s success operations only if `holder_key` still carries `lease`.
Result<OwnerAnswer> run_as_owner(EtcdLease& lease, const std::string& holder_key, TxnRequest txn,
                                 EtcdClient::Impl::Deadline deadline) {
  compare_lease(txn, holder_key, lease.id());
  get(txn.mutable_failure(), holder_key);
  Result<etcdserverpb::TxnResponse> answer = lease.client().impl().txn(txn, deadline);
  if (!answer) return answer.error();
  const etcdserverpb::KeyValue* holder = answer->succeeded() ? nullptr : found(*answer, 0);
  return OwnerAnswer{answer->succeeded(), holder != nullptr ? holder->value() : std::string()};
}

}  // namespace

Result<void> check_etcd_prefix(const std::string& prefix) {
  const bool printable = std::all_of(prefix.begin(), prefix.end(), [](char c) { return c > ' ' && c < 127; });
  if (prefix.size() < 2 || prefix.size() > 256 || prefix.front() != '/' || prefix.back() == '/' || !printable) {
    return Error(Errc::invalid_argument, cat("etcd prefix '", prefix, "' must start with '/', not end with one, and "
                                         "be 2 to 256 printable characters without spaces (such as /idforge)"));
  }
  return {};
}

struct Attempt {
  Result<std::unique_ptr<EtcdReservation>> result = Error(Errc::unavailable, "not tried");
  bool held = false;     // Another holder has the node.
  bool damaged = false;  // Refused for a damaged mark.
};

Result<std::unique_ptr<EtcdReservation>> EtcdReservation::acquire(std::shared_ptr<EtcdLease> lease,
                                                                  const std::string& prefix, const NodeSpace& space,
                                                                  std::uint64_t node, const std::string& holder) {
  return acquire_any(std::move(lease), prefix, space, node, node, holder);
}

Result<std::unique_ptr<EtcdReservation>> EtcdReservation::acquire_any(std::shared_ptr<EtcdLease> lease,
                                                                      const std::string& prefix,
                                                                      const NodeSpace& space, std::uint64_t first,
                                                                      std::uint64_t last, const std::string& holder) {
  if (Result<void> valid = check_etcd_prefix(prefix); !valid) return valid.error();
  const std::uint64_t nodes = space.node_bits >= 64 ? ~0ULL : (1ULL << space.node_bits) - 1;
  if (first > last || last > nodes) {
    return Error(Errc::invalid_argument, cat("nodes ", first, "-", last, " are outside ", space.name, "'s 0-", nodes));
  }
  if (Result<void> live = check_lease(*lease); !live) return live.error();
  if (space.is_snowflake()) {
    if (Result<void> same = check_geometry(*lease, prefix, space); !same) return same.error();
  }
  EtcdClient::Impl& etcd = lease->client().impl();

  // Which nodes are held now: a hint that saves a transaction per held node (the
  // transaction alone decides).
  std::set<std::uint64_t> held;
  if (first != last) {
    etcdserverpb::RangeRequest request;
    const std::string holders = cat(prefix, "/", space.name, "/holder/");
    request.set_key(holders);
    request.set_range_end(prefix_end(holders));
    request.set_keys_only(true);
    Result<etcdserverpb::RangeResponse> listed = etcd.range(request, lease->call_deadline());
    if (!listed) return listed.error();
    for (const etcdserverpb::KeyValue& kv : listed->kvs()) {
      if (std::optional<std::int64_t> n = parse_stamp(std::string_view(kv.key()).substr(holders.size()))) {
        held.insert(static_cast<std::uint64_t>(*n));
      }
    }
  }

  std::vector<std::string> notes;
  std::uint64_t skipped = 0;
  std::uint64_t taken = 0;
  std::optional<Error> refusal;
  for (std::uint64_t node = first;; ++node) {
    if (!held.contains(node)) {
      const std::string holder_key = node_key(prefix, space.name, "holder", node);
      const std::string mark_key = node_key(prefix, space.name, "mark", node);
      TxnRequest txn;
      compare_absent(txn, holder_key);
      if (space.is_snowflake()) compare_value(txn, geometry_key(prefix), space.name);
      put(txn.mutable_success(), holder_key, holder, lease->id());
      get(txn.mutable_success(), mark_key);
      get(txn.mutable_failure(), holder_key);
      get(txn.mutable_failure(), mark_key);
      Result<etcdserverpb::TxnResponse> answer = etcd.txn(txn, lease->call_deadline());
      if (!answer) return answer.error();
      const etcdserverpb::KeyValue* holder_now = answer->succeeded() ? nullptr : found(*answer, 0);
      // A holder key with our own lease: an earlier try of this very transaction
      // took the node and its answer was lost.
      const bool ours = answer->succeeded() || (holder_now != nullptr && holder_now->lease() == lease->id());
      if (!ours && holder_now == nullptr) {
        // Only the geometry compare can have failed: someone recorded another.
        Result<void> same = check_geometry(*lease, prefix, space);
        if (!same) return same.error();
        return Error(Errc::unavailable, cat("etcd prefix ", prefix, "'s geometry changed while node ", node,
                                            " was being taken; try again"));
      }
      if (ours) {
        const etcdserverpb::KeyValue* mark = found(*answer, 1);
        std::optional<std::int64_t> stamp = mark != nullptr ? parse_stamp(mark->value()) : std::nullopt;
        if (mark != nullptr && !stamp) {
          // Nothing says which IDs the node issued: give it back and refuse it.
          TxnRequest undo;
          erase(undo.mutable_success(), holder_key);
          (void)run_as_owner(*lease, holder_key, std::move(undo), lease->call_deadline());
          refusal = Error(Errc::io,
                          cat("node ", node, " of ", space.name, ": its mark ", mark_key, " holds '",
                              mark->value().substr(0, 40), "', which is not a stamp, so nothing says which IDs the "
                              "node issued; refusing it rather than risk repeating them. Use another node (a range "
                              "takes the next free one). To use node ", node, " again, delete the mark (etcdctl del ",
                              mark_key, ") only once every holder's clock is past the newest ID the node ever issued"));
          ++skipped;
          notes.push_back(cat("skipped ", refusal->message()));
        } else {
          std::unique_ptr<EtcdReservation> r(new EtcdReservation());
          r->lease_ = std::move(lease);
          r->space_ = space.name;
          r->node_ = node;
          r->inherited_ = stamp;
          r->notes_ = std::move(notes);
          r->holder_key_ = holder_key;
          r->mark_key_ = mark_key;
          return r;
        }
      } else {
        ++taken;
        if (first == last) {
          return Error(Errc::unavailable,
                       cat("node ", node, " of ", space.name, " under ", prefix, " is held by ", holder_now->value(),
                           " (etcd lease ", EtcdLease::hex(holder_now->lease()), "); stop that instance, wait for its lease to expire, "
                           "or choose another node"));
        }
      }
    } else {
      ++taken;
    }
    if (node == last) break;
  }
  if (first == last && refusal) return *refusal;
  return Error(Errc::unavailable,
               cat("every node in ", first, "-", last, " of ", space.name, " under ", prefix, " is taken (", taken,
                   " held", skipped != 0 ? cat(", ", skipped, " refused for a damaged mark") : std::string(),
                   "); stop an instance, widen --nodes, or start with --wait-for-node to wait for one"));
}

EtcdReservation::~EtcdReservation() = default;

Error EtcdReservation::lost_error(const std::string& holder_now) const {
  return Error(Errc::lease_lost,
               cat("node ", node_, " of ", space_, " is no longer held by etcd lease ", EtcdLease::hex(lease_->id()),
                   holder_now.empty() ? std::string(" (its holder key is gone: the lease expired or was revoked)")
                                      : cat(" (it is now held by ", holder_now, ")"),
                   "; stopped issuing on it"));
}

Result<void> EtcdReservation::extend(std::int64_t until_stamp) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  if (lost_) return lost_error("");
  if (Result<void> live = check_lease(*lease_); !live) {
    lost_ = true;
    return live.error();
  }
  TxnRequest txn;
  put(txn.mutable_success(), mark_key_, std::to_string(until_stamp));
  Result<OwnerAnswer> answer = run_as_owner(*lease_, holder_key_, std::move(txn), lease_->call_deadline());
  if (!answer) return answer.error();
  if (!answer->owner) {
    lost_ = true;
    return lost_error(answer->holder_now);
  }
  return {};
}

Result<void> EtcdReservation::release(std::optional<std::int64_t> final_stamp) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  released_ = true;
  if (lost_) return lost_error("");
  if (lease_->lapsed()) {
    // The lease is given up: its holder key goes with it, and the mark already
    // bounds every stamp issued. Nothing to wait on etcd for.
    lost_ = true;
    return lost_error("");
  }
  // Owner-checked: while the holder key carries our lease,
  // no one else has the node, and the final mark is at most what was reserved.
  TxnRequest txn;
  if (final_stamp) put(txn.mutable_success(), mark_key_, std::to_string(*final_stamp));
  erase(txn.mutable_success(), holder_key_);
  Result<OwnerAnswer> answer =
      run_as_owner(*lease_, holder_key_, std::move(txn), lease_->client().impl().default_deadline());
  if (!answer) return answer.error();
  if (!answer->owner) {
    lost_ = true;
    return lost_error(answer->holder_now);
  }
  return {};
}

Result<EtcdNodes> list_etcd_nodes(EtcdClient& client, const std::string& prefix) {
  if (Result<void> valid = check_etcd_prefix(prefix); !valid) return valid.error();
  EtcdClient::Impl& etcd = client.impl();
  EtcdNodes out;
  std::map<std::pair<std::string, std::uint64_t>, EtcdNodeRecord> nodes;
  const std::string from = prefix + "/";
  etcdserverpb::RangeRequest request;
  request.set_key(from);
  request.set_range_end(prefix_end(from));
  request.set_limit(1000);
  for (;;) {
    Result<etcdserverpb::RangeResponse> page = etcd.range(request, etcd.default_deadline());
    if (!page) return page.error();
    for (const etcdserverpb::KeyValue& kv : page->kvs()) {
      const std::string_view key = std::string_view(kv.key()).substr(from.size());
      if (key == "geometry") out.geometry = kv.value();
      if (key == "layout") out.layout = kv.value();
      // <space>/<holder|mark>/<N>
      const std::size_t slash = key.find('/');
      const std::size_t last = key.rfind('/');
      if (slash == std::string_view::npos || last == slash) continue;
      const std::string_view kind = key.substr(slash + 1, last - slash - 1);
      const std::optional<std::int64_t> n = parse_stamp(key.substr(last + 1));
      if (!n || *n < 0 || (kind != "holder" && kind != "mark")) continue;
      EtcdNodeRecord& record = nodes[{std::string(key.substr(0, slash)), static_cast<std::uint64_t>(*n)}];
      record.space = std::string(key.substr(0, slash));
      record.node = static_cast<std::uint64_t>(*n);
      if (kind == "holder") {
        record.holder = kv.value();
        record.lease = kv.lease();
      } else {
        record.mark_text = kv.value();
        record.mark = parse_stamp(kv.value());
      }
    }
    if (!page->more() || page->kvs_size() == 0) break;
    request.set_key(page->kvs(page->kvs_size() - 1).key() + std::string(1, '\0'));
  }
  for (auto& [key, record] : nodes) out.nodes.push_back(std::move(record));
  return out;
}

}  // namespace idforge
