// SPDX-License-Identifier: Apache-2.0
#include "server/log.h"

#include <unistd.h>

#include <string>

#include "idforge/clock.h"
#include "idforge/time_text.h"

namespace idforge::detail {

void log(LogLevel level, std::string_view msg, const nlohmann::ordered_json& fields) {
  static constexpr std::string_view kLevels[] = {"info", "warn", "error"};
  static SystemClock clock;  // Calibrated once: constructing one costs ~2 ms.
  nlohmann::ordered_json line;
  line["ts"] = format_utc_ms(clock.wall_ns() / 1'000'000);
  line["level"] = kLevels[static_cast<int>(level)];
  line["msg"] = msg;
  for (const auto& [key, value] : fields.items()) line[key] = value;
  std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text += '\n';
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace idforge::detail
