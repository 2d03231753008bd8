// SPDX-License-Identifier: Apache-2.0
// Reporter: a part of the service that shows its state in /metrics and /v1/info
// (the audit log, the clock's health).
//
// Thread safety: both calls come from any event loop at any time.
#ifndef IDFORGE_SERVER_REPORTER_H_
#define IDFORGE_SERVER_REPORTER_H_

#include <string>

#include <nlohmann/json.hpp>

#include "server/buffer.h"

namespace idforge::detail {

class Reporter {
 public:
  virtual ~Reporter() = default;
  // The key of this part's object in /v1/info ("audit", "clock").
  virtual std::string info_key() const = 0;
  // That object.
  virtual nlohmann::ordered_json info() const = 0;
  // Appends this part's families in Prometheus text.
  virtual void render_metrics(Buffer& out) const = 0;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_REPORTER_H_
