// SPDX-License-Identifier: Apache-2.0
// Strict parsing of every wide text form: each malformed input is refused with a
// reason, never guessed at.
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "idforge/decoder.h"

namespace idforge {
namespace {

// Expects `r` to fail with invalid_argument and a message containing `why`.
template <class T>
void refused(const Result<T>& r, std::string_view why) {
  ASSERT_FALSE(r) << "accepted";
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
}

TEST(ParseUlid, RefusesBadInput) {
  refused(parse_ulid(""), "0 characters long, not 26");
  refused(parse_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA"), "25 characters long");
  refused(parse_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAVV"), "27 characters long");
  refused(parse_ulid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"), "above 7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
  refused(parse_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAI"), "character 26 ('I')");
  refused(parse_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAL"), "('L')");
  refused(parse_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAO"), "('O')");
  refused(parse_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAU"), "('U')");
  refused(parse_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA "), "(' ')");
  refused(parse_ulid(std::string_view("01ARZ3NDEKTSV4RRFFQ69G5FA\0", 26)), "('\\x00')");
  refused(parse_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA\xc3"), "('\\xc3')");
}

TEST(ParseUuid, RefusesBadInput) {
  refused(parse_uuid("919108f752d143209bacf847db4148a8"), "32 characters long, not 36");
  refused(parse_uuid("{919108f7-52d1-4320-9bac-f847db4148a8}"), "38 characters long");
  refused(parse_uuid("919108f7-52d14-320-9bac-f847db4148a8"), "expected the form");
  refused(parse_uuid("919108f7-52d1-4320-9bac-f847db4148ag"), "character 36 ('g') is not a hex digit");
  refused(parse_uuid("919108f7+52d1-4320-9bac-f847db4148a8"), "expected the form");
  refused(parse_uuid("919108f7-52d1-4320-9bac-f847db4148a8", 7), "version is 4");
  refused(parse_uuid("017f22e2-79b0-7cc3-98c4-dc0c0c07398f", 4), "version is 7");
  refused(parse_uuid("919108f7-52d1-4320-cbac-f847db4148a8", 4), "variant");
  refused(parse_uuid("919108f7-52d1-4320-1bac-f847db4148a8", 4), "variant");
  refused(parse_uuid("00000000-0000-0000-0000-000000000000", 4), "version is 0");
}

TEST(ParseUuid, WithoutAVersionAnyVersionAndVariantParse) {
  EXPECT_TRUE(parse_uuid("00000000-0000-0000-0000-000000000000"));
  EXPECT_TRUE(parse_uuid("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"));
  EXPECT_EQ(parse_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8")->version(), 1);
}

TEST(ParseObjectId, RefusesBadInput) {
  refused(parse_object_id("507f1f77bcf86cd79943901"), "23 characters long, not 24");
  refused(parse_object_id("507f1f77bcf86cd7994390111"), "25 characters long");
  refused(parse_object_id("507f1f77bcf86cd79943901z"), "character 24 ('z')");
  refused(parse_object_id("x07f1f77bcf86cd799439011"), "character 1 ('x')");
  refused(parse_object_id("-07f1f77bcf86cd799439011"), "character 1 ('-')");
}

// The hex parsers test eight characters at once with byte-wise arithmetic; every
// byte value, at every position of a word, must be judged as a table would.
TEST(ParseHex, EveryByteValueAtEveryPositionIsJudgedExactly) {
  const std::string valid = "0123456789abcdefABCDEF01";
  for (std::size_t at = 0; at < 8; ++at) {
    for (int c = 0; c < 256; ++c) {
      std::string oid = valid;
      oid[at] = static_cast<char>(c);
      const bool hex = std::isxdigit(c) != 0;
      const Result<ObjectId> parsed = parse_object_id(oid);
      ASSERT_EQ(parsed.has_value(), hex) << "byte " << c << " at " << at;
      if (hex) {
        EXPECT_EQ(to_string(*parsed)[at], static_cast<char>(std::tolower(c)));
      }
      std::string uuid = "01234567-89ab-cdef-89ab-0123456789ab";
      uuid[at < 4 ? 9 + at : 10 + at] = static_cast<char>(c);  // Straddles the dash at 13.
      ASSERT_EQ(parse_uuid(uuid).has_value(), hex) << "byte " << c << " in " << uuid;
    }
  }
}

TEST(ParseKsuid, RefusesBadInput) {
  refused(parse_ksuid("aWgEPTl1tmebfsQzFP4bxwgy80W"), "above aWgEPTl1tmebfsQzFP4bxwgy80V");
  refused(parse_ksuid("zzzzzzzzzzzzzzzzzzzzzzzzzzz"), "above");
  refused(parse_ksuid("0ujtsYcgvSTl8PAuAdqWYSMnLO"), "26 characters long, not 27");
  refused(parse_ksuid("0ujtsYcgvSTl8PAuAdqWYSMnLO-"), "character 27 ('-') is not base62");
  refused(parse_ksuid("0ujtsYcgvSTl8PAuAdqWYSMnLO_"), "('_')");
}

TEST(ParseFlake128, RefusesBadInput) {
  refused(parse_flake128("000001563df3648100000000002a000"), "31 characters long, not 32");
  refused(parse_flake128("000001563df3648100000000002a0007 "), "33 characters long");
  refused(parse_flake128("000001563df3648100000000002a000G"), "character 32 ('G')");
}

TEST(Decoder, AmbiguousTextListsTheCandidates) {
  // 16 digits read as decimal and as hex; 13 as decimal and base32; 11 as decimal and base62.
  Result<DecodedId> d = decode("1234567890123456", Layout::twitter());
  refused(d, "ambiguous");
  EXPECT_NE(d.error().message().find("snowflake, snowflake (hex)"), std::string::npos) << d.error().message();
  refused(decode("1234567890123", Layout::twitter()), "snowflake, snowflake (base32)");
  refused(decode("12345678901", Layout::twitter()), "snowflake, snowflake (base62)");
  EXPECT_EQ(decode_candidates("1234567890123456", Layout::twitter()).size(), 2u);
}

TEST(Decoder, Base58OnlyWhenAskedFor) {
  // "nope" is valid base58, but a word is not taken for an ID unless asked.
  refused(decode("nope", Layout::twitter()), "not a dec ID");
  Result<DecodedId> d = decode_as("nope", Format::snowflake, Layout::twitter(), Encoding::base58);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->describe(), "snowflake (base58)");
}

TEST(Decoder, TypicalSnowflakeIsUnambiguous) {
  Result<DecodedId> d = decode("175928847299117063", Layout::discord());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->format, Format::snowflake);
  EXPECT_EQ(std::get<std::uint64_t>(d->value), 175928847299117063u);
  EXPECT_EQ(d->unix_ms, 1462015105796);
}

TEST(Decoder, DecodeAsPinsTheReading) {
  Result<DecodedId> hex = decode_as("1234567890123456", Format::snowflake, Layout::twitter(), Encoding::hex);
  ASSERT_TRUE(hex);
  EXPECT_EQ(std::get<std::uint64_t>(hex->value), 0x1234567890123456u);
  EXPECT_EQ(hex->describe(), "snowflake (hex)");
  refused(decode_as("919108f7-52d1-4320-9bac-f847db4148a8", Format::uuidv7, Layout::twitter()), "version is 4");
  refused(decode_as("01ARZ3NDEKTSV4RRFFQ69G5FAV", Format::ksuid, Layout::twitter()), "not a KSUID");
}

TEST(Decoder, ExplainsWhyNothingFits) {
  refused(decode("6ba7b810-9dad-11d1-80b4-00c04fd430c8", Layout::twitter()), "a UUID of version 1");
  refused(decode("6ba7b810-9dad-11d1-80b4-00c04fd430cx", Layout::twitter()), "is not a hex digit");
  refused(decode("8ZZZZZZZZZZZZZZZZZZZZZZZZZ", Layout::twitter()), "above 7ZZZ");
  refused(decode("hello, world", Layout::twitter()), "not in its alphabet");
  refused(decode(std::string(50, 'x'), Layout::twitter()), "50 characters long");
  refused(decode("", Layout::twitter()), "not a dec ID");
}

}  // namespace
}  // namespace idforge
