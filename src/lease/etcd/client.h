// SPDX-License-Identifier: Apache-2.0
// EtcdClient::Impl: the calls idforge makes to etcd, over gRPC, with failover.
//
// One channel per endpoint. A call goes to the current member with a deadline of
// call_timeout_ms; when the member does not answer (unavailable, deadline
// exceeded), the call moves to the next member, until every member was tried or
// the caller's deadline passes. An expired auth token is renewed once per call.
// Every call carries `hasleader: true`, so a member cut off from its quorum
// answers "no leader" instead of going silent.
//
// One cluster. Every member is asked its status (which carries its cluster ID)
// before the first call goes to it: at create() all at once, later a member that
// did not answer then. The first cluster ID seen is the client's; endpoints that
// name members of two clusters are refused at create(), and a member found later
// to belong to another cluster (or whose answers start to carry another cluster
// ID) is *foreign*: it is never called again, and no answer of it is used.
//
// Thread safety: all methods may be called from any thread.
#ifndef IDFORGE_LEASE_ETCD_CLIENT_H_
#define IDFORGE_LEASE_ETCD_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "idforge/etcd_reservation.h"
#include "lease/etcd/rpc.grpc.pb.h"

namespace idforge {

class EtcdClient::Impl {
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  static Result<std::unique_ptr<Impl>> create(const EtcdOptions& options, EtcdObserver observer);

  Result<etcdserverpb::TxnResponse> txn(const etcdserverpb::TxnRequest& request, Deadline deadline);
  Result<etcdserverpb::RangeResponse> range(const etcdserverpb::RangeRequest& request, Deadline deadline);
  Result<etcdserverpb::LeaseGrantResponse> grant(std::int64_t ttl_s, Deadline deadline);
  // One round of the keepalive stream: sends {ID} and reads the answer.
  Result<etcdserverpb::LeaseKeepAliveResponse> keepalive(std::int64_t lease, Deadline deadline);
  // Revokes `lease`; a lease etcd no longer knows is not an error.
  Result<void> revoke(std::int64_t lease, Deadline deadline);
  Result<void> authenticate(Deadline deadline);

  // The ID of the cluster this client talks to (the first one seen), or 0 before
  // any member answered.
  std::uint64_t cluster_id();
  // True once every member whose cluster is known is foreign: the cluster at these
  // endpoints is not the one this client first reached (replaced, or restored from
  // a snapshot with a new cluster token). A new client then learns the new one.
  bool cluster_replaced();

  // A deadline call_timeout_ms × the number of endpoints from now: long enough for
  // one try of every member.
  Deadline default_deadline() const;
  const std::vector<std::string>& endpoints() const { return urls_; }
  std::chrono::milliseconds call_timeout() const { return call_timeout_; }

 private:
  // One connection to a member and the stubs on it.
  struct Stubs {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Auth::Stub> auth;
    std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
    std::chrono::steady_clock::time_point built;
  };
  struct Member {
    std::string url;
    std::string target;
    std::shared_ptr<Stubs> stubs;  // Guarded by mutex_; replaced, never changed.
    std::uint64_t cluster_id = 0;  // Guarded by mutex_; 0 until the member answered.
    bool foreign = false;          // Guarded by mutex_: of another cluster than the client's.
  };

  Impl() = default;

  // Runs `call(stubs, context)` on members in turn, from the current one, until one
  // answers or `deadline` passes; `call` fills `response`, whose header's
  // cluster ID must be the client's. `what` names the call in errors.
  template <class Response, class Call>
  Result<void> call(const char* what, Deadline deadline, const Response& response, Call&& call);
  // Asks member `index` its status and records its cluster: ok when it is the
  // client's cluster (pinning the first one seen), an error when it does not answer
  // or is foreign.
  Result<void> probe(std::size_t index, Deadline deadline);
  // Records that member `index` answered as cluster `id`; an error naming both
  // clusters when that is not the client's cluster (the member is foreign from then on).
  Result<void> check_cluster(std::size_t index, std::uint64_t id);
  void prepare(grpc::ClientContext& context, Deadline deadline, bool with_token);
  Error report(const char* what, const std::string& url, const grpc::Status& status);
  std::shared_ptr<Stubs> connect(const std::string& target) const;
  // The member's stubs now.
  std::shared_ptr<Stubs> stubs_of(std::size_t index);
  // After a member did not answer: a connection that is not up and older than a
  // call timeout is replaced, so that a member back from a partition is reached at
  // once rather than after the kernel's next SYN retry or gRPC's backoff.
  void reconnect_if_down(std::size_t index, const std::shared_ptr<Stubs>& tried);

  std::vector<std::string> urls_;
  std::vector<Member> members_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  grpc::ChannelArguments channel_args_;
  std::chrono::milliseconds call_timeout_{2000};
  std::string user_;
  std::string password_;
  EtcdObserver observer_;

  std::mutex mutex_;
  std::size_t current_ = 0;  // Guarded by mutex_.
  std::uint64_t cluster_id_ = 0;  // Guarded by mutex_: the client's cluster, once known.
  std::string token_;        // Guarded by mutex_.
};

}  // namespace idforge

#endif  // IDFORGE_LEASE_ETCD_CLIENT_H_
