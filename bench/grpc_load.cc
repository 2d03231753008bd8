// SPDX-License-Identifier: Apache-2.0
// grpc_load: a load client for the gRPC API (bench/grpc_load.sh runs it).
//
//   grpc_load unary  HOST:PORT SECONDS IN_FLIGHT        Next{count=1} calls, IN_FLIGHT at once
//   grpc_load stream HOST:PORT SECONDS BATCH [text]     one Stream of BATCH-ID messages
//
// Prints one JSON line: calls (or messages), IDs, seconds, and the rates. Every
// ID received is checked to increase (a stream) or to be new (unary calls, by
// count only: a service that answered fewer IDs than asked would show).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "idforge/v1/ids.grpc.pb.h"

namespace {

namespace v1 = ::idforge::v1;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Keeps `in_flight` Next calls outstanding until `seconds` have passed.
int unary(v1::Ids::Stub& stub, double seconds, int in_flight) {
  struct Caller {
    grpc::ClientContext context;
    v1::NextRequest request;
    v1::NextResponse response;
  };
  std::atomic<std::uint64_t> calls{0}, ids{0}, failed{0};
  std::mutex mutex;
  std::condition_variable done;
  int running = in_flight;
  const Clock::time_point start = Clock::now();
  std::function<void(std::unique_ptr<Caller>)> call;
  call = [&](std::unique_ptr<Caller> caller) {
    Caller* raw = caller.release();
    raw->request.set_count(1);
    stub.async()->Next(&raw->context, &raw->request, &raw->response, [&, raw](grpc::Status status) {
      std::unique_ptr<Caller> finished(raw);
      if (status.ok()) {
        calls.fetch_add(1, std::memory_order_relaxed);
        ids.fetch_add(static_cast<std::uint64_t>(finished->response.values_size()), std::memory_order_relaxed);
      } else {
        failed.fetch_add(1, std::memory_order_relaxed);
      }
      if (seconds_since(start) < seconds) return call(std::make_unique<Caller>());
      std::lock_guard lock(mutex);
      if (--running == 0) done.notify_all();
    });
  };
  for (int i = 0; i < in_flight; ++i) call(std::make_unique<Caller>());
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return running == 0; });
  const double elapsed = seconds_since(start);
  std::printf("{\"mode\":\"unary\",\"in_flight\":%d,\"calls\":%llu,\"ids\":%llu,\"failed\":%llu,\"seconds\":%.3f,"
              "\"calls_per_s\":%.0f}\n",
              in_flight, static_cast<unsigned long long>(calls.load()), static_cast<unsigned long long>(ids.load()),
              static_cast<unsigned long long>(failed.load()), elapsed, static_cast<double>(calls.load()) / elapsed);
  return failed.load() == 0 && ids.load() == calls.load() ? 0 : 1;
}

// Reads one stream for `seconds`, checking that every ID increases.
int stream(v1::Ids::Stub& stub, double seconds, std::uint32_t batch, bool text) {
  grpc::ClientContext context;
  v1::StreamRequest request;
  request.mutable_batch()->set_count(batch);
  request.mutable_batch()->set_values_only(!text);
  auto reader = stub.Stream(&context, request);
  v1::NextResponse message;
  std::uint64_t messages = 0, ids = 0, last = 0, out_of_order = 0;
  const Clock::time_point start = Clock::now();
  while (seconds_since(start) < seconds && reader->Read(&message)) {
    ++messages;
    ids += static_cast<std::uint64_t>(message.values_size());
    for (std::uint64_t id : message.values()) {
      if (id <= last) ++out_of_order;
      last = id;
    }
  }
  const double elapsed = seconds_since(start);
  context.TryCancel();
  while (reader->Read(&message)) {
  }
  const grpc::Status status = reader->Finish();
  std::printf("{\"mode\":\"stream\",\"batch\":%u,\"text\":%s,\"messages\":%llu,\"ids\":%llu,\"seconds\":%.3f,"
              "\"ids_per_s\":%.0f,\"out_of_order\":%llu,\"end\":\"%s\"}\n",
              batch, text ? "true" : "false", static_cast<unsigned long long>(messages),
              static_cast<unsigned long long>(ids), elapsed, static_cast<double>(ids) / elapsed,
              static_cast<unsigned long long>(out_of_order), status.error_message().c_str());
  return out_of_order == 0 && status.error_code() == grpc::StatusCode::CANCELLED ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: grpc_load unary HOST:PORT SECONDS IN_FLIGHT\n"
                         "       grpc_load stream HOST:PORT SECONDS BATCH [text]\n");
    return 2;
  }
  const std::string mode = argv[1];
  auto channel = grpc::CreateChannel(argv[2], grpc::InsecureChannelCredentials());
  auto stub = v1::Ids::NewStub(channel);
  const double seconds = std::stod(argv[3]);
  if (mode == "unary") return unary(*stub, seconds, std::stoi(argv[4]));
  if (mode == "stream") {
    return stream(*stub, seconds, static_cast<std::uint32_t>(std::stoul(argv[4])),
                  argc > 5 && std::string(argv[5]) == "text");
  }
  std::fprintf(stderr, "grpc_load: unknown mode %s\n", argv[1]);
  return 2;
}
