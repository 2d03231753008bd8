// SPDX-License-Identifier: Apache-2.0
#include "idforge/encoding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "support/testdata.h"

namespace idforge {
namespace {

TEST(Encoding, MatchesIndependentVectors) {
  const auto records = testing::read_records("encoding_vectors.txt");
  ASSERT_GE(records.size(), 30u);
  for (const auto& r : records) {
    const std::uint64_t value = std::stoull(r.at(0));
    for (std::size_t i = 0; i < all_encodings().size(); ++i) {
      const Encoding e = all_encodings()[i];
      EXPECT_EQ(encode(value, e), r.at(i + 1)) << to_string(e) << " " << value;
      EXPECT_EQ(parse_id(r.at(i + 1), e).value(), value) << to_string(e) << " " << r.at(i + 1);
    }
  }
}

TEST(Encoding, RoundTripsRandomValuesAndEdges) {
  std::mt19937_64 rng(42);
  std::vector<std::uint64_t> values = {0, 1, (1ULL << 63) - 1, 1ULL << 63, ~0ULL};
  for (int i = 0; i < 200'000; ++i) values.push_back(rng() >> (rng() % 64));
  for (Encoding e : all_encodings()) {
    for (std::uint64_t v : values) {
      const std::string text = encode(v, e);
      ASSERT_LE(text.size(), kMaxEncodedLength);
      ASSERT_EQ(parse_id(text, e).value(), v) << to_string(e) << " " << text;
    }
  }
}

TEST(Encoding, FixedWidthFormsSortLikeTheNumbers) {
  std::mt19937_64 rng(9);
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 20'000; ++i) values.push_back(rng() >> (rng() % 64));
  std::sort(values.begin(), values.end());
  for (Encoding e : {Encoding::hex, Encoding::base62, Encoding::base32}) {
    std::vector<std::string> texts;
    for (std::uint64_t v : values) texts.push_back(encode(v, e));
    EXPECT_TRUE(std::is_sorted(texts.begin(), texts.end())) << to_string(e);
    EXPECT_EQ(texts.front().size(), texts.back().size()) << to_string(e);
  }
}

TEST(Encoding, AcceptsEitherCaseWhereTheFormIsCaseless) {
  EXPECT_EQ(parse_id("00000000000000FF", Encoding::hex).value(), 255u);
  EXPECT_EQ(parse_id("000000000000z", Encoding::base32).value(), 31u);
}

TEST(Encoding, RefusesNonCanonicalOrForeignText) {
  const std::pair<Encoding, const char*> cases[] = {
      {Encoding::decimal, ""},
      {Encoding::decimal, "01"},
      {Encoding::decimal, "-1"},
      {Encoding::decimal, "+5"},
      {Encoding::decimal, " 5"},
      {Encoding::decimal, "5 "},
      {Encoding::decimal, "1e3"},
      {Encoding::decimal, "0x10"},
      {Encoding::decimal, "18446744073709551616"},
      {Encoding::decimal, "99999999999999999999"},
      {Encoding::decimal, "123456789012345678901"},
      {Encoding::hex, "ff"},
      {Encoding::hex, "0x00000000000000ff"},
      {Encoding::hex, "000000000000000g"},
      {Encoding::hex, "00000000000000000"},
      {Encoding::base62, "0000000000"},
      {Encoding::base62, "000000000000"},
      {Encoding::base62, "zzzzzzzzzzz"},
      {Encoding::base62, "0000000000-"},
      {Encoding::base32, "000000000000I"},
      {Encoding::base32, "000000000000L"},
      {Encoding::base32, "000000000000O"},
      {Encoding::base32, "000000000000U"},
      {Encoding::base32, "G000000000000"},
      {Encoding::base32, "000000000000"},
      {Encoding::base58, ""},
      {Encoding::base58, "0"},
      {Encoding::base58, "O"},
      {Encoding::base58, "I"},
      {Encoding::base58, "l"},
      {Encoding::base58, "12"},
      {Encoding::base58, "zzzzzzzzzzz"},
      {Encoding::base58, "222222222222"},
  };
  for (const auto& [e, text] : cases) {
    Result<std::uint64_t> v = parse_id(text, e);
    ASSERT_FALSE(v) << to_string(e) << " '" << text << "' parsed as " << (v ? *v : 0);
    EXPECT_EQ(v.error().code(), Errc::invalid_argument);
    EXPECT_NE(v.error().message().find(to_string(e)), std::string::npos);
  }
}

TEST(Encoding, NamesRoundTrip) {
  for (Encoding e : all_encodings()) EXPECT_EQ(parse_encoding(to_string(e)).value(), e);
  EXPECT_FALSE(parse_encoding("base64"));
  EXPECT_FALSE(parse_encoding("DEC"));
}

}  // namespace
}  // namespace idforge
