// SPDX-License-Identifier: Apache-2.0
#include "server/grpc_server.h"

#include <grpcpp/alarm.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "idforge/decoder.h"
#include "idforge/time_text.h"
#include "idforge/version.h"
#include "formats/decoded_text.h"
#include "idforge/v1/ids.grpc.pb.h"
#include "server/grpc_metrics.h"
#include "server/log.h"

namespace idforge::detail {
namespace {

namespace v1 = ::idforge::v1;

constexpr std::string_view kServiceName = "idforge.v1.Ids";
constexpr std::int64_t kMaxAlarmStepNs = 100'000'000;  // Streams look at cancellation and draining this often.
constexpr std::int64_t kOverloadPauseNs = 1'000'000;   // An overloaded stream tries again after a tick.
constexpr std::int64_t kLongestUnaryCallNs = 1'100'000'000;  // --max-wait-ms is at most 1000.

// A status carrying google.rpc.ErrorInfo (`reason`) and, for retry_after_ms >= 0,
// google.rpc.RetryInfo.
grpc::Status status(grpc::StatusCode code, std::string_view reason, const std::string& message,
                    std::int64_t retry_after_ms = -1) {
  google::rpc::Status rich;
  rich.set_code(code);
  rich.set_message(message);
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain("idforge");
  rich.add_details()->PackFrom(info);
  if (retry_after_ms >= 0) {
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(retry_after_ms / 1000);
    retry.mutable_retry_delay()->set_nanos(static_cast<std::int32_t>(retry_after_ms % 1000 * 1'000'000));
    rich.add_details()->PackFrom(retry);
  }
  return {code, message, rich.SerializeAsString()};
}

grpc::Status invalid(const std::string& message) {
  return status(grpc::StatusCode::INVALID_ARGUMENT, to_string(Errc::invalid_argument), message);
}

// A library error as the HTTP API maps it to a status, in gRPC's terms.
grpc::Status status_of(const Error& error, std::int64_t retry_after_s) {
  const std::string_view reason = to_string(error.code());
  switch (error.code()) {
    case Errc::invalid_argument:
      return status(grpc::StatusCode::INVALID_ARGUMENT, reason, error.message());
    case Errc::overloaded:
      return status(grpc::StatusCode::RESOURCE_EXHAUSTED, reason, error.message(), retry_after_s * 1000);
    case Errc::clock_regressed:
    case Errc::lease_lost:
    case Errc::unavailable:
    case Errc::io:
      return status(grpc::StatusCode::UNAVAILABLE, reason, error.message(), retry_after_s * 1000);
    case Errc::time_exhausted:
      return status(grpc::StatusCode::FAILED_PRECONDITION, reason, error.message());
  }
  return status(grpc::StatusCode::INTERNAL, reason, error.message());
}

Result<Format> format_of(int value, bool unspecified_is_snowflake) {
  if (value == v1::FORMAT_UNSPECIFIED && unspecified_is_snowflake) return Format::snowflake;
  if (value < v1::FORMAT_SNOWFLAKE || value > v1::FORMAT_FLAKE128) {
    return Error(Errc::invalid_argument, "format " + std::to_string(value) + " is not one of idforge.v1.Format");
  }
  return static_cast<Format>(value - 1);
}

Result<Encoding> encoding_of(int value) {
  if (value < v1::ENCODING_DECIMAL || value > v1::ENCODING_BASE58) {
    return Error(Errc::invalid_argument, "encoding " + std::to_string(value) + " is not one of idforge.v1.Encoding");
  }
  return static_cast<Encoding>(value - 1);
}

// How many IDs a request asks for: 0 means 1.
std::uint64_t count_of(const v1::NextRequest& request) { return request.count() == 0 ? 1 : request.count(); }

v1::Format to_proto(Format format) { return static_cast<v1::Format>(static_cast<int>(format) + 1); }
v1::Encoding to_proto(Encoding encoding) { return static_cast<v1::Encoding>(static_cast<int>(encoding) + 1); }

// Per-thread room for one batch: Snowflake values, and the wide formats' text.
struct Scratch {
  std::vector<std::uint64_t> values;
  Buffer text;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

class IdsService final : public v1::Ids::CallbackService {
 public:
  IdsService(IdService& ids, Metrics& metrics, GrpcMetrics& grpc_metrics, Clock& clock)
      : ids_(ids), metrics_(metrics), grpc_metrics_(grpc_metrics), clock_(clock) {}

  void begin_drain() { draining_.store(true, std::memory_order_relaxed); }
  bool draining() const { return draining_.load(std::memory_order_relaxed); }

  // Checks `request`, then issues its IDs into `response`: the one place where
  // Next and Stream make IDs.
  grpc::Status issue(const v1::NextRequest& request, v1::NextResponse& response) {
    const std::uint64_t count = count_of(request);
    if (count > ids_.max_count()) {
      return invalid("count " + std::to_string(count) + " exceeds this instance's max_count " +
                     std::to_string(ids_.max_count()) + " (its --max-count); ask for fewer or make several calls");
    }
    Result<Format> format = format_of(request.format(), true);
    if (!format) return status_of(format.error(), 1);
    Encoding encoding = Encoding::decimal;
    if (request.encoding() != v1::ENCODING_UNSPECIFIED) {
      if (*format != Format::snowflake) {
        return invalid("encoding applies to FORMAT_SNOWFLAKE only; the other formats have one text form each");
      }
      Result<Encoding> e = encoding_of(request.encoding());
      if (!e) return status_of(e.error(), 1);
      encoding = *e;
    }
    if (request.values_only() && *format != Format::snowflake) {
      return invalid("values_only applies to FORMAT_SNOWFLAKE only; the other formats are not 64-bit numbers");
    }
    Scratch& room = scratch();
    if (*format == Format::snowflake) {
      if (room.values.size() < ids_.max_count()) room.values.resize(static_cast<std::size_t>(ids_.max_count()));
      const std::span<std::uint64_t> values(room.values.data(), static_cast<std::size_t>(count));
      if (Result<void> made = ids_.next_snowflakes(values); !made) return refusal(made.error(), *format);
      response.mutable_values()->Add(values.begin(), values.end());
      if (!request.values_only()) {
        response.mutable_ids()->Reserve(static_cast<int>(count));
        char text[kMaxEncodedLength];
        for (std::uint64_t v : values) response.add_ids(text, static_cast<std::size_t>(encode_to(v, encoding, text) - text));
      }
    } else {
      room.text.clear();
      if (Result<void> made = ids_.write(*format, encoding, count, IdShape::lines, room.text, {}); !made) {
        return refusal(made.error(), *format);
      }
      response.mutable_ids()->Reserve(static_cast<int>(count));
      std::string_view lines = room.text.view();
      for (std::size_t end = lines.find('\n'); end != std::string_view::npos; end = lines.find('\n')) {
        response.add_ids(lines.data(), end);
        lines.remove_prefix(end + 1);
      }
    }
    metrics_.issued_elsewhere(*format, count);
    return grpc::Status::OK;
  }

  grpc::ServerUnaryReactor* Next(grpc::CallbackServerContext* context, const v1::NextRequest* request,
                                 v1::NextResponse* response) override {
    const std::int64_t start_ns = clock_.boot_ns();
    return answer(context, GrpcMethod::next, start_ns, issue(*request, *response));
  }

  grpc::ServerWriteReactor<v1::NextResponse>* Stream(grpc::CallbackServerContext* context,
                                                     const v1::StreamRequest* request) override;

  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* context, const v1::DecodeRequest* request,
                                   v1::DecodeResponse* response) override {
    const std::int64_t start_ns = clock_.boot_ns();
    return answer(context, GrpcMethod::decode, start_ns, decode(*request, *response));
  }

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context, const v1::InfoRequest*,
                                 v1::InfoResponse* response) override {
    const std::int64_t start_ns = clock_.boot_ns();
    info(*response);
    return answer(context, GrpcMethod::info, start_ns, grpc::Status::OK);
  }

  Clock& clock() { return clock_; }
  GrpcMetrics& grpc_metrics() { return grpc_metrics_; }

 private:
  // The status for a refusal while issuing `format`; a Snowflake node behind the
  // clock says when it catches up.
  grpc::Status refusal(const Error& error, Format format) {
    const bool behind = error.code() == Errc::clock_regressed && format == Format::snowflake;
    return status_of(error, behind ? ids_.seconds_until_clock_catches_up() : 1);
  }

  grpc::ServerUnaryReactor* answer(grpc::CallbackServerContext* context, GrpcMethod method, std::int64_t start_ns,
                                   const grpc::Status& result) {
    grpc_metrics_.call(method, result.error_code(), clock_.boot_ns() - start_ns);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(result);
    return reactor;
  }

  grpc::Status decode(const v1::DecodeRequest& request, v1::DecodeResponse& response) {
    std::optional<Format> format;
    if (request.format() != v1::FORMAT_UNSPECIFIED) {
      Result<Format> f = format_of(request.format(), false);
      if (!f) return status_of(f.error(), 1);
      format = *f;
    }
    std::optional<Encoding> encoding;
    if (request.encoding() != v1::ENCODING_UNSPECIFIED) {
      if (format && *format != Format::snowflake) return invalid("encoding applies to FORMAT_SNOWFLAKE only");
      Result<Encoding> e = encoding_of(request.encoding());
      if (!e) return status_of(e.error(), 1);
      encoding = *e;
      format = Format::snowflake;
    }
    const Layout& layout = ids_.layout();
    Result<DecodedId> d = format ? decode_as(request.id(), *format, layout, encoding.value_or(Encoding::decimal))
                                 : idforge::decode(request.id(), layout);
    if (!d) return status_of(d.error(), 1);
    char text[kMaxIdTextLength];
    response.set_id(text, static_cast<std::size_t>(format_to(*d, text) - text));
    response.set_format(to_proto(d->format));
    if (d->format == Format::snowflake) {
      response.set_encoding(to_proto(d->encoding));
      response.set_layout(std::string(layout.name()));
      response.set_value(std::get<std::uint64_t>(d->value));
    }
    if (d->unix_ms) {
      response.set_unix_ms(*d->unix_ms);
      response.set_time(format_utc_ms(*d->unix_ms));
      response.set_future(*d->unix_ms > clock_.wall_ns() / 1'000'000);
    }
    for (const DecodedField& f : decoded_fields(*d, layout)) {
      v1::Field* field = response.add_fields();
      field->set_name(std::string(f.name));
      if (f.is_text) {
        field->set_text(std::string(f.text_value()));
      } else {
        field->set_number(f.number);
      }
    }
    return grpc::Status::OK;
  }

  void info(v1::InfoResponse& response) {
    const GeneratorStats stats = ids_.stats();
    const IdService::Readiness ready = ids_.readiness();
    const Layout& layout = ids_.layout();
    const Capacity capacity = layout.capacity();
    response.set_version(std::string(kVersion));
    response.set_now_unix_us(clock_.wall_ns() / 1000);
    response.set_layout(std::string(layout.name()));
    response.set_layout_spec(layout.spec());
    response.set_node(ids_.node());
    const auto values = layout.node_values(ids_.node());
    for (int i = 0; i < layout.node_field_count(); ++i) {
      v1::Field* field = response.add_node_fields();
      field->set_name(std::string(layout.node_field(i).name()));
      field->set_number(values[static_cast<std::size_t>(i)]);
    }
    response.set_flake128_worker(ids_.flake128_worker());
    if (stats.reserved_until_unix_ms) response.set_reserved_until_unix_ms(*stats.reserved_until_unix_ms);
    response.set_lead_ms(stats.lead_ms);
    response.set_next_stamp_lead_ms(stats.next_stamp_lead_ms);
    response.set_ids_per_tick(capacity.ids_per_tick);
    response.set_ids_per_second(capacity.ids_per_second_per_node);
    response.set_max_count(ids_.max_count());
    response.set_time_runs_out_unix_ms(capacity.last_unix_ms);
    for (Format f : all_formats()) response.add_formats(to_proto(f));
    if (draining()) {
      response.set_not_ready_code("draining");
      response.set_not_ready_error("the service is shutting down");
    } else if (!ready.ready) {
      response.set_not_ready_code(ready.code);
      response.set_not_ready_error(ready.message);
    }
    response.set_ready(ready.ready && !draining());
  }

  IdService& ids_;
  Metrics& metrics_;
  GrpcMetrics& grpc_metrics_;
  Clock& clock_;
  std::atomic<bool> draining_{false};
};

// One Stream call: writes a batch, and when the transport has taken it, makes
// the next (or waits on the alarm first, when paced or overloaded). Only one of
// a write and the alarm is outstanding at a time, so the steps run one after
// another; OnCancel only sets a flag, seen at the next step.
class IdStream final : public grpc::ServerWriteReactor<v1::NextResponse> {
 public:
  IdStream(IdsService& service, const v1::StreamRequest& request)
      : service_(service), request_(request), started_ns_(service.clock().boot_ns()) {
    service_.grpc_metrics().stream_opened();
    if (request_.ids_per_second() > 0) {
      const std::uint64_t count = count_of(request_.batch());
      // Whole nanoseconds per batch, at least one.
      interval_ns_ = static_cast<std::int64_t>(std::max<double>(
          1, std::min<double>(9e18, 1e9 * static_cast<double>(count) / static_cast<double>(request_.ids_per_second()))));
    }
    step();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    service_.grpc_metrics().stream_message();
    ++sent_;
    step();
  }

  void OnCancel() override { cancelled_.store(true, std::memory_order_relaxed); }

  void OnDone() override {
    service_.grpc_metrics().stream_closed();
    service_.grpc_metrics().call(GrpcMethod::stream, code_, 0);
    delete this;
  }

 private:
  void step() {
    if (cancelled_.load(std::memory_order_relaxed)) {
      return finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
    }
    if (service_.draining()) {
      return finish(status(grpc::StatusCode::UNAVAILABLE, "draining",
                           "the instance is shutting down; open the stream again (on another instance)"));
    }
    const std::int64_t now_ns = service_.clock().boot_ns();
    if (interval_ns_ > 0) {
      const std::int64_t due_ns = started_ns_ + static_cast<std::int64_t>(std::min<double>(
                                                    9e18, static_cast<double>(sent_) * static_cast<double>(interval_ns_)));
      if (due_ns > now_ns) return wait(due_ns - now_ns);
    }
    batch_.Clear();
    grpc::Status made = service_.issue(request_.batch(), batch_);
    if (made.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) return wait(kOverloadPauseNs);
    if (!made.ok()) return finish(made);
    StartWrite(&batch_);
  }

  void wait(std::int64_t ns) {
    const gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(std::min(ns, kMaxAlarmStepNs), GPR_TIMESPAN));
    // A new alarm each time: this may run inside the previous one's callback,
    // which keeps that alarm's state alive until it returns.
    alarm_ = std::make_unique<grpc::Alarm>();
    alarm_->Set(deadline, [this](bool) { step(); });
  }

  void finish(const grpc::Status& result) {
    code_ = result.error_code();
    Finish(result);
  }

  IdsService& service_;
  const v1::StreamRequest request_;
  const std::int64_t started_ns_;
  std::int64_t interval_ns_ = 0;  // Between batches when paced; 0: as fast as the client reads.
  std::uint64_t sent_ = 0;
  v1::NextResponse batch_;
  std::unique_ptr<grpc::Alarm> alarm_;
  std::atomic<bool> cancelled_{false};
  int code_ = 0;
};

grpc::ServerWriteReactor<v1::NextResponse>* IdsService::Stream(grpc::CallbackServerContext*,
                                                               const v1::StreamRequest* request) {
  return new IdStream(*this, *request);
}

// gRPC's own error reports as the service's JSON log lines; its lesser reports are dropped.
void log_grpc_report(gpr_log_func_args* args) {
  if (args->severity == GPR_LOG_SEVERITY_ERROR) log(LogLevel::warn, "grpc", {{"note", std::string(args->message)}});
}
void drop_grpc_report(gpr_log_func_args*) {}

std::string listen_address(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

struct GrpcServer::Impl {
  Impl(IdService& source, Metrics& metrics, Clock& clock) : ids(source), service(source, metrics, grpc_metrics, clock) {}

  // Sets the health answers from the IdService's readiness every 100 ms until drained.
  void watch_health() {
    std::unique_lock lock(mutex);
    std::optional<bool> shown;
    do {
      const bool ready = ids.readiness().ready && !service.draining();
      if (shown != ready) {
        server->GetHealthCheckService()->SetServingStatus(ready);
        server->GetHealthCheckService()->SetServingStatus(std::string(kServiceName), ready);
        shown = ready;
      }
    } while (!wake.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping; }));
    server->GetHealthCheckService()->SetServingStatus(false);
    server->GetHealthCheckService()->SetServingStatus(std::string(kServiceName), false);
  }

  IdService& ids;
  GrpcMetrics grpc_metrics;
  IdsService service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool drained = false;
  std::thread health;
};

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<GrpcServer>> GrpcServer::start(const std::string& host, std::uint16_t port, IdService& ids,
                                                      Metrics& metrics, Clock& clock) {
  auto impl = std::make_unique<Impl>(ids, metrics, clock);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which lets a second instance share a
  // taken port and split the calls with the first; refuse it, as HTTP does.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Reflection is a synchronous service, whose pollers look for shutdown only
  // this often (gRPC's default, 10 s, held a drain with one client connected for 5 s).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 100);
  const std::string address = listen_address(host, port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl->port);
  builder.RegisterService(&impl->service);
  // A failure to listen is reported once, by the error below.
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
  gpr_set_log_function(drop_grpc_report);
  impl->server = builder.BuildAndStart();
  gpr_set_log_function(log_grpc_report);
  if (!impl->server || impl->port == 0) {
    return Error(Errc::io, "cannot listen for gRPC on " + address +
                               " (address in use, or not an address of this machine); give another --grpc-listen");
  }
  Impl* raw = impl.get();
  impl->health = std::thread([raw] { raw->watch_health(); });
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

GrpcServer::~GrpcServer() { drain(std::chrono::milliseconds(0)); }

std::uint16_t GrpcServer::port() const { return static_cast<std::uint16_t>(impl_->port); }

void GrpcServer::begin_drain() {
  impl_->service.begin_drain();
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->health.joinable()) impl_->health.join();
}

void GrpcServer::drain(std::chrono::milliseconds grace) {
  if (impl_->drained) return;
  impl_->drained = true;
  begin_drain();
  Clock& clock = impl_->service.clock();
  const std::int64_t deadline_ns = clock.boot_ns() + grace.count() * 1'000'000;
  // Streams end at their next step; one whose client stopped reading holds on
  // until the grace runs out.
  while (impl_->grpc_metrics.streams_open() > 0 && clock.boot_ns() < deadline_ns) clock.sleep_for_ns(10'000'000);
  // A unary call ends within --max-wait-ms (at most a second). gRPC's shutdown
  // also waits for idle client connections until its deadline, so the deadline
  // is no later than that.
  const std::int64_t last_call_ns = clock.boot_ns() + kLongestUnaryCallNs;
  const std::int64_t left_ms = (std::min(deadline_ns, last_call_ns) - clock.boot_ns()) / 1'000'000;
  impl_->server->Shutdown(gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                       gpr_time_from_millis(std::max<std::int64_t>(0, left_ms), GPR_TIMESPAN)));
  impl_->server->Wait();
}

nlohmann::ordered_json GrpcServer::info() const {
  return {{"port", port()}, {"streams_open", impl_->grpc_metrics.streams_open()}};
}

void GrpcServer::render_metrics(Buffer& out) const { impl_->grpc_metrics.render(out); }

}  // namespace idforge::detail
