// SPDX-License-Identifier: Apache-2.0
// Structured logs: one JSON object per line on standard error, so that journald,
// Docker and log shippers take them as they are.
//
//   {"ts":"2026-11-22T10:00:00.123Z","level":"info","msg":"listening","port":8080}
//
// Thread safety: log() may be called from any thread; each line is written with
// one write(2).
#ifndef IDFORGE_SERVER_LOG_H_
#define IDFORGE_SERVER_LOG_H_

#include <string_view>

#include <nlohmann/json.hpp>

namespace idforge::detail {

enum class LogLevel { info, warn, error };

// Writes one line: ts, level, msg, then `fields` in order.
void log(LogLevel level, std::string_view msg, const nlohmann::ordered_json& fields = nlohmann::ordered_json::object());

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_LOG_H_
