// SPDX-License-Identifier: Apache-2.0
// Each wide format: a new ID with its text form, and the strict parser, ns per ID,
// beside the randomness sources they could be built on.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/random.h>
#include <uuid/uuid.h>

#include <string>
#include <vector>

#include "idforge/flake128.h"
#include "idforge/ksuid.h"
#include "idforge/object_id.h"
#include "idforge/random.h"
#include "idforge/ulid.h"
#include "idforge/uuid.h"

namespace {

using namespace idforge;

// Randomness: 16 bytes from each source.
void BM_Random_SystemRandom16(benchmark::State& state) {
  std::array<std::uint8_t, 16> out;
  for (auto _ : state) {
    SystemRandom::instance().fill(out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Random_SystemRandom16);

void BM_Random_Arc4randomBuf16(benchmark::State& state) {
  std::array<std::uint8_t, 16> out;
  for (auto _ : state) {
    arc4random_buf(out.data(), out.size());
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Random_Arc4randomBuf16);

void BM_Random_Getrandom16(benchmark::State& state) {
  std::array<std::uint8_t, 16> out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(getrandom(out.data(), out.size(), 0));
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Random_Getrandom16);

// A new ID and its text, as `idforge gen` makes them. The clock is the system's.
template <class Make>
void new_with_text(benchmark::State& state, Make&& make) {
  char text[64];
  for (auto _ : state) {
    char* end = make(text);
    benchmark::DoNotOptimize(end);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_UuidV4_NewText(benchmark::State& state) {
  new_with_text(state, [](char* out) { return format_to(Uuid::v4(SystemRandom::instance()), out); });
}
BENCHMARK(BM_UuidV4_NewText);

void BM_UuidV7_NewText(benchmark::State& state) {
  SystemClock clock;
  auto gen = UuidV7Generator::create({}, clock, SystemRandom::instance()).value();
  new_with_text(state, [&gen](char* out) { return format_to(gen->next().value(), out); });
}
BENCHMARK(BM_UuidV7_NewText);

void BM_Ulid_NewText(benchmark::State& state) {
  SystemClock clock;
  auto gen = UlidGenerator::create({}, clock, SystemRandom::instance()).value();
  new_with_text(state, [&gen](char* out) { return format_to(gen->next().value(), out); });
}
BENCHMARK(BM_Ulid_NewText);

void BM_ObjectId_NewText(benchmark::State& state) {
  SystemClock clock;
  auto gen = ObjectIdGenerator::create({}, clock, SystemRandom::instance()).value();
  new_with_text(state, [&gen](char* out) { return format_to(gen->next().value(), out); });
}
BENCHMARK(BM_ObjectId_NewText);

void BM_Ksuid_NewText(benchmark::State& state) {
  SystemClock clock;
  auto gen = KsuidGenerator::create({}, clock, SystemRandom::instance()).value();
  new_with_text(state, [&gen](char* out) { return format_to(gen->next().value(), out); });
}
BENCHMARK(BM_Ksuid_NewText);

void BM_Flake128_NewText(benchmark::State& state) {
  SystemClock clock;
  MemoryReservation worker(1);
  auto gen = Flake128Generator::create({}, clock, worker).value();
  new_with_text(state, [&gen](char* out) { return format_to(gen->next().value(), out); });
}
BENCHMARK(BM_Flake128_NewText);

// The text forms alone, and a generator's next() alone, to see where time goes.
void BM_Uuid_TextOnly(benchmark::State& state) {
  const Uuid u = Uuid::v4(SystemRandom::instance());
  new_with_text(state, [&u](char* out) { return format_to(u, out); });
}
BENCHMARK(BM_Uuid_TextOnly);

void BM_Ulid_TextOnly(benchmark::State& state) {
  SeededRandom random(1);
  const Ulid u = Ulid::random(1767225600000, random).value();
  new_with_text(state, [&u](char* out) { return format_to(u, out); });
}
BENCHMARK(BM_Ulid_TextOnly);

void BM_Ksuid_TextOnly(benchmark::State& state) {
  SeededRandom random(1);
  const Ksuid k = Ksuid::random(1767225600, random).value();
  new_with_text(state, [&k](char* out) { return format_to(k, out); });
}
BENCHMARK(BM_Ksuid_TextOnly);

void BM_UlidGenerator_NextOnly(benchmark::State& state) {
  SystemClock clock;
  auto gen = UlidGenerator::create({}, clock, SystemRandom::instance()).value();
  for (auto _ : state) benchmark::DoNotOptimize(gen->next().value());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UlidGenerator_NextOnly);

// libuuid's random UUID with its text, the same work as BM_UuidV4_NewText.
void BM_Libuuid_RandomText(benchmark::State& state) {
  new_with_text(state, [](char* out) {
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
    return out + 36;
  });
}
BENCHMARK(BM_Libuuid_RandomText);

// Parsers, over 1024 different IDs.
template <class Parse>
void parse_each(benchmark::State& state, const std::vector<std::string>& texts, Parse&& parse) {
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(parse(texts[i++ & 1023]).value());
  state.SetItemsProcessed(state.iterations());
}

template <class Make>
std::vector<std::string> texts_of(Make&& make) {
  std::vector<std::string> texts;
  for (int i = 0; i < 1024; ++i) texts.push_back(to_string(make()));
  return texts;
}

void BM_Parse_Ulid(benchmark::State& state) {
  SeededRandom random(1);
  parse_each(state, texts_of([&] { return Ulid::random(1767225600000, random).value(); }),
             [](const std::string& t) { return parse_ulid(t); });
}
BENCHMARK(BM_Parse_Ulid);

void BM_Parse_Uuid(benchmark::State& state) {
  SeededRandom random(2);
  parse_each(state, texts_of([&] { return Uuid::v4(random); }), [](const std::string& t) { return parse_uuid(t, 4); });
}
BENCHMARK(BM_Parse_Uuid);

void BM_Parse_ObjectId(benchmark::State& state) {
  SeededRandom random(3);
  parse_each(state, texts_of([&] {
               ObjectId o;
               random.fill(o.bytes);
               return o;
             }),
             [](const std::string& t) { return parse_object_id(t); });
}
BENCHMARK(BM_Parse_ObjectId);

void BM_Parse_Ksuid(benchmark::State& state) {
  SeededRandom random(4);
  parse_each(state, texts_of([&] { return Ksuid::random(1767225600, random).value(); }),
             [](const std::string& t) { return parse_ksuid(t); });
}
BENCHMARK(BM_Parse_Ksuid);

void BM_Parse_Flake128(benchmark::State& state) {
  SeededRandom random(5);
  parse_each(state, texts_of([&] { return Flake128::compose(1767225600000, random.next_u64() >> 16, 7); }),
             [](const std::string& t) { return parse_flake128(t); });
}
BENCHMARK(BM_Parse_Flake128);

}  // namespace
