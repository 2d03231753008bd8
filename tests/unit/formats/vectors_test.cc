// SPDX-License-Identifier: Apache-2.0
// Spec examples (tests/testdata/wide_vectors.txt): each text parses to the expected
// bytes and instant, prints back canonically, and the decoder recognises its format.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "idforge/decoder.h"
#include "support/testdata.h"

namespace idforge {
namespace {

using testing::hex;

struct Vector {
  std::string format, text, bytes, unix_ms;
};

std::vector<Vector> vectors() {
  std::vector<Vector> out;
  for (const auto& r : testing::read_records("wide_vectors.txt")) out.push_back({r.at(0), r.at(1), r.at(2), r.at(3)});
  return out;
}

// Parses with the format's own parser and prints it back; returns the bytes as hex.
std::string parse_and_print(const Vector& v, std::string& printed) {
  if (v.format == "ulid") {
    Ulid u = parse_ulid(v.text).value();
    printed = to_string(u);
    return hex(u.bytes);
  }
  if (v.format == "uuidv4" || v.format == "uuidv7") {
    Uuid u = parse_uuid(v.text, v.format == "uuidv4" ? 4 : 7).value();
    printed = to_string(u);
    return hex(u.bytes);
  }
  if (v.format == "objectid") {
    ObjectId o = parse_object_id(v.text).value();
    printed = to_string(o);
    return hex(o.bytes);
  }
  if (v.format == "ksuid") {
    Ksuid k = parse_ksuid(v.text).value();
    printed = to_string(k);
    return hex(k.bytes);
  }
  Flake128 f = parse_flake128(v.text).value();
  printed = to_string(f);
  return hex(f.bytes);
}

TEST(WideVectors, FileHasEveryFormat) {
  std::set<std::string> formats;
  for (const Vector& v : vectors()) formats.insert(v.format);
  EXPECT_EQ(formats, (std::set<std::string>{"ulid", "uuidv4", "uuidv7", "objectid", "ksuid", "flake128"}));
}

TEST(WideVectors, ParseGivesBytesAndPrintsBackCanonically) {
  for (const Vector& v : vectors()) {
    SCOPED_TRACE(v.format + " " + v.text);
    std::string printed;
    EXPECT_EQ(parse_and_print(v, printed), v.bytes);
    EXPECT_EQ(printed, v.text);
  }
}

TEST(WideVectors, DecoderDetectsTheFormatAndInstant) {
  for (const Vector& v : vectors()) {
    SCOPED_TRACE(v.format + " " + v.text);
    Result<DecodedId> d = decode(v.text, Layout::twitter());
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(to_string(d->format), v.format);
    if (v.unix_ms == "-") {
      EXPECT_FALSE(d->unix_ms.has_value());
    } else {
      EXPECT_EQ(d->unix_ms, std::stoll(v.unix_ms));
    }
  }
}

TEST(WideVectors, OtherCaseParsesToTheSameValue) {
  for (const Vector& v : vectors()) {
    if (v.format == "ksuid") continue;  // base62 is case-sensitive.
    std::string flipped = v.text;
    for (char& c : flipped) c = std::islower(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : static_cast<char>(std::tolower(c));
    Vector w = v;
    w.text = flipped;
    std::string printed;
    EXPECT_EQ(parse_and_print(w, printed), v.bytes) << flipped;
    EXPECT_EQ(printed, v.text);
  }
}

TEST(WideVectors, UlidMonotonicExampleIncrementsByOne) {
  // The spec's monotonic example: …VRZ, …VS0, …VS1 — each random part is the last plus one.
  const Ulid a = parse_ulid("01BX5ZZKBKACTAV9WEVGEMMVRZ").value();
  const Ulid b = parse_ulid("01BX5ZZKBKACTAV9WEVGEMMVS0").value();
  EXPECT_EQ(a.unix_ms(), b.unix_ms());
  EXPECT_LT(a, b);
  EXPECT_EQ(a.bytes[15] + 1, b.bytes[15]);
  EXPECT_TRUE(std::equal(a.bytes.begin(), a.bytes.end() - 1, b.bytes.begin()));
}

}  // namespace
}  // namespace idforge
