// SPDX-License-Identifier: Apache-2.0
// A consumer of the installed package: make two IDs and check their order.
#include <cstdio>

#include <idforge/generator.h>
#include <idforge/version.h>
#if CONSUMER_WITH_ETCD
#include <idforge/etcd_reservation.h>
#endif
#if CONSUMER_WITH_CLIENT
#include <idforge/client.h>
#endif

int main() {
  idforge::SystemClock clock;
  idforge::MemoryReservation reservation(1);
  auto generator = idforge::Generator::create({}, clock, reservation);
  if (!generator) {
    std::fprintf(stderr, "consumer: %s\n", generator.error().message().c_str());
    return 1;
  }
#if CONSUMER_WITH_ETCD
  // Linked and callable: a bad endpoint is refused before any connection is made.
  idforge::EtcdOptions options;
  options.endpoints = {"127.0.0.1:2379"};
  if (idforge::EtcdClient::connect(options)) return 1;
#endif
#if CONSUMER_WITH_CLIENT
  // Linked and callable: an endpoint without a scheme is refused before any connection is made.
  idforge::ClientOptions client;
  client.endpoints = {"127.0.0.1:8080"};
  if (idforge::Client::connect(client)) return 1;
#endif
  auto a = (*generator)->next();
  auto b = (*generator)->next();
  if (!a || !b || !(*a < *b)) return 1;
  std::printf("consumer of idforge %s: %llu < %llu\n", IDFORGE_VERSION, static_cast<unsigned long long>(*a),
              static_cast<unsigned long long>(*b));
  return 0;
}
