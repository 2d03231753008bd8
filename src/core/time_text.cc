#include "idforge/time_text.h"

#include <chrono>

#include "core/text.h"

namespace idforge {
namespace {

using std::chrono::day;
using std::chrono::days;
using std::chrono::month;
using std::chrono::sys_days;
using std::chrono::year;
using std::chrono::year_month_day;

constexpr std::int64_t kMsPerDay = 86'400'000;

char* put_digits(char* out, std::int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

// Reads exactly `width` digits at `text[pos]`.
std::optional<int> digits_at(std::string_view text, std::size_t pos, std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

Error bad_instant(std::string_view text) {
  return Error(Errc::invalid_argument,
               detail::cat("'", text, "' is not a UTC instant: use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or ",
                           "YYYY-MM-DDTHH:MM:SS.mmmZ"));
}

}  // namespace

char* format_utc_ms_to(std::int64_t unix_ms, char* out) {
  if (unix_ms < kMinPrintableUnixMs || unix_ms > kMaxPrintableUnixMs) detail::die("format_utc_ms: out of range");
  const std::int64_t day_number = detail::floor_div(unix_ms, kMsPerDay);
  std::int64_t ms_of_day = unix_ms - day_number * kMsPerDay;
  const year_month_day ymd{sys_days{days{day_number}}};
  out = put_digits(out, static_cast<int>(ymd.year()), 4);
  *out++ = '-';
  out = put_digits(out, static_cast<unsigned>(ymd.month()), 2);
  *out++ = '-';
  out = put_digits(out, static_cast<unsigned>(ymd.day()), 2);
  *out++ = 'T';
  out = put_digits(out, ms_of_day / 3'600'000, 2);
  *out++ = ':';
  out = put_digits(out, ms_of_day / 60'000 % 60, 2);
  *out++ = ':';
  out = put_digits(out, ms_of_day / 1000 % 60, 2);
  *out++ = '.';
  out = put_digits(out, ms_of_day % 1000, 3);
  *out++ = 'Z';
  return out;
}

std::string format_utc_ms(std::int64_t unix_ms) {
  std::string text(kUtcTextLength, '\0');
  format_utc_ms_to(unix_ms, text.data());
  return text;
}

Result<std::int64_t> parse_utc_ms(std::string_view text) {
  const bool date_only = text.size() == 10;
  const bool seconds = text.size() == 20;
  const bool millis = text.size() == 24;
  if (!date_only && !seconds && !millis) return bad_instant(text);
  auto y = digits_at(text, 0, 4);
  auto mo = digits_at(text, 5, 2);
  auto d = digits_at(text, 8, 2);
  if (!y || !mo || !d || text[4] != '-' || text[7] != '-') return bad_instant(text);
  const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return bad_instant(text);
  std::int64_t ms = static_cast<std::int64_t>(sys_days{ymd}.time_since_epoch().count()) * kMsPerDay;
  if (date_only) return ms;
  auto h = digits_at(text, 11, 2);
  auto mi = digits_at(text, 14, 2);
  auto s = digits_at(text, 17, 2);
  if (!h || !mi || !s || text[10] != 'T' || text[13] != ':' || text[16] != ':' || *h > 23 || *mi > 59 || *s > 59) {
    return bad_instant(text);
  }
  ms += (*h * 3600 + *mi * 60 + *s) * std::int64_t{1000};
  if (seconds) return text[19] == 'Z' ? Result<std::int64_t>(ms) : bad_instant(text);
  auto frac = digits_at(text, 20, 3);
  if (text[19] != '.' || !frac || text[23] != 'Z') return bad_instant(text);
  return ms + *frac;
}

}  // namespace idforge
