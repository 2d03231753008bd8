// SPDX-License-Identifier: Apache-2.0
// The gRPC transport: idforge.v1.Ids/Next with values_only, on one channel.
#include <grpcpp/grpcpp.h>

#include <chrono>

#include "client/transport.h"
#include "idforge/v1/ids.grpc.pb.h"

namespace idforge::detail {
namespace {

class GrpcTransport final : public Transport {
 public:
  GrpcTransport(const Endpoint& endpoint, std::string text, std::int64_t timeout_ms)
      : text_(std::move(text)),
        timeout_(timeout_ms),
        stub_(idforge::v1::Ids::NewStub(
            grpc::CreateChannel(endpoint.host + ":" + endpoint.port, grpc::InsecureChannelCredentials()))) {}

  Result<std::vector<std::uint64_t>> fetch(std::size_t count) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    idforge::v1::NextRequest request;
    request.set_count(static_cast<std::uint32_t>(count));
    request.set_values_only(true);
    idforge::v1::NextResponse response;
    const grpc::Status status = stub_->Next(&context, request, &response);
    if (!status.ok()) {
      const bool bad_request = status.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
      return Error(bad_request ? Errc::invalid_argument : Errc::unavailable,
                   text_ + " answered gRPC status " + std::to_string(status.error_code()) + ": " + status.error_message());
    }
    if (static_cast<std::size_t>(response.values_size()) != count) {
      return Error(Errc::io, text_ + " answered " + std::to_string(response.values_size()) + " IDs for " +
                                 std::to_string(count));
    }
    return std::vector<std::uint64_t>(response.values().begin(), response.values().end());
  }

 private:
  const std::string text_;
  const std::chrono::milliseconds timeout_;
  std::unique_ptr<idforge::v1::Ids::Stub> stub_;
};

}  // namespace

std::unique_ptr<Transport> grpc_transport(const Endpoint& endpoint, const std::string& text, std::int64_t timeout_ms) {
  return std::make_unique<GrpcTransport>(endpoint, text, timeout_ms);
}

}  // namespace idforge::detail
