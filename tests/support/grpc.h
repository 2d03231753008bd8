// SPDX-License-Identifier: Apache-2.0
// A real gRPC client (Debian's gRPC C++) of a running `idforge serve
// --grpc-listen`: stubs for idforge.v1.Ids, the health service and reflection,
// and readers of the error details a refusal carries.
#ifndef IDFORGE_TESTS_SUPPORT_GRPC_H_
#define IDFORGE_TESTS_SUPPORT_GRPC_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "idforge/v1/ids.grpc.pb.h"

namespace idforge::testing {

// What a refusal's google.rpc details say.
struct RichError {
  std::string reason;                  // ErrorInfo.reason: idforge's error code.
  std::string domain;                  // ErrorInfo.domain.
  std::optional<std::int64_t> retry_ms;  // RetryInfo.retry_delay, when present.
};

inline RichError rich_error(const grpc::Status& status) {
  RichError out;
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return out;
  for (const google::protobuf::Any& detail : rich.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::RetryInfo retry;
    if (detail.UnpackTo(&info)) {
      out.reason = info.reason();
      out.domain = info.domain();
    } else if (detail.UnpackTo(&retry)) {
      out.retry_ms = retry.retry_delay().seconds() * 1000 + retry.retry_delay().nanos() / 1'000'000;
    }
  }
  return out;
}

// A channel to 127.0.0.1:port and its stubs. Every call is given a 30 s deadline
// (a guard against a hung server, not a timing assertion).
class GrpcClient {
 public:
  explicit GrpcClient(std::uint16_t port)
      : channel_(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials())),
        ids(idforge::v1::Ids::NewStub(channel_)),
        health(grpc::health::v1::Health::NewStub(channel_)),
        reflection(grpc::reflection::v1alpha::ServerReflection::NewStub(channel_)) {}

  // A context with the guard deadline.
  static std::unique_ptr<grpc::ClientContext> context() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return c;
  }

  grpc::Status next(const idforge::v1::NextRequest& request, idforge::v1::NextResponse& response) {
    return ids->Next(context().get(), request, &response);
  }

  // Next with only a count and a format.
  grpc::Status next(std::uint32_t count, idforge::v1::Format format, idforge::v1::NextResponse& response) {
    idforge::v1::NextRequest request;
    request.set_count(count);
    request.set_format(format);
    return next(request, response);
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;

 public:
  std::unique_ptr<idforge::v1::Ids::Stub> ids;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
  std::unique_ptr<grpc::reflection::v1alpha::ServerReflection::Stub> reflection;
};

}  // namespace idforge::testing

#endif  // IDFORGE_TESTS_SUPPORT_GRPC_H_
