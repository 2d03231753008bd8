// SPDX-License-Identifier: Apache-2.0
#include "idforge/time_text.h"

#include <optional>

#include "core/text.h"

namespace idforge {
namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;
// Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar.
constexpr std::int64_t kEpochShiftDays = 719'468;
constexpr std::int64_t kDaysPer400Years = 146'097;

struct Civil {
  std::int64_t year;
  int month;  // 1-12
  int day;    // 1-31
};

// The date of a day number (days since 1970-01-01), for every int64 day that an
// int64 count of milliseconds can reach. The calendar is cut into 400-year eras
// that start on 1 March, so the leap day ends each era's years.
Civil civil_from_days(std::int64_t days) {
  const std::int64_t z = days + kEpochShiftDays;
  const std::int64_t era = detail::floor_div(z, kDaysPer400Years);
  const std::int64_t day_of_era = z - era * kDaysPer400Years;                      // [0, 146096]
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;  // [0, 399]
  const std::int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t march_month = (5 * day_of_year + 2) / 153;  // [0, 11], 0 = March
  const int day = static_cast<int>(day_of_year - (153 * march_month + 2) / 5 + 1);
  const int month = static_cast<int>(march_month < 10 ? march_month + 3 : march_month - 9);
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

// The inverse of civil_from_days. REQUIRES: a valid date with |year| < 10^9.
std::int64_t days_from_civil(Civil c) {
  const std::int64_t year = c.year - (c.month <= 2 ? 1 : 0);
  const std::int64_t era = detail::floor_div(year, 400);
  const std::int64_t year_of_era = year - era * 400;
  const std::int64_t march_month = c.month > 2 ? c.month - 3 : c.month + 9;
  const std::int64_t day_of_year = (153 * march_month + 2) / 5 + c.day - 1;
  const std::int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * kDaysPer400Years + day_of_era - kEpochShiftDays;
}

bool is_leap(std::int64_t year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

int days_in_month(std::int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

char* put_digits(char* out, std::int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

int digit_count(std::int64_t value) {
  int n = 1;
  while (value >= 10) {
    value /= 10;
    ++n;
  }
  return n;
}

// Reads exactly `width` digits at `text[pos]`.
std::optional<std::int64_t> digits_at(std::string_view text, std::size_t pos, std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  std::int64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = text[pos + i];
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
  std::int64_t day_number = unix_ms / kMsPerDay;
  std::int64_t ms_of_day = unix_ms % kMsPerDay;
  if (ms_of_day < 0) {
    ms_of_day += kMsPerDay;
    --day_number;
  }
  const Civil date = civil_from_days(day_number);
  if (date.year >= 0 && date.year <= 9999) {
    out = put_digits(out, date.year, 4);
  } else {
    *out++ = date.year < 0 ? '-' : '+';
    const std::int64_t magnitude = date.year < 0 ? -date.year : date.year;
    out = put_digits(out, magnitude, std::max(6, digit_count(magnitude)));
  }
  *out++ = '-';
  out = put_digits(out, date.month, 2);
  *out++ = '-';
  out = put_digits(out, date.day, 2);
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
  char text[kMaxUtcTextLength];
  return std::string(text, format_utc_ms_to(unix_ms, text));
}

Result<std::int64_t> parse_utc_ms(std::string_view text) {
  // The year: four digits, or (printed form only) a sign and six to nine digits
  // written as format_utc_ms writes them, for a year outside 0000-9999.
  std::int64_t year = 0;
  std::string_view rest = text;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    std::size_t width = 1;
    while (width < text.size() && width <= 10 && text[width] >= '0' && text[width] <= '9') ++width;
    --width;
    auto magnitude = digits_at(text, 1, width);
    if (!magnitude || width < 6 || width > 9 || (width > 6 && text[1] == '0') || text.size() != 1 + width + 20) {
      return bad_instant(text);
    }
    year = text[0] == '-' ? -*magnitude : *magnitude;
    if (year >= 0 && year <= 9999) return bad_instant(text);  // Four digits print it.
    rest = text.substr(1 + width - 4);  // Keep four characters where the year stood.
  } else {
    auto y = digits_at(text, 0, 4);
    if (!y || (text.size() != 10 && text.size() != 20 && text.size() != 24)) return bad_instant(text);
    year = *y;
  }
  auto month = digits_at(rest, 5, 2);
  auto day = digits_at(rest, 8, 2);
  if (!month || !day || rest[4] != '-' || rest[7] != '-' || *month < 1 || *month > 12 || *day < 1 ||
      *day > days_in_month(year, static_cast<int>(*month))) {
    return bad_instant(text);
  }
  const std::int64_t days = days_from_civil({year, static_cast<int>(*month), static_cast<int>(*day)});
  std::int64_t ms = 0;
  if (rest.size() > 10) {
    auto h = digits_at(rest, 11, 2);
    auto mi = digits_at(rest, 14, 2);
    auto s = digits_at(rest, 17, 2);
    if (!h || !mi || !s || rest[10] != 'T' || rest[13] != ':' || rest[16] != ':' || *h > 23 || *mi > 59 ||
        *s > 59) {
      return bad_instant(text);
    }
    ms = (*h * 3600 + *mi * 60 + *s) * 1000;
    if (rest.size() == 20) {
      if (rest[19] != 'Z') return bad_instant(text);
    } else {
      auto frac = digits_at(rest, 20, 3);
      if (rest[19] != '.' || !frac || rest[23] != 'Z') return bad_instant(text);
      ms += *frac;
    }
  }
  // Before 1970 the day is counted from its end, so that the earliest instants
  // (whose day starts before INT64_MIN ms) do not overflow on the way.
  const bool before_1970 = days < 0;
  std::int64_t total = 0;
  if (__builtin_mul_overflow(days + (before_1970 ? 1 : 0), kMsPerDay, &total) ||
      __builtin_add_overflow(total, ms - (before_1970 ? kMsPerDay : 0), &total)) {
    return Error(Errc::invalid_argument, detail::cat("'", text, "' is outside the instants idforge can hold "
                                                     "(int64 milliseconds: years -292275055 to 292278994)"));
  }
  return total;
}

Result<std::int64_t> parse_instant(std::string_view text) {
  if (auto ms = detail::parse_nonnegative(text)) return *ms;
  Result<std::int64_t> ms = parse_utc_ms(text);
  if (!ms) {
    return Error(Errc::invalid_argument,
                 detail::cat("'", text, "' is not an instant: give Unix milliseconds or a UTC date such as ",
                             "2024-01-01 or 2024-01-01T12:00:00.000Z"));
  }
  return ms;
}

}  // namespace idforge
