// SPDX-License-Identifier: Apache-2.0
#include "server/accept.h"

#include <algorithm>
#include <cctype>

namespace idforge::detail {
namespace {

// How well one Accept media range matches a type: its q-value, how specific the
// match is (2 exact, 1 "type/*", 0 "*/*"), and where it stands in the header.
struct Match {
  int q_thousandths = -1;  // -1: no range matches.
  int specificity = -1;
  std::size_t position = 0;
};

// A q-value ("1", "0.5", "1.000") in thousandths, or -1 when malformed (RFC 9110 §12.4.2).
int parse_q(std::string_view q) {
  if (q.empty() || (q[0] != '0' && q[0] != '1') || q.size() > 5 || (q.size() > 1 && q[1] != '.')) return -1;
  int value = (q[0] - '0') * 1000;
  for (std::size_t i = 2, scale = 100; i < q.size(); ++i, scale /= 10) {
    if (q[i] < '0' || q[i] > '9') return -1;
    value += (q[i] - '0') * static_cast<int>(scale);
  }
  return value > 1000 ? -1 : value;
}

// The best match for `type`/`subtype` in an Accept value: the most specific range
// that covers it decides its q-value.
Match best_match(std::string_view accept, std::string_view type, std::string_view subtype) {
  Match best;
  std::size_t position = 0;
  for (std::size_t start = 0; start <= accept.size(); ++position) {
    const std::size_t comma = std::min(accept.find(',', start), accept.size());
    std::string_view element = accept.substr(start, comma - start);
    start = comma + 1;
    const std::size_t semicolon = element.find(';');
    const std::string_view range = trim(element.substr(0, semicolon));
    const std::size_t slash = range.find('/');
    if (slash == std::string_view::npos) continue;
    const std::string_view t = range.substr(0, slash), sub = range.substr(slash + 1);
    int specificity = -1;
    if (t == "*" && sub == "*") specificity = 0;
    else if (iequals(t, type) && sub == "*") specificity = 1;
    else if (iequals(t, type) && iequals(sub, subtype)) specificity = 2;
    if (specificity < best.specificity || specificity < 0) continue;
    int q = 1000;
    for (std::string_view params = semicolon == std::string_view::npos ? "" : element.substr(semicolon + 1);
         !params.empty();) {
      const std::size_t next = std::min(params.find(';'), params.size());
      const std::string_view param = trim(params.substr(0, next));
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') q = parse_q(param.substr(2));
      params.remove_prefix(std::min(next + 1, params.size()));
    }
    if (q < 0) continue;
    if (specificity > best.specificity) best = {q, specificity, position};
  }
  return best;
}

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// True when the Accept value ranks text/plain above application/json. Equal
// ranks go to the more specific range, then to the one listed first; "*/*" and
// an absent header mean JSON.
bool prefers_text(std::string_view accept) {
  const Match text = best_match(accept, "text", "plain");
  const Match json = best_match(accept, "application", "json");
  if (text.q_thousandths <= 0) return false;
  if (text.q_thousandths != json.q_thousandths) return text.q_thousandths > json.q_thousandths;
  if (text.specificity != json.specificity) return text.specificity > json.specificity;
  return text.specificity > 0 && text.position < json.position;
}

}  // namespace idforge::detail
