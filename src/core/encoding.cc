// SPDX-License-Identifier: Apache-2.0
#include "idforge/encoding.h"

#include <array>
#include <cstring>

#include "core/text.h"

namespace idforge {
namespace {

using detail::cat;

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr char kBase32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr char kBase58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr char kHex[] = "0123456789abcdef";
constexpr std::size_t kHexWidth = 16;
constexpr std::size_t kBase62Width = 11;
constexpr std::size_t kBase32Width = 13;
constexpr std::size_t kBase58MaxWidth = 11;

// Maps a character to its digit value, or 0xff when it is not in the alphabet.
using DigitTable = std::array<std::uint8_t, 256>;

constexpr DigitTable make_table(std::string_view alphabet, bool fold_case) {
  DigitTable table{};
  table.fill(0xff);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    const char c = alphabet[i];
    table[static_cast<unsigned char>(c)] = static_cast<std::uint8_t>(i);
    if (fold_case && c >= 'A' && c <= 'Z') table[static_cast<unsigned char>(c - 'A' + 'a')] = static_cast<std::uint8_t>(i);
  }
  return table;
}

constexpr DigitTable kBase62Digits = make_table(kBase62, false);
constexpr DigitTable kBase32Digits = make_table(kBase32, true);
constexpr DigitTable kBase58Digits = make_table(kBase58, false);
constexpr DigitTable kHexDigits = make_table("0123456789ABCDEF", true);

// Two decimal digits per step, from a 200-byte table.
constexpr std::array<char, 200> make_pairs() {
  std::array<char, 200> pairs{};
  for (int i = 0; i < 100; ++i) {
    pairs[static_cast<std::size_t>(2 * i)] = static_cast<char>('0' + i / 10);
    pairs[static_cast<std::size_t>(2 * i + 1)] = static_cast<char>('0' + i % 10);
  }
  return pairs;
}
constexpr std::array<char, 200> kDigitPairs = make_pairs();

std::size_t decimal_width(std::uint64_t v) {
  std::size_t n = 1;
  for (std::uint64_t p = 10; n < 20 && v >= p; p *= 10) ++n;
  return n;
}

char* encode_decimal(std::uint64_t v, char* out) {
  const std::size_t width = decimal_width(v);
  char* p = out + width;
  while (v >= 100) {
    const std::size_t pair = static_cast<std::size_t>(v % 100) * 2;
    v /= 100;
    *--p = kDigitPairs[pair + 1];
    *--p = kDigitPairs[pair];
  }
  if (v >= 10) {
    *--p = kDigitPairs[v * 2 + 1];
    *--p = kDigitPairs[v * 2];
  } else {
    *--p = static_cast<char>('0' + v);
  }
  return out + width;
}

// Fixed-width big-endian digits in a power-of-two base.
char* encode_bits(std::uint64_t v, const char* alphabet, int bits_per_digit, std::size_t width, char* out) {
  const std::uint64_t mask = (1ULL << bits_per_digit) - 1;
  for (std::size_t i = width; i-- > 0;) {
    out[i] = alphabet[v & mask];
    v >>= bits_per_digit;
  }
  return out + width;
}

char* encode_base62(std::uint64_t v, char* out) {
  for (std::size_t i = kBase62Width; i-- > 0;) {
    out[i] = kBase62[v % 62];
    v /= 62;
  }
  return out + kBase62Width;
}

char* encode_base58(std::uint64_t v, char* out) {
  char tmp[kBase58MaxWidth];
  std::size_t n = 0;
  do {
    tmp[kBase58MaxWidth - ++n] = kBase58[v % 58];
    v /= 58;
  } while (v != 0);
  std::memcpy(out, tmp + kBase58MaxWidth - n, n);
  return out + n;
}

Error bad(std::string_view text, Encoding encoding, std::string_view why) {
  return Error(Errc::invalid_argument, cat("'", text, "' is not a ", to_string(encoding), " ID: ", why));
}

// Reads digits of any base from a table, refusing unknown characters and overflow.
Result<std::uint64_t> parse_digits(std::string_view text, Encoding encoding, const DigitTable& table,
                                   std::uint64_t base) {
  std::uint64_t value = 0;
  for (char c : text) {
    const std::uint8_t digit = table[static_cast<unsigned char>(c)];
    if (digit == 0xff) return bad(text, encoding, cat("character '", c, "' is not in its alphabet"));
    if (__builtin_mul_overflow(value, base, &value) || __builtin_add_overflow(value, digit, &value)) {
      return bad(text, encoding, "the value exceeds 2^64-1");
    }
  }
  return value;
}

Result<std::uint64_t> check_width(std::string_view text, Encoding encoding, std::size_t width) {
  if (text.size() != width) return bad(text, encoding, cat("expected exactly ", width, " characters, got ", text.size()));
  return std::uint64_t{0};
}

}  // namespace

std::string_view to_string(Encoding encoding) {
  switch (encoding) {
    case Encoding::decimal: return "dec";
    case Encoding::hex: return "hex";
    case Encoding::base62: return "base62";
    case Encoding::base32: return "base32";
    case Encoding::base58: return "base58";
  }
  return "unknown";
}

TextWidth text_width(Encoding encoding) {
  switch (encoding) {
    case Encoding::decimal: return {1, kMaxEncodedLength};
    case Encoding::hex: return {kHexWidth, kHexWidth};
    case Encoding::base62: return {kBase62Width, kBase62Width};
    case Encoding::base32: return {kBase32Width, kBase32Width};
    case Encoding::base58: return {1, kBase58MaxWidth};
  }
  return {};
}

std::span<const Encoding> all_encodings() {
  static constexpr Encoding all[] = {Encoding::decimal, Encoding::hex, Encoding::base62, Encoding::base32,
                                     Encoding::base58};
  return all;
}

Result<Encoding> parse_encoding(std::string_view name) {
  for (Encoding e : all_encodings()) {
    if (to_string(e) == name) return e;
  }
  return Error(Errc::invalid_argument,
               cat("unknown encoding '", name, "': use dec, hex, base62, base32 or base58"));
}

char* encode_to(std::uint64_t value, Encoding encoding, char* out) {
  switch (encoding) {
    case Encoding::decimal: return encode_decimal(value, out);
    case Encoding::hex: return encode_bits(value, kHex, 4, kHexWidth, out);
    case Encoding::base62: return encode_base62(value, out);
    case Encoding::base32: return encode_bits(value, kBase32, 5, kBase32Width, out);
    case Encoding::base58: return encode_base58(value, out);
  }
  return out;
}

std::string encode(std::uint64_t value, Encoding encoding) {
  char buf[kMaxEncodedLength];
  return {buf, encode_to(value, encoding, buf)};
}

Result<std::uint64_t> parse_id(std::string_view text, Encoding encoding) {
  switch (encoding) {
    case Encoding::decimal: {
      if (text.empty() || text.size() > 20) return bad(text, encoding, "expected 1 to 20 digits");
      if (text.size() > 1 && text[0] == '0') return bad(text, encoding, "leading zeros are not canonical");
      static constexpr DigitTable digits = make_table("0123456789", false);
      return parse_digits(text, encoding, digits, 10);
    }
    case Encoding::hex: {
      if (auto w = check_width(text, encoding, kHexWidth); !w) return w;
      return parse_digits(text, encoding, kHexDigits, 16);
    }
    case Encoding::base62: {
      if (auto w = check_width(text, encoding, kBase62Width); !w) return w;
      return parse_digits(text, encoding, kBase62Digits, 62);
    }
    case Encoding::base32: {
      if (auto w = check_width(text, encoding, kBase32Width); !w) return w;
      return parse_digits(text, encoding, kBase32Digits, 32);
    }
    case Encoding::base58: {
      if (text.empty() || text.size() > kBase58MaxWidth) {
        return bad(text, encoding, cat("expected 1 to ", kBase58MaxWidth, " characters"));
      }
      if (text.size() > 1 && text[0] == '1') return bad(text, encoding, "leading '1' digits are not canonical");
      return parse_digits(text, encoding, kBase58Digits, 58);
    }
  }
  return bad(text, encoding, "unknown encoding");
}

}  // namespace idforge
