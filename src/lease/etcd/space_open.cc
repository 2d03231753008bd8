// SPDX-License-Identifier: Apache-2.0
// EtcdSpace, the instance's side: opening a space and refusing a store that is not
// it, or no longer is (etcd_space.h).
#include <atomic>
#include <mutex>

#include "idforge/etcd_space.h"
#include "idforge/time_text.h"
#include "lease/etcd/client.h"
#include "lease/etcd/txn.h"
#include "lease/host_record.h"

namespace idforge {
namespace {

using detail::cat;
using detail::recover_command;
using Refusal = EtcdSpace::Refusal;

constexpr std::int64_t kHostSaveIntervalNs = 1'000'000'000;

Refusal refusal_of(std::string_view name) {
  for (Refusal r : EtcdSpace::kRefusals) {
    if (EtcdSpace::to_string(r) == name) return r;
  }
  return Refusal::revision;
}

}  // namespace

struct EtcdSpace::State {
  explicit State(Layout l) : layout(std::move(l)) {}
  Layout layout;                 // The instance's, for messages.
  std::string endpoints;         // For messages.
  mutable std::mutex mutex;
  std::int64_t max_revision = 0;             // Guarded by mutex.
  std::string revision_seen_by = "this process";  // Guarded by mutex.
  std::optional<Error> refusal;              // Guarded by mutex.
  Refusal reason = Refusal::none;            // Guarded by mutex.
  std::unique_ptr<detail::HostRecord> host;  // Guarded by mutex; null without a data directory.
  std::int64_t saved_at_boot_ns = 0;         // Guarded by mutex.
  std::atomic<std::uint64_t> host_failures{0};
  std::vector<std::string> notes;  // Written by open() only.

  // Saves the host's record with `revision` and `refused`; counts a failure.
  void save_host(std::int64_t incarnation, std::int64_t revision, std::string refused, std::int64_t now_boot_ns) {
    if (!host) return;
    detail::ClusterRecord r = host->record();
    r.revision = std::max(r.incarnation == incarnation ? r.revision : 0, revision);
    r.incarnation = incarnation;
    r.refused = std::move(refused);
    if (!host->save(r)) host_failures.fetch_add(1, std::memory_order_relaxed);
    saved_at_boot_ns = now_boot_ns;
  }
};

EtcdSpace::EtcdSpace(std::shared_ptr<EtcdClient> client, std::string prefix, EtcdSpaceRecord record, std::string text,
                     Clock& clock)
    : client_(std::move(client)),
      prefix_(std::move(prefix)),
      record_(std::move(record)),
      text_(std::move(text)),
      first_(record_.first_node),
      last_(record_.last_node),
      clock_(clock) {}

EtcdSpace::~EtcdSpace() = default;

EtcdSpace::Opened EtcdSpace::open(std::shared_ptr<EtcdClient> client, const EtcdSpaceCheck& check, Clock& clock,
                                  EtcdSpace* previous) {
  Refusal refused = Refusal::none;
  Result<std::shared_ptr<EtcdSpace>> space = open_space(std::move(client), check, clock, previous, refused);
  return {std::move(space), refused};
}

Result<std::shared_ptr<EtcdSpace>> EtcdSpace::open_space(std::shared_ptr<EtcdClient> client,
                                                         const EtcdSpaceCheck& check, Clock& clock,
                                                         EtcdSpace* previous, Refusal& refused) {
  if (Result<void> valid = check_etcd_prefix(check.prefix); !valid) return valid.error();
  const NodeSpace snowflake(check.layout);
  const std::string endpoints = detail::joined_endpoints(client->endpoints());
  const std::string prefix = check.prefix;
  EtcdClient::Impl& etcd = client->impl();
  std::optional<Error> not_made;  // Why create_if_missing could not make the space.
  for (int attempt = 0;; ++attempt) {
    etcdserverpb::RangeRequest request;
    request.set_key(detail::space_key(prefix));
    Result<etcdserverpb::RangeResponse> read = etcd.range(request, etcd.default_deadline());
    if (!read) return read.error();
    const std::uint64_t cluster = read->header().cluster_id();
    const std::int64_t revision = read->header().revision();

    if (read->kvs_size() == 0) {
      const std::optional<detail::ClusterRecord> hosted =
          check.host_dir.empty() ? std::nullopt : detail::HostRecord::known(check.host_dir, snowflake.name, prefix, cluster);
      if (previous != nullptr || hosted) {
        const std::string id = previous != nullptr ? previous->record_.id : hosted->space_id;
        const std::string how = previous != nullptr
                                    ? cat("layout ", previous->record_.layout, " nodes ", previous->record_.first_node,
                                          "-", previous->record_.last_node,
                                          previous->record_.datacenter.empty() ? std::string()
                                                                               : " datacenter " + previous->record_.datacenter)
                                    : std::string("the layout, nodes and datacenter it was made with");
        Error gone(Errc::io,
                   cat("the ID space ", id, " under ", prefix, " is gone from etcd cluster ", etcd_id_hex(cluster),
                       " at ", endpoints, ", though ", previous != nullptr ? "this process" : "this host",
                       " used it: etcd was wiped and made again, or restored from a snapshot older than the space. "
                       "Issuing from a store that forgot would repeat IDs, so this instance refuses. Make it again "
                       "past every ID it issued: ", recover_command(endpoints, prefix, "--space-id " + id), " with ",
                       how, " (docs/cluster.md, \"etcd lost and re-created\")"));
        refused = Refusal::gone;
        if (previous != nullptr) previous->refuse(Refusal::gone, gone);
        return gone;
      }
      if (check.create_if_missing && attempt == 0) {
        EtcdSpaceSpec spec{.prefix = prefix, .layout = check.layout, .nodes = check.nodes, .datacenter = check.datacenter};
        // Another instance may make it at the same moment: either way, read what is there now.
        if (Result<EtcdSpaceRecord> made = create(*client, spec, clock); !made) not_made = made.error();
        continue;
      }
      if (not_made) return *not_made;
      refused = Refusal::missing;
      return Error(Errc::io,
                   cat("no ID space under etcd prefix ", prefix, " on cluster ", etcd_id_hex(cluster), " at ",
                       endpoints, ": instances take nodes only from a space made once, on purpose. Make it: idforge "
                       "nodes init --etcd ", endpoints, " --etcd-prefix ", prefix, " --layout ",
                       check.layout.name() == "custom" ? "'" + check.layout.spec() + "'" : std::string(check.layout.name()),
                       " --nodes FIRST-LAST", check.datacenter.empty() ? std::string() : " --datacenter " + check.datacenter,
                       " (or start this instance with --create-space, for a demo or a first deploy)"));
    }

    const std::string text = read->kvs(0).value();
    Result<EtcdSpaceRecord> parsed = EtcdSpaceRecord::parse(text);
    if (!parsed) {
      refused = Refusal::damaged;
      return Error(Errc::io, cat("under etcd prefix ", prefix, ": ", parsed.error().message()));
    }
    const EtcdSpaceRecord& r = *parsed;
    if (r.recovering) {
      return Error(Errc::unavailable, cat("the ID space ", r.id, " under ", prefix, " is being recovered ('idforge "
                                          "nodes recover'); nodes are taken again once it has finished"));
    }
    if (r.geometry != snowflake.name) {
      return Error(Errc::invalid_argument,
                   cat("etcd prefix ", prefix, " holds ID space ", r.id, " of geometry ", r.geometry, " (layout '",
                       r.layout, "'), but this instance's layout '", check.layout.spec(), "' has geometry ",
                       snowflake.name, "; two geometries on one node range would put IDs in overlapping bit "
                       "positions. Start with the space's layout, or give this layout its own --etcd-prefix"));
    }
    if (!check.datacenter.empty() && check.datacenter != r.datacenter) {
      return Error(Errc::invalid_argument,
                   cat("this instance is for datacenter ", check.datacenter, ", but ID space ", r.id, " under ", prefix,
                       " at ", endpoints, " belongs to ",
                       r.datacenter.empty() ? std::string("no datacenter") : "datacenter " + r.datacenter,
                       ": check --etcd and --etcd-prefix (an instance pointed at another datacenter's etcd is refused "
                       "rather than handed a node that datacenter's own instances lease)"));
    }
    if (check.nodes && (check.nodes->first < r.first_node || check.nodes->second > r.last_node)) {
      return Error(Errc::invalid_argument,
                   cat("nodes ", check.nodes->first, "-", check.nodes->second, " are outside ID space ", r.id,
                       " under ", prefix, " at ", endpoints, ", which owns nodes ", r.first_node, "-", r.last_node,
                       r.datacenter.empty() ? std::string() : " (datacenter " + r.datacenter + ")",
                       ": check --nodes, --etcd and --etcd-prefix"));
    }

    std::shared_ptr<EtcdSpace> space(new EtcdSpace(client, prefix, r, text, clock));
    space->state_ = std::make_unique<State>(check.layout);
    State& st = *space->state_;
    st.endpoints = endpoints;
    if (check.nodes) {
      space->first_ = check.nodes->first;
      space->last_ = check.nodes->second;
    }
    if (previous != nullptr) {
      if (previous->record_.id != r.id) {
        Error changed(Errc::io,
                      cat("the ID space under ", prefix, " changed from ", previous->record_.id, " to ", r.id,
                          " while this process used it (etcd wiped and a new space made?): nothing says the new one's "
                          "marks cover what this process issued, so it refuses. Restart it once the space is "
                          "recovered (", recover_command(endpoints, prefix), ")"));
        refused = Refusal::changed;
        previous->refuse(Refusal::changed, changed);
        return changed;
      }
      if (previous->record_.incarnation == r.incarnation) {
        std::lock_guard lock(previous->state_->mutex);
        st.max_revision = previous->state_->max_revision;
        st.revision_seen_by = previous->state_->revision_seen_by;
        st.refusal = previous->state_->refusal;
        st.reason = previous->state_->reason;
      }
    }
    if (!check.host_dir.empty()) {
      detail::ClusterRecord seed;
      seed.space_id = r.id;
      seed.prefix = prefix;
      seed.endpoints = endpoints;
      seed.cluster_id = cluster;
      Result<std::unique_ptr<detail::HostRecord>> host = detail::HostRecord::open(check.host_dir, snowflake.name, seed);
      if (host) {
        st.host = std::move(*host);
        const detail::ClusterRecord& seen = st.host->record();
        if (seen.incarnation == r.incarnation) {
          if (seen.revision > st.max_revision) {
            st.max_revision = seen.revision;
            st.revision_seen_by = "this host";
          }
          if (!st.refusal && !seen.refused.empty()) {
            st.reason = refusal_of(seen.refused);
            st.refusal = Error(Errc::io, cat("ID space ", r.id, " under ", prefix, " was refused on this host (",
                                             seen.refused, ", recorded in ", check.host_dir.string(),
                                             "), and stays refused until it is recovered: ",
                                             recover_command(endpoints, prefix)));
          }
        }
      } else {
        st.host_failures.fetch_add(1, std::memory_order_relaxed);
        st.notes.push_back(cat("this host's record of the ID space could not be kept in ", check.host_dir.string(),
                               " (", host.error().message(), "); the checks that rest on it are off, uniqueness "
                               "is not affected"));
      }
    }
    // A refusal found now is recorded in `previous` too when it is the same
    // incarnation, so that the next take finds it whatever the store says then.
    const bool same_as_previous =
        previous != nullptr && previous->record_.id == r.id && previous->record_.incarnation == r.incarnation;
    const auto refuse_here = [&](Refusal reason, const Error& why) {
      refused = reason;
      if (same_as_previous) previous->refuse(reason, why);
      return space->refuse(reason, why);
    };
    if (st.refusal) {
      refused = st.reason;
      return *st.refusal;
    }
    if (r.cluster_id != cluster) {
      return refuse_here(
          Refusal::cluster,
          Error(Errc::io, cat("the ID space ", r.id, " under ", prefix, " was made on etcd cluster ",
                              etcd_id_hex(r.cluster_id), ", but the members at ", endpoints, " are cluster ",
                              etcd_id_hex(cluster), ": etcd was restored from a snapshot (with a new cluster token) "
                              "and its marks may be older than the IDs issued since, or these endpoints are another "
                              "cluster. Refusing it. After a restore: ", recover_command(endpoints, prefix),
                              " (docs/cluster.md, \"etcd restored from a backup\"); otherwise check --etcd")));
    }
    if (Result<void> current = space->witness(revision); !current) return refuse_here(Refusal::revision, current.error());
    {
      std::lock_guard lock(st.mutex);
      st.save_host(r.incarnation, st.max_revision, "", clock.boot_ns());
    }
    return space;
  }
}

Result<void> EtcdSpace::witness(std::int64_t revision) {
  State& st = *state_;
  std::unique_lock lock(st.mutex);
  if (st.refusal) return *st.refusal;
  if (revision >= st.max_revision) {
    st.max_revision = revision;
    st.revision_seen_by = "this process";
    const std::int64_t now = clock_.boot_ns();
    if (now - st.saved_at_boot_ns >= kHostSaveIntervalNs) st.save_host(record_.incarnation, revision, "", now);
    return {};
  }
  const std::int64_t seen = st.max_revision;
  const std::string by = st.revision_seen_by;
  lock.unlock();
  return refuse(Refusal::revision,
                Error(Errc::io, cat("etcd's revision went back from ", seen, " (seen by ", by, ") to ", revision,
                                    " in ID space ", record_.id, " under ", prefix_, ": the store was restored from an "
                                    "older snapshot, and its marks no longer cover every ID issued. Refusing it "
                                    "until it is recovered: ", recover_command(st.endpoints, prefix_),
                                    " (docs/cluster.md, \"etcd restored from a backup\")")));
}

Error EtcdSpace::refuse(Refusal reason, Error why) {
  State& st = *state_;
  std::lock_guard lock(st.mutex);
  if (st.refusal) return *st.refusal;
  st.refusal = why;
  st.reason = reason;
  st.save_host(record_.incarnation, st.max_revision, std::string(to_string(reason)), clock_.boot_ns());
  return why;
}

std::optional<Error> EtcdSpace::refusal() const {
  std::lock_guard lock(state_->mutex);
  return state_->refusal;
}

EtcdSpace::Refusal EtcdSpace::refusal_reason() const {
  std::lock_guard lock(state_->mutex);
  return state_->reason;
}

const std::vector<std::string>& EtcdSpace::notes() const { return state_->notes; }

Result<void> EtcdSpace::check_mark(const NodeSpace& which, std::uint64_t node, std::int64_t mark) {
  std::optional<std::int64_t> issued;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->host) issued = state_->host->issued(which, node);
  }
  if (!issued || *issued <= mark) return {};
  const Layout& layout = state_->layout;
  const std::int64_t until_ms = which.is_snowflake() ? layout.unix_ms_of_tick(std::min(*issued, layout.max_tick()))
                                                     : *issued;
  return refuse(Refusal::mark_below_host,
                Error(Errc::io, cat("node ", node, " of ", which.name, " in ID space ", record_.id, " under ", prefix_,
                                    ": its mark in etcd (stamp ", mark, ") is below what this host itself reserved on "
                                    "it (stamp ", *issued, ", ", format_utc_ms(until_ms), "): etcd went back in time, "
                                    "and IDs between the two may have been issued already. Refusing the space until "
                                    "it is recovered past them: ",
                                    recover_command(state_->endpoints, prefix_, "--issued-until " + format_utc_ms(until_ms)))));
}

void EtcdSpace::reserved(const NodeSpace& which, std::uint64_t node, std::int64_t stamp) {
  std::lock_guard lock(state_->mutex);
  if (state_->host && !state_->host->reserved(which, node, stamp)) {
    state_->host_failures.fetch_add(1, std::memory_order_relaxed);
  }
}

void EtcdSpace::released(const NodeSpace& which, std::uint64_t node, std::int64_t reserved_stamp,
                         std::int64_t final_stamp) {
  std::lock_guard lock(state_->mutex);
  if (state_->host && !state_->host->released(which, node, reserved_stamp, final_stamp)) {
    state_->host_failures.fetch_add(1, std::memory_order_relaxed);
  }
}

std::uint64_t EtcdSpace::host_record_failures() const {
  return state_->host_failures.load(std::memory_order_relaxed);
}

}  // namespace idforge
