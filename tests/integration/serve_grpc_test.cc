// SPDX-License-Identifier: Apache-2.0
// The gRPC API (idforge.v1.Ids, health, reflection), against the real binary
// with a real gRPC client, beside a real HTTP client on the same instance.
#include <google/protobuf/descriptor.pb.h>

#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "idforge/decoder.h"
#include "idforge/encoding.h"
#include "idforge/layout.h"
#include "support/grpc.h"
#include "support/http.h"

namespace idforge::testing {
namespace {

using nlohmann::json;
namespace v1 = ::idforge::v1;

class ServeGrpc : public Serve {};

// The HTTP side's /metrics, polled (bounded by 30 s, as a guard) until it holds `line`.
::testing::AssertionResult metrics_show(HttpConnection& http, const std::string& line) {
  std::string metrics;
  for (int i = 0; i < 3000; ++i) {
    metrics = http.get("/metrics").body;
    if (metrics.find(line) != std::string::npos) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ::testing::AssertionFailure() << "no line " << line << " in\n" << metrics;
}

TEST_F(ServeGrpc, NextGivesTextAndValuesOfOneSequenceSharedWithHttp) {
  auto server = start_grpc({"--node", "37"});
  GrpcClient client(server->grpc_port());
  HttpConnection http(server->port());
  std::uint64_t last = 0;
  for (int round = 0; round < 3; ++round) {
    v1::NextResponse response;
    ASSERT_TRUE(client.next(500, v1::FORMAT_UNSPECIFIED, response).ok());
    ASSERT_EQ(response.ids_size(), 500);
    ASSERT_EQ(response.values_size(), 500);
    for (int i = 0; i < 500; ++i) {
      EXPECT_EQ(response.ids(i), std::to_string(response.values(i)));
      EXPECT_GT(response.values(i), last);
      last = response.values(i);
      EXPECT_EQ(Layout::twitter().node_number(Layout::twitter().decompose(last).node), 37u);
    }
    // The HTTP API issues from the same generator: after, never before.
    const std::string from_http = json::parse(http.get("/v1/next").body)["id"];
    EXPECT_GT(std::stoull(from_http), last);
    last = std::stoull(from_http);
  }
  EXPECT_TRUE(metrics_show(http, "idforge_grpc_requests_total{method=\"/idforge.v1.Ids/Next\",code=\"OK\"} 3"));
  EXPECT_TRUE(metrics_show(http, "idforge_ids_issued_total{format=\"snowflake\"} 1503"));
  EXPECT_TRUE(metrics_show(http, "idforge_grpc_request_duration_seconds_count{method=\"/idforge.v1.Ids/Next\"} 3"));
}

TEST_F(ServeGrpc, EncodingsAndValuesOnly) {
  auto server = start_grpc();
  GrpcClient client(server->grpc_port());
  for (v1::Encoding e : {v1::ENCODING_HEX, v1::ENCODING_BASE62, v1::ENCODING_BASE32, v1::ENCODING_BASE58}) {
    v1::NextRequest request;
    request.set_count(20);
    request.set_encoding(e);
    v1::NextResponse response;
    ASSERT_TRUE(client.next(request, response).ok()) << e;
    ASSERT_EQ(response.ids_size(), 20);
    const auto encoding = static_cast<Encoding>(e - 1);
    for (int i = 0; i < 20; ++i) {
      Result<std::uint64_t> read = parse_id(response.ids(i), encoding);
      ASSERT_TRUE(read) << response.ids(i);
      EXPECT_EQ(*read, response.values(i));
    }
  }
  v1::NextRequest request;
  request.set_count(1000);
  request.set_values_only(true);
  v1::NextResponse response;
  ASSERT_TRUE(client.next(request, response).ok());
  EXPECT_EQ(response.ids_size(), 0);
  EXPECT_EQ(response.values_size(), 1000);
}

TEST_F(ServeGrpc, EveryFormatAnswersItsOwnText) {
  auto server = start_grpc();
  GrpcClient client(server->grpc_port());
  for (int f = v1::FORMAT_SNOWFLAKE; f <= v1::FORMAT_FLAKE128; ++f) {
    v1::NextResponse response;
    ASSERT_TRUE(client.next(50, static_cast<v1::Format>(f), response).ok()) << f;
    ASSERT_EQ(response.ids_size(), 50);
    EXPECT_EQ(response.values_size(), f == v1::FORMAT_SNOWFLAKE ? 50 : 0);
    std::set<std::string> distinct(response.ids().begin(), response.ids().end());
    EXPECT_EQ(distinct.size(), 50u);
    for (const std::string& id : response.ids()) {
      Result<DecodedId> d = decode_as(id, static_cast<Format>(f - 1), Layout::twitter());
      EXPECT_TRUE(d) << id << ": " << d.error().message();
    }
  }
}

TEST_F(ServeGrpc, BadRequestsAreInvalidArgumentAndSayWhatToChange) {
  auto server = start_grpc({"--max-count", "100"});
  GrpcClient client(server->grpc_port());
  const auto refused = [&client](const v1::NextRequest& request, const std::string& says) {
    v1::NextResponse response;
    const grpc::Status status = client.next(request, response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find(says), std::string::npos) << status.error_message();
    const RichError rich = rich_error(status);
    EXPECT_EQ(rich.reason, "invalid_argument");
    EXPECT_EQ(rich.domain, "idforge");
    EXPECT_FALSE(rich.retry_ms);
    EXPECT_EQ(response.ids_size(), 0);
  };
  v1::NextRequest request;
  request.set_count(101);
  refused(request, "max_count 100");
  request.Clear();
  request.set_format(v1::FORMAT_ULID);
  request.set_encoding(v1::ENCODING_HEX);
  refused(request, "FORMAT_SNOWFLAKE only");
  request.Clear();
  request.set_format(v1::FORMAT_UUIDV7);
  request.set_values_only(true);
  refused(request, "values_only");
  request.Clear();
  request.set_format(static_cast<v1::Format>(99));
  refused(request, "format 99");
  request.Clear();
  request.set_encoding(static_cast<v1::Encoding>(-3));
  refused(request, "encoding -3");

  v1::DecodeRequest decode;
  decode.set_id("not an id");
  v1::DecodeResponse decoded;
  const grpc::Status status = client.ids->Decode(GrpcClient::context().get(), decode, &decoded);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(rich_error(status).reason, "invalid_argument");
}

TEST_F(ServeGrpc, DemandBeyondTheLayoutIsResourceExhaustedWithRetryInfo) {
  // Four IDs a second, no lead, no waiting: the second batch of four in a second
  // cannot be served.
  auto server = start_grpc({"--layout", "time:32-worker:10-seq:2/tick=1s/epoch=2024-01-01", "--max-lead-ms", "0",
                            "--max-wait-ms", "0", "--max-count", "4"});
  GrpcClient client(server->grpc_port());
  std::set<std::uint64_t> seen;
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    v1::NextResponse response;
    const grpc::Status status = client.next(4, v1::FORMAT_SNOWFLAKE, response);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      const RichError rich = rich_error(status);
      EXPECT_EQ(rich.reason, "overloaded");
      EXPECT_EQ(rich.retry_ms, 1000);
      continue;
    }
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (std::uint64_t id : response.values()) EXPECT_TRUE(seen.insert(id).second);
  }
  EXPECT_GT(refused, 0);
  HttpConnection http(server->port());
  EXPECT_TRUE(metrics_show(http, "idforge_grpc_requests_total{method=\"/idforge.v1.Ids/Next\",code=\"RESOURCE_EXHAUSTED\"} " +
                                     std::to_string(refused)));
}

TEST_F(ServeGrpc, DecodeAgreesWithTheHttpDecoder) {
  auto server = start_grpc({"--layout", "discord"});
  GrpcClient client(server->grpc_port());
  HttpConnection http(server->port());
  v1::NextResponse made;
  ASSERT_TRUE(client.next(1, v1::FORMAT_SNOWFLAKE, made).ok());
  ASSERT_TRUE(client.next(1, v1::FORMAT_ULID, made).ok());
  for (const std::string& id : made.ids()) {
    v1::DecodeRequest request;
    request.set_id(id);
    v1::DecodeResponse decoded;
    ASSERT_TRUE(client.ids->Decode(GrpcClient::context().get(), request, &decoded).ok()) << id;
    const json expected = json::parse(http.get("/v1/decode/" + id).body);
    EXPECT_EQ(decoded.id(), expected["id"]);
    EXPECT_EQ(decoded.format() - 1, static_cast<int>(parse_format(expected["format"].get<std::string>()).value()));
    EXPECT_EQ(decoded.unix_ms(), expected["unix_ms"]);
    EXPECT_EQ(decoded.time(), expected["time"]);
    EXPECT_EQ(decoded.future(), expected["future"]);
    ASSERT_GT(decoded.fields_size(), 0);
    for (const v1::Field& field : decoded.fields()) {
      ASSERT_TRUE(expected.contains(field.name())) << field.name();
      if (field.has_number()) {
        EXPECT_EQ(field.number(), expected[field.name()]) << field.name();
      } else {
        EXPECT_EQ(field.text(), expected[field.name()]) << field.name();
      }
    }
    if (decoded.format() == v1::FORMAT_SNOWFLAKE) {
      EXPECT_EQ(decoded.layout(), "discord");
      EXPECT_EQ(std::to_string(decoded.value()), id);
    }
  }
  // A text that fits several readings is refused, naming them; asking for one reads it.
  v1::DecodeRequest ambiguous;
  ambiguous.set_id("1234567890123456");
  v1::DecodeResponse decoded;
  const grpc::Status status = client.ids->Decode(GrpcClient::context().get(), ambiguous, &decoded);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("hex"), std::string::npos) << status.error_message();
  ambiguous.set_encoding(v1::ENCODING_HEX);
  ASSERT_TRUE(client.ids->Decode(GrpcClient::context().get(), ambiguous, &decoded).ok());
  EXPECT_EQ(decoded.value(), 0x1234567890123456u);
  EXPECT_EQ(decoded.encoding(), v1::ENCODING_HEX);
}

TEST_F(ServeGrpc, InfoAgreesWithTheHttpInfo) {
  auto server = start_grpc({"--layout", "discord", "--node", "35"});
  GrpcClient client(server->grpc_port());
  HttpConnection http(server->port());
  v1::InfoResponse info;
  ASSERT_TRUE(client.ids->Info(GrpcClient::context().get(), v1::InfoRequest(), &info).ok());
  const json expected = json::parse(http.get("/v1/info").body);
  EXPECT_EQ(info.layout(), expected["layout"]["name"]);
  EXPECT_EQ(info.layout_spec(), expected["layout"]["spec"]);
  EXPECT_EQ(info.node(), 35u);
  EXPECT_EQ(info.flake128_worker(), expected["flake128_worker"]);
  EXPECT_EQ(info.max_count(), expected["capacity"]["max_count"]);
  EXPECT_EQ(info.ids_per_tick(), expected["capacity"]["ids_per_tick"]);
  EXPECT_EQ(info.ids_per_second(), expected["capacity"]["ids_per_second"]);
  EXPECT_EQ(info.formats_size(), static_cast<int>(expected["formats"].size()));
  ASSERT_EQ(info.node_fields_size(), 2);
  EXPECT_EQ(info.node_fields(0).name(), "worker");
  EXPECT_EQ(info.node_fields(0).number(), expected["node_fields"]["worker"]);
  EXPECT_TRUE(info.ready());
  EXPECT_EQ(info.has_reserved_until_unix_ms(), !expected["reserved_until_unix_ms"].is_null());
  // /v1/info names the gRPC port.
  EXPECT_EQ(expected["grpc"]["port"], server->grpc_port());
}

TEST_F(ServeGrpc, StreamDeliversIncreasingBatchesUntilCancelled) {
  auto server = start_grpc();
  GrpcClient client(server->grpc_port());
  v1::StreamRequest request;
  request.mutable_batch()->set_count(1000);
  request.mutable_batch()->set_values_only(true);
  auto context = GrpcClient::context();
  auto reader = client.ids->Stream(context.get(), request);
  std::uint64_t last = 0;
  v1::NextResponse batch;
  for (int message = 0; message < 50; ++message) {
    ASSERT_TRUE(reader->Read(&batch));
    ASSERT_EQ(batch.values_size(), 1000);
    for (std::uint64_t id : batch.values()) {
      EXPECT_GT(id, last);
      last = id;
    }
  }
  context->TryCancel();
  while (reader->Read(&batch)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  HttpConnection http(server->port());
  EXPECT_TRUE(metrics_show(http, "idforge_grpc_requests_total{method=\"/idforge.v1.Ids/Stream\",code=\"CANCELLED\"} 1"));
  EXPECT_TRUE(metrics_show(http, "idforge_grpc_streams_open 0"));
  // After the stream, HTTP continues after its last ID.
  EXPECT_GT(std::stoull(json::parse(http.get("/v1/next").body)["id"].get<std::string>()), last);
}

TEST_F(ServeGrpc, APacedStreamOfWideIdsEndsWhenCancelledWhileWaiting) {
  auto server = start_grpc();
  GrpcClient client(server->grpc_port());
  v1::StreamRequest request;
  request.mutable_batch()->set_count(10);
  request.mutable_batch()->set_format(v1::FORMAT_UUIDV7);
  request.set_ids_per_second(1);  // A batch every 10 s: the stream waits between them.
  auto context = GrpcClient::context();
  auto reader = client.ids->Stream(context.get(), request);
  v1::NextResponse batch;
  ASSERT_TRUE(reader->Read(&batch));
  EXPECT_EQ(batch.ids_size(), 10);
  EXPECT_EQ(batch.values_size(), 0);
  EXPECT_TRUE(std::is_sorted(batch.ids().begin(), batch.ids().end()));
  context->TryCancel();
  EXPECT_FALSE(reader->Read(&batch));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  HttpConnection http(server->port());
  EXPECT_TRUE(metrics_show(http, "idforge_grpc_streams_open 0"));
}

TEST_F(ServeGrpc, AStreamWithABadBatchEndsAtOnceWithInvalidArgument) {
  auto server = start_grpc({"--max-count", "100"});
  GrpcClient client(server->grpc_port());
  v1::StreamRequest request;
  request.mutable_batch()->set_count(101);
  auto context = GrpcClient::context();
  auto reader = client.ids->Stream(context.get(), request);
  v1::NextResponse batch;
  EXPECT_FALSE(reader->Read(&batch));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("max_count 100"), std::string::npos) << status.error_message();
  EXPECT_EQ(rich_error(status).reason, "invalid_argument");
}

TEST_F(ServeGrpc, SigtermEndsStreamsWithUnavailableAndStopsCleanly) {
  auto server = start_grpc();
  GrpcClient client(server->grpc_port());
  v1::StreamRequest request;
  request.mutable_batch()->set_count(100);
  auto context = GrpcClient::context();
  auto reader = client.ids->Stream(context.get(), request);
  v1::NextResponse batch;
  ASSERT_TRUE(reader->Read(&batch));
  std::set<std::uint64_t> seen;
  std::thread stopper([&server] { EXPECT_EQ(server->stop(SIGTERM), 0); });
  while (reader->Read(&batch)) {
    for (std::uint64_t id : batch.values()) EXPECT_TRUE(seen.insert(id).second);
  }
  const grpc::Status status = reader->Finish();
  stopper.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(rich_error(status).reason, "draining");
  EXPECT_NE(server->log().find("\"msg\":\"stopped\""), std::string::npos) << server->log();
}

TEST_F(ServeGrpc, HealthFollowsReadiness) {
  auto server = start_grpc();
  GrpcClient client(server->grpc_port());
  const auto check = [&client](const std::string& service, grpc::health::v1::HealthCheckResponse& response) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    return client.health->Check(GrpcClient::context().get(), request, &response);
  };
  grpc::health::v1::HealthCheckResponse response;
  // The first look at readiness is made as the server starts; poll (bounded) for it.
  for (int i = 0; i < 300 && (!check("", response).ok() || response.status() != response.SERVING); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  ASSERT_TRUE(check("idforge.v1.Ids", response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(check("no.such.Service", response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServeGrpc, ReflectionListsTheServicesAndDescribesIds) {
  auto server = start_grpc();
  GrpcClient client(server->grpc_port());
  auto context = GrpcClient::context();
  auto stream = client.reflection->ServerReflectionInfo(context.get());
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> names;
  for (const auto& s : response.list_services_response().service()) names.insert(s.name());
  EXPECT_TRUE(names.contains("idforge.v1.Ids"));
  EXPECT_TRUE(names.contains("grpc.health.v1.Health"));
  request.set_file_containing_symbol("idforge.v1.Ids");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_GT(response.file_descriptor_response().file_descriptor_proto_size(), 0);
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(response.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.name(), "idforge/v1/ids.proto");
  ASSERT_EQ(file.service_size(), 1);
  EXPECT_EQ(file.service(0).method_size(), 4);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ServeGrpc, ABadOrTakenGrpcAddressStopsTheStartWithOneLine) {
  const std::string serve = "serve --data-dir " + (dir_ / "data").string() + " --listen 127.0.0.1:0 --grpc-listen ";
  expect_one_json_error_line(run(serve + "127.0.0.1"), 2, "--grpc-listen '127.0.0.1' has no port");
  auto server = start_grpc();
  const std::string taken = "127.0.0.1:" + std::to_string(server->grpc_port());
  expect_one_json_error_line(run(serve + taken), 1, "cannot listen for gRPC on " + taken);
}

}  // namespace
}  // namespace idforge::testing
