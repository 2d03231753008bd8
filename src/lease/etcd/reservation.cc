// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <map>
#include <set>

#include "core/text.h"
#include "idforge/etcd_space.h"
#include "lease/etcd/client.h"
#include "lease/etcd/txn.h"

namespace idforge {
namespace {

using detail::cat;
using detail::compare_absent;
using detail::compare_lease;
using detail::compare_value;
using detail::erase;
using detail::found;
using detail::get;
using detail::joined_endpoints;
using detail::node_key;
using detail::parse_stamp;
using detail::prefix_end;
using detail::put;
using detail::recover_command;
using etcdserverpb::TxnRequest;
using Refusal = EtcdSpace::Refusal;

Result<void> check_lease(EtcdLease& lease) {
  if (lease.lapsed()) {
    std::optional<Error> why = lease.lost_error();
    return why ? *why : Error(Errc::lease_lost, cat("etcd lease ", EtcdLease::hex(lease.id()), " lapsed before it was confirmed"));
  }
  return {};
}

bool canonical_prefix(std::string_view prefix) {
  if (prefix.size() < 2 || prefix.size() > 256 || prefix.front() != '/') return false;
  std::string_view rest = prefix.substr(1);
  for (;;) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const bool ok = !segment.empty() && segment != "." && segment != ".." &&
                    std::all_of(segment.begin(), segment.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                    });
    if (!ok) return false;
    if (slash == std::string_view::npos) return true;
    rest.remove_prefix(slash + 1);
  }
}

// The canonical spelling a prefix was probably meant as: lower case, one slash
// between segments, a slash first and none at the end.
std::string canonical_form(std::string_view prefix) {
  std::string out = "/";
  for (char c : prefix) {
    if (c == '/') {
      if (out.back() != '/') out.push_back('/');
    } else {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    }
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// An extension's or a release's transaction: its operations run only while the
// holder key carries `lease` and the space's record is the one the holder took
// the node under.
struct OwnerAnswer {
  bool owner = false;
  std::string holder_now;               // Who holds the node now (empty: nobody), when not the owner.
  std::optional<std::string> space_now;  // The space's record now, when not the owner.
  std::int64_t revision = 0;
};

Result<OwnerAnswer> run_as_owner(EtcdLease& lease, EtcdSpace& space, const std::string& holder_key, TxnRequest txn,
                                 EtcdClient::Impl::Deadline deadline) {
  compare_lease(txn, holder_key, lease.id());
  compare_value(txn, detail::space_key(space.prefix()), space.record_text());
  get(txn.mutable_failure(), holder_key);
  get(txn.mutable_failure(), detail::space_key(space.prefix()));
  Result<etcdserverpb::TxnResponse> answer = lease.client().impl().txn(txn, deadline);
  if (!answer) return answer.error();
  OwnerAnswer out;
  out.owner = answer->succeeded();
  out.revision = answer->header().revision();
  if (!out.owner) {
    if (const etcdserverpb::KeyValue* holder = found(*answer, 0)) out.holder_now = holder->value();
    if (const etcdserverpb::KeyValue* record = found(*answer, 1)) out.space_now = record->value();
  }
  return out;
}

}  // namespace

Result<void> check_etcd_prefix(const std::string& prefix) {
  if (canonical_prefix(prefix)) return {};
  const std::string guess = canonical_form(prefix);
  return Error(Errc::invalid_argument,
               cat("etcd prefix '", prefix, "' is not in its one spelling: a '/', then segments of a-z, 0-9, '.', '_' "
                   "and '-' with one '/' between them and none at the end, 256 bytes at most",
                   canonical_prefix(guess) ? cat(" (write it ", guess, ")") : std::string(" (such as /idforge)"),
                   "; prefixes spelled two ways would be two ID spaces handing out the same nodes"));
}

Result<std::unique_ptr<EtcdReservation>> EtcdReservation::acquire(std::shared_ptr<EtcdLease> lease,
                                                                  std::shared_ptr<EtcdSpace> space,
                                                                  const NodeSpace& which, std::uint64_t node,
                                                                  const std::string& holder) {
  return acquire_any(std::move(lease), std::move(space), which, node, node, holder);
}

Result<std::unique_ptr<EtcdReservation>> EtcdReservation::acquire_any(std::shared_ptr<EtcdLease> lease,
                                                                      std::shared_ptr<EtcdSpace> space,
                                                                      const NodeSpace& which, std::uint64_t first,
                                                                      std::uint64_t last, const std::string& holder) {
  const std::string& prefix = space->prefix();
  const bool snowflake = which.is_snowflake();
  const std::uint64_t lowest = snowflake ? space->record().first_node : 0;
  const std::uint64_t highest = snowflake ? space->record().last_node : kEtcdFlake128Workers - 1;
  if (first > last || first < lowest || last > highest) {
    return Error(Errc::invalid_argument, cat("nodes ", first, "-", last, " of ", which.name, " are outside ID space ",
                                             space->record().id, "'s ", lowest, "-", highest));
  }
  if (snowflake && which.name != space->record().geometry) {
    return Error(Errc::invalid_argument, cat("layout geometry ", which.name, " is not ID space ", space->record().id,
                                             "'s ", space->record().geometry));
  }
  if (Result<void> live = check_lease(*lease); !live) return live.error();
  if (std::optional<Error> refused = space->refusal()) return *refused;
  EtcdClient::Impl& etcd = lease->client().impl();

  // Which nodes are held now: a hint that saves a transaction per held node (the
  // transaction alone decides).
  std::set<std::uint64_t> held;
  if (first != last) {
    etcdserverpb::RangeRequest request;
    const std::string holders = detail::node_keys(prefix, which.name, "holder");
    request.set_key(holders);
    request.set_range_end(prefix_end(holders));
    request.set_keys_only(true);
    Result<etcdserverpb::RangeResponse> listed = etcd.range(request, lease->call_deadline());
    if (!listed) return listed.error();
    if (Result<void> current = space->witness(listed->header().revision()); !current) return current.error();
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
      const std::string holder_key = node_key(prefix, which.name, "holder", node);
      const std::string mark_key = node_key(prefix, which.name, "mark", node);
      TxnRequest txn;
      compare_absent(txn, holder_key);
      compare_value(txn, detail::space_key(prefix), space->record_text());
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
      // Gives the node back (it is ours, but must not be used) and returns `why`.
      const auto give_back = [&](Error why) {
        TxnRequest undo;
        erase(undo.mutable_success(), holder_key);
        (void)run_as_owner(*lease, *space, holder_key, std::move(undo), lease->call_deadline());
        return why;
      };
      if (Result<void> current = space->witness(answer->header().revision()); !current) {
        return ours ? give_back(current.error()) : current.error();
      }
      if (!ours && holder_now == nullptr) {
        // Only the record's compare can have failed: the space changed since it was opened.
        return Error(Errc::lease_lost, cat("the ID space record under ", prefix, " changed while node ", node,
                                           " was being taken (a recovery?); taking a node again"));
      }
      if (ours) {
        const etcdserverpb::KeyValue* mark = found(*answer, 1);
        std::optional<std::int64_t> stamp = mark != nullptr ? parse_stamp(mark->value()) : std::nullopt;
        if (mark == nullptr) {
          // Every node of a space has a mark from the moment it was made.
          return give_back(space->refuse(
              Refusal::mark_missing,
              Error(Errc::io, cat("node ", node, " of ", which.name, " has no mark in ID space ", space->record().id,
                                  " under ", prefix, ", which was made with a mark for every node: etcd lost it "
                                  "(restored from an older snapshot, or edited by hand), and nothing says which IDs "
                                  "the node issued. Refusing the space until it is recovered: ",
                                  recover_command(joined_endpoints(lease->client().endpoints()), prefix)))));
        }
        if (!stamp) {
          // Nothing says which IDs the node issued: give it back and refuse it.
          refusal = give_back(Error(
              Errc::io, cat("node ", node, " of ", which.name, ": its mark ", mark_key, " holds '",
                            mark->value().substr(0, 40), "', which is not a stamp, so nothing says which IDs the "
                            "node issued; refusing it rather than risk repeating them. Use another node (a range "
                            "takes the next free one), or raise every mark past the IDs issued with 'idforge nodes "
                            "recover'")));
          ++skipped;
          notes.push_back(cat("skipped ", refusal->message()));
        } else if (Result<void> below = space->check_mark(which, node, *stamp); !below) {
          return give_back(below.error());
        } else {
          std::unique_ptr<EtcdReservation> r(new EtcdReservation());
          r->lease_ = std::move(lease);
          r->space_ = std::move(space);
          r->which_ = which;
          r->node_ = node;
          r->inherited_ = stamp;
          r->reserved_ = *stamp;
          r->notes_ = std::move(notes);
          r->holder_key_ = holder_key;
          r->mark_key_ = mark_key;
          return r;
        }
      } else {
        ++taken;
        if (first == last) {
          return Error(Errc::unavailable,
                       cat("node ", node, " of ", which.name, " under ", prefix, " is held by ", holder_now->value(),
                           " (etcd lease ", EtcdLease::hex(holder_now->lease()), "); stop that instance, wait for its "
                           "lease to expire, or choose another node"));
        }
      }
    } else {
      ++taken;
    }
    if (node == last) break;
  }
  if (first == last && refusal) return *refusal;
  return Error(Errc::unavailable,
               cat("every node in ", first, "-", last, " of ", which.name, " under ", prefix, " is taken (", taken,
                   " held", skipped != 0 ? cat(", ", skipped, " refused for a damaged mark") : std::string(),
                   "); stop an instance, widen --nodes, or start with --wait-for-node to wait for one"));
}

EtcdReservation::EtcdReservation() : which_(NodeSpace::flake128()) {}
EtcdReservation::~EtcdReservation() = default;

Error EtcdReservation::lost_error(const std::string& holder_now, const std::optional<std::string>& space_now) {
  if (!space_now) {
    // Not the owner because the space is gone: the store forgot, whatever the lease.
    return space_->refuse(Refusal::gone,
                          Error(Errc::lease_lost,
                                cat("the ID space ", space_->record().id, " under ", space_->prefix(), " is gone from "
                                    "etcd while node ", node_, " of ", which_.name, " was held (etcd wiped, or "
                                    "restored from a snapshot older than the space); stopped issuing on it. Recover "
                                    "the space: ",
                                    recover_command(joined_endpoints(lease_->client().endpoints()), space_->prefix(),
                                                    "--space-id " + space_->record().id),
                                    " (docs/cluster.md)")));
  }
  if (*space_now != space_->record_text()) {
    return Error(Errc::lease_lost, cat("the ID space record under ", space_->prefix(), " changed while node ", node_,
                                       " of ", which_.name, " was held (a recovery, or a new space); stopped issuing "
                                       "on it, and taking a node again"));
  }
  return Error(Errc::lease_lost,
               cat("node ", node_, " of ", which_.name, " is no longer held by etcd lease ", EtcdLease::hex(lease_->id()),
                   holder_now.empty() ? std::string(" (its holder key is gone: the lease expired or was revoked)")
                                      : cat(" (it is now held by ", holder_now, ")"),
                   "; stopped issuing on it"));
}

Result<void> EtcdReservation::extend(std::int64_t until_stamp) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  if (lost_) return lost_error("", space_->record_text());
  if (Result<void> live = check_lease(*lease_); !live) {
    lost_ = true;
    return live.error();
  }
  if (std::optional<Error> refused = space_->refusal()) {
    lost_ = true;
    return Error(Errc::lease_lost, refused->message());
  }
  TxnRequest txn;
  put(txn.mutable_success(), mark_key_, std::to_string(until_stamp));
  Result<OwnerAnswer> answer = run_as_owner(*lease_, *space_, holder_key_, std::move(txn), lease_->call_deadline());
  if (!answer) return answer.error();
  // A space that is gone says the most of what happened; then a revision gone back.
  if (!answer->owner && !answer->space_now) {
    lost_ = true;
    return lost_error(answer->holder_now, answer->space_now);
  }
  if (Result<void> current = space_->witness(answer->revision); !current) {
    lost_ = true;
    return Error(Errc::lease_lost, current.error().message());
  }
  if (!answer->owner) {
    lost_ = true;
    return lost_error(answer->holder_now, answer->space_now);
  }
  reserved_ = until_stamp;
  space_->reserved(which_, node_, until_stamp);
  return {};
}

Result<void> EtcdReservation::release(std::optional<std::int64_t> final_stamp) {
  if (released_) return Error(Errc::lease_lost, "the reservation was released");
  released_ = true;
  if (lost_) return lost_error("", space_->record_text());
  if (lease_->lapsed()) {
    // The lease is given up: its holder key goes with it, and the mark already
    // bounds every stamp issued. Nothing to wait on etcd for.
    lost_ = true;
    return lost_error("", space_->record_text());
  }
  // This host's record goes down first, so that no crash leaves it above etcd's.
  if (final_stamp) space_->released(which_, node_, reserved_, *final_stamp);
  // Owner-checked: while the holder key carries our lease,
  // no one else has the node, and the final mark is at most what was reserved.
  TxnRequest txn;
  if (final_stamp) put(txn.mutable_success(), mark_key_, std::to_string(*final_stamp));
  erase(txn.mutable_success(), holder_key_);
  Result<OwnerAnswer> answer =
      run_as_owner(*lease_, *space_, holder_key_, std::move(txn), lease_->client().impl().default_deadline());
  if (!answer) return answer.error();
  if (!answer->owner) {
    lost_ = true;
    return lost_error(answer->holder_now, answer->space_now);
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
    if (out.revision == 0) {
      out.cluster_id = page->header().cluster_id();
      out.revision = page->header().revision();
    }
    for (const etcdserverpb::KeyValue& kv : page->kvs()) {
      const std::string_view key = std::string_view(kv.key()).substr(from.size());
      if (key == "space") {
        Result<EtcdSpaceRecord> record = EtcdSpaceRecord::parse(kv.value());
        if (record) {
          out.space = *record;
        } else {
          out.space_error = record.error().message();
        }
      }
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
