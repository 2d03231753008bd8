// SPDX-License-Identifier: Apache-2.0
// Each text form: encode and strict parse, ns per ID.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "idforge/encoding.h"

namespace {

using idforge::Encoding;

std::vector<std::uint64_t> sample_ids() {
  std::mt19937_64 rng(1);
  std::vector<std::uint64_t> ids(1024);
  for (std::uint64_t& id : ids) id = rng() >> 1;  // Snowflake IDs are 63-bit.
  return ids;
}

void BM_Encoding_Encode(benchmark::State& state, Encoding encoding) {
  const std::vector<std::uint64_t> ids = sample_ids();
  char buf[idforge::kMaxEncodedLength];
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(idforge::encode_to(ids[i++ & 1023], encoding, buf));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Encoding_Parse(benchmark::State& state, Encoding encoding) {
  std::vector<std::string> texts;
  for (std::uint64_t id : sample_ids()) texts.push_back(idforge::encode(id, encoding));
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(idforge::parse_id(texts[i++ & 1023], encoding).value());
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(BM_Encoding_Encode, dec, Encoding::decimal);
BENCHMARK_CAPTURE(BM_Encoding_Encode, hex, Encoding::hex);
BENCHMARK_CAPTURE(BM_Encoding_Encode, base62, Encoding::base62);
BENCHMARK_CAPTURE(BM_Encoding_Encode, base32, Encoding::base32);
BENCHMARK_CAPTURE(BM_Encoding_Encode, base58, Encoding::base58);
BENCHMARK_CAPTURE(BM_Encoding_Parse, dec, Encoding::decimal);
BENCHMARK_CAPTURE(BM_Encoding_Parse, hex, Encoding::hex);
BENCHMARK_CAPTURE(BM_Encoding_Parse, base62, Encoding::base62);
BENCHMARK_CAPTURE(BM_Encoding_Parse, base32, Encoding::base32);
BENCHMARK_CAPTURE(BM_Encoding_Parse, base58, Encoding::base58);

}  // namespace
