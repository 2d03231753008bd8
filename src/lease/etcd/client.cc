// SPDX-License-Identifier: Apache-2.0
#include "lease/etcd/client.h"

#include <grpc/support/log.h>

#include <algorithm>
#include <map>
#include <thread>

#include "core/text.h"

namespace idforge {
namespace {

using detail::cat;
using Deadline = EtcdClient::Impl::Deadline;

constexpr std::chrono::milliseconds kCyclePause{100};

struct ParsedUrl {
  bool tls = false;
  std::string target;  // host:port, as gRPC resolves it.
};

Result<ParsedUrl> parse_url(const std::string& url) {
  ParsedUrl out;
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    out.tls = true;
  } else {
    return Error(Errc::invalid_argument,
                 cat("etcd endpoint '", url, "' must start with http:// or https:// (such as http://127.0.0.1:2379)"));
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const std::size_t colon = rest.rfind(':');
  const bool bracketed = !rest.empty() && rest.front() == '[';
  const bool has_port = colon != std::string_view::npos && (!bracketed || colon > rest.find(']'));
  const std::string_view port = has_port ? rest.substr(colon + 1) : std::string_view();
  const std::string_view host = has_port ? rest.substr(0, colon) : rest;
  const bool port_ok = !port.empty() && port.size() <= 5 &&
                       std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                       std::stoul(std::string(port)) <= 65535;
  const bool host_ok = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
  if (!port_ok || !host_ok) {
    return Error(Errc::invalid_argument,
                 cat("etcd endpoint '", url, "' must be SCHEME://HOST:PORT with no path (such as http://10.0.0.1:2379)"));
  }
  out.target = std::string(host) + ":" + std::string(port);
  return out;
}

// The kind of a failure, for metrics, and whether another member may answer.
struct Kind {
  const char* name;
  bool try_next;
  Errc code;
};

Kind kind_of(const grpc::Status& status) {
  const std::string& m = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return {"unavailable", true, Errc::unavailable};
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return {"timeout", true, Errc::unavailable};
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return {"auth", false, Errc::invalid_argument};
    case grpc::StatusCode::NOT_FOUND:
      return {"not_found", false, Errc::lease_lost};
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
      if (m.find("authentication") != std::string::npos || m.find("auth") != std::string::npos) {
        return {"auth", false, Errc::invalid_argument};
      }
      return {"rejected", false, Errc::invalid_argument};
    default:
      return {"other", false, Errc::unavailable};
  }
}

std::function<void(std::string_view)>& grpc_log_sink() {
  static std::function<void(std::string_view)> sink;
  return sink;
}

void forward_grpc_log(gpr_log_func_args* args) {
  if (grpc_log_sink() && args->severity == GPR_LOG_SEVERITY_ERROR) grpc_log_sink()(args->message);
}

// A hint for an error that TLS set-up explains.
std::string tls_hint(const std::string& message) {
  if (message.find("certificate verify failed") == std::string::npos &&
      message.find("andshake failed") == std::string::npos) {
    return "";
  }
  return "; the member's TLS certificate was not accepted: give the CA that signed it with --etcd-cacert (and "
         "--etcd-cert and --etcd-key if the member asks for client certificates)";
}

bool token_expired(const grpc::Status& status) {
  return status.error_message().find("invalid auth token") != std::string::npos;
}

}  // namespace

Result<std::unique_ptr<EtcdClient::Impl>> EtcdClient::Impl::create(const EtcdOptions& options, EtcdObserver observer) {
  if (options.endpoints.empty()) {
    return Error(Errc::invalid_argument, "no etcd endpoint given; give --etcd URL[,URL…] such as http://127.0.0.1:2379");
  }
  if (options.call_timeout_ms < 100 || options.call_timeout_ms > 60'000) {
    return Error(Errc::invalid_argument, cat("etcd call timeout ", options.call_timeout_ms, " ms is outside 100 to 60000"));
  }
  if (options.cert_pem.empty() != options.key_pem.empty()) {
    return Error(Errc::invalid_argument, "an etcd client certificate needs its key, and a key its certificate: give "
                                         "both --etcd-cert and --etcd-key, or neither");
  }
  std::unique_ptr<Impl> impl(new Impl());
  impl->urls_ = options.endpoints;
  impl->call_timeout_ = std::chrono::milliseconds(options.call_timeout_ms);
  impl->user_ = options.user;
  impl->password_ = options.password;
  impl->observer_ = std::move(observer);
  std::optional<bool> tls;
  for (const std::string& url : options.endpoints) {
    Result<ParsedUrl> parsed = parse_url(url);
    if (!parsed) return parsed.error();
    if (tls && *tls != parsed->tls) {
      return Error(Errc::invalid_argument, "etcd endpoints mix http:// and https://; a cluster speaks one of them");
    }
    tls = parsed->tls;
  }
  const bool any_tls_file = !options.ca_cert_pem.empty() || !options.cert_pem.empty();
  if (!*tls && any_tls_file) {
    return Error(Errc::invalid_argument, "TLS certificates were given but the etcd endpoints are http://; use https:// "
                                         "endpoints with --etcd-cacert, --etcd-cert and --etcd-key");
  }
  impl->credentials_ = grpc::InsecureChannelCredentials();
  if (*tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.ca_cert_pem;
    ssl.pem_cert_chain = options.cert_pem;
    ssl.pem_private_key = options.key_pem;
    impl->credentials_ = grpc::SslCredentials(ssl);
  }
  // Reconnect within a second after a member comes back, however long it was away.
  impl->channel_args_.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  for (const std::string& url : options.endpoints) {
    Member m;
    m.url = url;
    m.target = parse_url(url)->target;
    m.stubs = impl->connect(m.target);
    impl->members_.push_back(std::move(m));
  }
  if (!impl->user_.empty()) {
    if (Result<void> auth = impl->authenticate(impl->default_deadline()); !auth) return auth.error();
  }
  // Every member's cluster, asked of all at once: endpoints that name two
  // clusters are refused before anything is sent to either. A member that does not
  // answer now is asked before the first call that goes to it.
  const Deadline probe_deadline = std::chrono::steady_clock::now() + impl->call_timeout_;
  std::vector<std::thread> probes;
  for (std::size_t i = 0; i < impl->members_.size(); ++i) {
    probes.emplace_back([&impl, i, probe_deadline] { (void)impl->probe(i, probe_deadline); });
  }
  for (std::thread& t : probes) t.join();
  std::map<std::uint64_t, std::vector<std::string>> clusters;
  for (const Member& m : impl->members_) {
    if (m.cluster_id != 0) clusters[m.cluster_id].push_back(m.url);
  }
  if (clusters.size() > 1) {
    std::string which;
    for (const auto& [id, urls] : clusters) {
      std::string list;
      for (const std::string& url : urls) list += (list.empty() ? "" : ", ") + url;
      which += cat(which.empty() ? "" : "; ", "cluster ", detail::hex_u64(id), ": ", list);
    }
    return Error(Errc::invalid_argument,
                 cat("the etcd endpoints name members of ", clusters.size(), " different clusters (", which,
                     "); one ID space lives in one cluster, and failing over to another would hand out nodes "
                     "another cluster also leases. Give --etcd the members of one cluster only"));
  }
  return impl;
}

Result<void> EtcdClient::Impl::check_cluster(std::size_t index, std::uint64_t id) {
  if (id == 0) return {};  // An answer without a header says nothing.
  std::uint64_t ours;
  {
    std::lock_guard lock(mutex_);
    Member& m = members_[index];
    if (cluster_id_ == 0) cluster_id_ = id;
    m.cluster_id = id;
    ours = cluster_id_;
    if (id == ours) return {};
    m.foreign = true;
  }
  Error error(Errc::unavailable,
              cat("etcd member ", members_[index].url, " belongs to cluster ", detail::hex_u64(id), ", not to cluster ",
                  detail::hex_u64(ours), " that this process reached first; it is not used from now on. The endpoints name "
                  "members of two clusters, or the cluster was replaced or restored from a snapshot with a new "
                  "cluster token (an ID space made on cluster ", detail::hex_u64(ours), " refuses the new one until "
                  "'idforge nodes recover')"));
  if (observer_.error) observer_.error("foreign_cluster", error);
  return error;
}

Result<void> EtcdClient::Impl::probe(std::size_t index, Deadline deadline) {
  const std::shared_ptr<Stubs> stubs = stubs_of(index);
  grpc::ClientContext context;
  prepare(context, deadline, true);
  etcdserverpb::StatusResponse response;
  const grpc::Status status = stubs->maintenance->Status(&context, etcdserverpb::StatusRequest(), &response);
  if (!status.ok()) {
    reconnect_if_down(index, stubs);
    return report("status", members_[index].url, status);
  }
  return check_cluster(index, response.header().cluster_id());
}

std::uint64_t EtcdClient::Impl::cluster_id() {
  std::lock_guard lock(mutex_);
  return cluster_id_;
}

bool EtcdClient::Impl::cluster_replaced() {
  std::lock_guard lock(mutex_);
  bool any_foreign = false;
  for (const Member& m : members_) {
    if (m.cluster_id != 0 && !m.foreign) return false;
    any_foreign = any_foreign || m.foreign;
  }
  return any_foreign;
}

std::shared_ptr<EtcdClient::Impl::Stubs> EtcdClient::Impl::connect(const std::string& target) const {
  auto stubs = std::make_shared<Stubs>();
  grpc::ChannelArguments args = channel_args_;
  stubs->channel = grpc::CreateCustomChannel(target, credentials_, args);
  stubs->kv = etcdserverpb::KV::NewStub(stubs->channel);
  stubs->lease = etcdserverpb::Lease::NewStub(stubs->channel);
  stubs->auth = etcdserverpb::Auth::NewStub(stubs->channel);
  stubs->maintenance = etcdserverpb::Maintenance::NewStub(stubs->channel);
  stubs->built = std::chrono::steady_clock::now();
  return stubs;
}

std::shared_ptr<EtcdClient::Impl::Stubs> EtcdClient::Impl::stubs_of(std::size_t index) {
  std::lock_guard lock(mutex_);
  return members_[index].stubs;
}

void EtcdClient::Impl::reconnect_if_down(std::size_t index, const std::shared_ptr<Stubs>& tried) {
  if (tried->channel->GetState(false) == GRPC_CHANNEL_READY) return;
  if (std::chrono::steady_clock::now() - tried->built < call_timeout_) return;
  std::shared_ptr<Stubs> fresh = connect(members_[index].target);
  std::lock_guard lock(mutex_);
  if (members_[index].stubs == tried) members_[index].stubs = std::move(fresh);
}

Deadline EtcdClient::Impl::default_deadline() const {
  return std::chrono::steady_clock::now() + call_timeout_ * static_cast<int>(members_.size());
}

void EtcdClient::Impl::prepare(grpc::ClientContext& context, Deadline deadline, bool with_token) {
  // gRPC takes deadlines on the system clock; ours are on the steady clock.
  const auto now = std::chrono::steady_clock::now();
  context.set_deadline(std::chrono::system_clock::now() + (std::min(deadline, now + call_timeout_) - now));
  context.AddMetadata("hasleader", "true");
  if (with_token) {
    std::lock_guard lock(mutex_);
    if (!token_.empty()) context.AddMetadata("token", token_);
  }
}

Error EtcdClient::Impl::report(const char* what, const std::string& url, const grpc::Status& status) {
  const Kind kind = kind_of(status);
  std::string message = cat("etcd ", what, " at ", url, " failed: ", status.error_message(),
                            tls_hint(status.error_message()));
  if (std::string_view(kind.name) == "auth") {
    message += "; check --etcd-user and its password, and that the user's role may read and write the key prefix";
  }
  Error error(kind.code, std::move(message));
  if (observer_.error) observer_.error(kind.name, error);
  return error;
}

template <class Response, class Call>
Result<void> EtcdClient::Impl::call(const char* what, Deadline deadline, const Response& response, Call&& run) {
  std::size_t first;
  {
    std::lock_guard lock(mutex_);
    first = current_;
  }
  bool reauthenticated = false;
  std::optional<Error> last;
  for (std::size_t tries = 0;; ++tries) {
    if (tries > 0 && tries % members_.size() == 0) {
      if (cluster_replaced()) break;  // No member of this client's cluster is left to ask.
      if (std::chrono::steady_clock::now() + kCyclePause >= deadline) break;
      std::this_thread::sleep_for(kCyclePause);
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    const std::size_t index = (first + tries) % members_.size();
    bool known;
    {
      std::lock_guard lock(mutex_);
      if (members_[index].foreign) continue;
      known = members_[index].cluster_id != 0;
    }
    if (!known) {
      // A member not asked yet: which cluster it belongs to, before anything goes to it.
      if (Result<void> ours = probe(index, deadline); !ours) {
        last = ours.error();
        continue;
      }
    }
    const std::shared_ptr<Stubs> stubs = stubs_of(index);
    grpc::ClientContext context;
    prepare(context, deadline, true);
    const grpc::Status status = run(*stubs, context);
    if (status.ok()) {
      if (Result<void> ours = check_cluster(index, response.header().cluster_id()); !ours) {
        last = ours.error();
        continue;
      }
      std::lock_guard lock(mutex_);
      current_ = index;
      return {};
    }
    if (!user_.empty() && !reauthenticated && token_expired(status)) {
      reauthenticated = true;
      if (Result<void> auth = authenticate(deadline); !auth) return auth;
      --tries;  // The same member again, with the new token.
      continue;
    }
    Error error = report(what, members_[index].url, status);
    if (!kind_of(status).try_next) return error;
    reconnect_if_down(index, stubs);
    last = std::move(error);
  }
  if (last) {
    return Error(last->code(), cat(last->message(), " (no etcd member of ", members_.size(), " answered in time)"));
  }
  return Error(Errc::unavailable, cat("etcd ", what, ": no member answered in time"));
}

Result<void> EtcdClient::Impl::authenticate(Deadline deadline) {
  etcdserverpb::AuthenticateRequest request;
  request.set_name(user_);
  request.set_password(password_);
  etcdserverpb::AuthenticateResponse response;
  // The token is not sent with Authenticate itself.
  std::optional<Error> last;
  for (std::size_t i = 0; i < members_.size() && std::chrono::steady_clock::now() < deadline; ++i) {
    const std::shared_ptr<Stubs> stubs = stubs_of(i);
    grpc::ClientContext context;
    prepare(context, deadline, false);
    const grpc::Status status = stubs->auth->Authenticate(&context, request, &response);
    if (status.ok()) {
      std::lock_guard lock(mutex_);
      token_ = response.token();
      return {};
    }
    Error error = report("authentication", members_[i].url, status);
    if (!kind_of(status).try_next) {
      return Error(Errc::invalid_argument, cat("etcd refused user '", user_, "': ", status.error_message(),
                                               "; check --etcd-user and the password (--etcd-password-file or "
                                               "IDFORGE_ETCD_PASSWORD)"));
    }
    last = std::move(error);
  }
  return last ? *last : Error(Errc::unavailable, "etcd authentication: no member answered in time");
}

Result<etcdserverpb::TxnResponse> EtcdClient::Impl::txn(const etcdserverpb::TxnRequest& request, Deadline deadline) {
  etcdserverpb::TxnResponse response;
  Result<void> done = call(
      "transaction", deadline, response,
      [&](Stubs& m, grpc::ClientContext& context) {
        response.Clear();
        return m.kv->Txn(&context, request, &response);
      });
  if (!done) return done.error();
  return response;
}

Result<etcdserverpb::RangeResponse> EtcdClient::Impl::range(const etcdserverpb::RangeRequest& request,
                                                             Deadline deadline) {
  etcdserverpb::RangeResponse response;
  Result<void> done = call(
      "range read", deadline, response,
      [&](Stubs& m, grpc::ClientContext& context) {
        response.Clear();
        return m.kv->Range(&context, request, &response);
      });
  if (!done) return done.error();
  return response;
}

Result<etcdserverpb::LeaseGrantResponse> EtcdClient::Impl::grant(std::int64_t ttl_s, Deadline deadline) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_s);
  etcdserverpb::LeaseGrantResponse response;
  Result<void> done = call(
      "lease grant", deadline, response,
      [&](Stubs& m, grpc::ClientContext& context) {
        response.Clear();
        return m.lease->LeaseGrant(&context, request, &response);
      });
  if (!done) return done.error();
  if (!response.error().empty()) return Error(Errc::unavailable, cat("etcd lease grant failed: ", response.error()));
  return response;
}

Result<etcdserverpb::LeaseKeepAliveResponse> EtcdClient::Impl::keepalive(std::int64_t lease, Deadline deadline) {
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseKeepAliveResponse response;
  // One round per stream: the stream's deadline bounds the read, so a member
  // that accepts and never answers cannot hold the keeper past it.
  Result<void> done = call(
      "keepalive", deadline, response,
      [&](Stubs& m, grpc::ClientContext& context) {
        response.Clear();
        auto stream = m.lease->LeaseKeepAlive(&context);
        if (stream->Write(request) && stream->Read(&response)) {
          stream->WritesDone();
          (void)stream->Finish();
          return grpc::Status::OK;
        }
        stream->WritesDone();
        grpc::Status status = stream->Finish();
        return status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the keepalive stream closed") : status;
      });
  if (!done) return done.error();
  return response;
}

Result<void> EtcdClient::Impl::revoke(std::int64_t lease, Deadline deadline) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseRevokeResponse response;
  Result<void> done = call(
      "lease revoke", deadline, response,
      [&](Stubs& m, grpc::ClientContext& context) { return m.lease->LeaseRevoke(&context, request, &response); });
  if (!done && done.error().code() == Errc::lease_lost) return {};  // Already gone.
  return done;
}

void route_grpc_log(std::function<void(std::string_view message)> sink) {
  grpc_log_sink() = std::move(sink);
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
  gpr_set_log_function(forward_grpc_log);
}

EtcdClient::EtcdClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdClient::~EtcdClient() = default;

Result<std::shared_ptr<EtcdClient>> EtcdClient::connect(const EtcdOptions& options, EtcdObserver observer) {
  Result<std::unique_ptr<Impl>> impl = Impl::create(options, std::move(observer));
  if (!impl) return impl.error();
  return std::shared_ptr<EtcdClient>(new EtcdClient(std::move(*impl)));
}

const std::vector<std::string>& EtcdClient::endpoints() const { return impl_->endpoints(); }
std::uint64_t EtcdClient::cluster_id() const { return impl_->cluster_id(); }
bool EtcdClient::cluster_replaced() const { return impl_->cluster_replaced(); }

}  // namespace idforge
