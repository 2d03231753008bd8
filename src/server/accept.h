// SPDX-License-Identifier: Apache-2.0
// Content negotiation and the header-value helpers the HTTP server shares.
//
// prefers_text() reads an Accept value as RFC 9110 §12.5.1 has it: each media
// range with its q-value; for text/plain and application/json the most specific
// range that covers each decides its q-value. text/plain wins on a higher q, then
// on a more specific range, then on coming first; "*/*" and an empty value mean
// JSON, the service's default.
//
// Thread safety: pure functions.
#ifndef IDFORGE_SERVER_ACCEPT_H_
#define IDFORGE_SERVER_ACCEPT_H_

#include <string_view>

namespace idforge::detail {

// True when `accept` ranks text/plain above application/json.
bool prefers_text(std::string_view accept);

// `s` without leading and trailing spaces and tabs.
std::string_view trim(std::string_view s);

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_ACCEPT_H_
