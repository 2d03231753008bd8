// SPDX-License-Identifier: Apache-2.0
#include "server/api.h"

#include <array>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "idforge/decoder.h"
#include "idforge/time_text.h"
#include "idforge/version.h"
#include "formats/decoded_text.h"
#include "server/query.h"

namespace idforge::detail {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kPrometheus = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kDecodePrefix = "/v1/decode/";

void fail(HttpResponse& response, int status, std::string_view code, std::string_view message) {
  response.status = status;
  response.content_type = kJson;
  write_error_body(*response.body, code, message);
}

// Maps a library error to its answer (docs/api.md, "Errors"); a 503 that a
// retry can cure says when, in `retry_after_s`.
void fail(HttpResponse& response, const Error& error, std::int64_t retry_after_s = 1) {
  switch (error.code()) {
    case Errc::invalid_argument:
      return fail(response, 400, to_string(error.code()), error.message());
    case Errc::overloaded:
    case Errc::clock_regressed:
    case Errc::lease_lost:
    case Errc::unavailable:
    case Errc::io:
      response.retry_after_s = static_cast<int>(retry_after_s);
      return fail(response, 503, to_string(error.code()), error.message());
    case Errc::time_exhausted:
      return fail(response, 503, to_string(error.code()), error.message());
  }
  fail(response, 500, to_string(error.code()), error.message());
}

// The wall-clock steps the Snowflake generator saw, as one histogram labelled by direction.
void append_steps(Buffer& out, const GeneratorStats& s) {
  out.append("# HELP idforge_clock_step_seconds Wall-clock steps (against the boot clock, 1 ms or more) the generator "
             "saw, by direction.\n# TYPE idforge_clock_step_seconds histogram\n");
  auto direction = [&](std::string_view name, const std::array<std::uint64_t, kStepClasses>& classes, std::uint64_t ms) {
    std::uint64_t below = 0;
    for (std::size_t i = 0; i < kStepClasses; ++i) {
      below += classes[i];
      const std::string le = i < kStepBoundsMs.size() ? shortest(static_cast<double>(kStepBoundsMs[i]) / 1000) : "+Inf";
      out.append("idforge_clock_step_seconds_bucket{direction=\"");
      out.append(name);
      out.append("\",le=\"" + le + "\"} " + std::to_string(below) + "\n");
    }
    out.append("idforge_clock_step_seconds_sum{direction=\"" + std::string(name) + "\"} " +
               shortest(static_cast<double>(ms) / 1000) + "\n");
    out.append("idforge_clock_step_seconds_count{direction=\"" + std::string(name) + "\"} " + std::to_string(below) +
               "\n");
  };
  direction("back", s.steps_back, s.steps_back_ms);
  direction("forward", s.steps_forward, s.steps_forward_ms);
}

void put_json(HttpResponse& response, const nlohmann::ordered_json& j) {
  response.body->append(j.dump());
  response.body->append("\n");
}

}  // namespace

Result<nlohmann::ordered_json> range_json(const Layout& layout, std::string_view from_text,
                                          std::optional<std::string_view> to_text) {
  Result<std::int64_t> from = parse_instant(from_text);
  if (!from) return from.error();
  Result<std::int64_t> to = to_text ? parse_instant(*to_text) : from;
  if (!to) return to.error();
  Result<IdRange> ids = layout.id_range(*from, *to);
  if (!ids) return ids.error();
  return nlohmann::ordered_json{{"layout", std::string(layout.name())},
                                {"from", format_utc_ms(*from)},
                                {"to", format_utc_ms(*to)},
                                {"min_id", encode(ids->min, Encoding::decimal)},
                                {"max_id", encode(ids->max, Encoding::decimal)}};
}

Api::Api(IdService& ids, Metrics& metrics, Clock& clock, std::size_t loops, std::vector<const Reporter*> reporters)
    : ids_(ids), metrics_(metrics), clock_(clock), reporters_(std::move(reporters)), scratch_(loops) {}

void Api::handle(const HttpRequest& request, HttpResponse& response, std::size_t loop) {
  const std::size_t question = request.target.find('?');
  const std::string_view path = request.target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : request.target.substr(question + 1);
  if (path == "/v1/next") {
    response.route = Route::next;
  } else if (path.starts_with(kDecodePrefix)) {
    response.route = Route::decode;
  } else if (path == "/v1/range") {
    response.route = Route::range;
  } else if (path == "/v1/info") {
    response.route = Route::info;
  } else if (path == "/metrics") {
    response.route = Route::metrics;
  } else if (path == "/healthz") {
    response.route = Route::healthz;
  } else if (path == "/readyz") {
    response.route = Route::readyz;
  } else {
    response.route = Route::not_found;
    return fail(response, 404, "not_found",
                "no route " + std::string(path) +
                    "; the routes are /v1/next, /v1/decode/{id}, /v1/range, /v1/info, /metrics, /healthz and /readyz");
  }
  const bool head = request.method == "HEAD";
  if (request.method != "GET" && !head) {
    response.allow_get = true;
    return fail(response, 405, "method_not_allowed",
                "method " + std::string(request.method) + " is not allowed; every route answers GET (and HEAD)");
  }
  if (response.route != Route::next && response.route != Route::decode && response.route != Route::range &&
      !query.empty()) {
    return fail(response, 400, to_string(Errc::invalid_argument),
                std::string(path) + " takes no parameters; remove '?" + std::string(query) + "'");
  }
  switch (response.route) {
    case Route::next: return next(query, request.wants_text, head, response, loop);
    case Route::decode: return decode(path.substr(kDecodePrefix.size()), query, response);
    case Route::range: return range(query, response);
    case Route::info: return info(response);
    case Route::metrics: return metrics(response);
    case Route::healthz: return put_json(response, {{"status", "ok"}});
    case Route::readyz: return ready(response);
    default: break;
  }
}

void Api::next(std::string_view query, bool text, bool head, HttpResponse& response, std::size_t loop) {
  response.no_store = true;
  static constexpr std::array<std::string_view, 3> kKnown = {"count", "format", "encoding"};
  Result<Query> q = Query::parse(query, kKnown);
  if (!q) return fail(response, q.error());
  Format format = Format::snowflake;
  if (auto name = q->get("format")) {
    Result<Format> f = parse_format(*name);
    if (!f) return fail(response, f.error());
    format = *f;
  }
  Encoding encoding = Encoding::decimal;
  if (auto name = q->get("encoding")) {
    if (format != Format::snowflake) {
      return fail(response, 400, to_string(Errc::invalid_argument),
                  "encoding applies to format=snowflake only; the other formats have one text form each");
    }
    Result<Encoding> e = parse_encoding(*name);
    if (!e) return fail(response, e.error());
    encoding = *e;
  }
  std::uint64_t count = 1;
  IdShape shape = text ? IdShape::lines : IdShape::json_one;
  if (auto n = q->get("count")) {
    Result<std::uint64_t> c = parse_count(*n, ids_.max_count());
    if (!c) return fail(response, c.error());
    count = *c;
    if (!text) shape = IdShape::json_list;
  }
  if (head) {
    // The headers a GET would get; no ID is issued, so the length is not known.
    response.content_type = text ? kText : kJson;
    response.length_unknown = true;
    return;
  }
  std::vector<std::uint64_t>& scratch = scratch_[loop];
  if (format == Format::snowflake && scratch.size() < count) scratch.resize(static_cast<std::size_t>(ids_.max_count()));
  if (Result<void> written = ids_.write(format, encoding, count, shape, *response.body, scratch); !written) {
    const bool behind = written.error().code() == Errc::clock_regressed && format == Format::snowflake;
    return fail(response, written.error(), behind ? ids_.seconds_until_clock_catches_up() : 1);
  }
  response.content_type = text ? kText : kJson;
  metrics_.shard(loop).issued(format, count);
}

void Api::decode(std::string_view id, std::string_view query, HttpResponse& response) {
  static constexpr std::array<std::string_view, 2> kKnown = {"format", "encoding"};
  Result<Query> q = Query::parse(query, kKnown);
  if (!q) return fail(response, q.error());
  Result<std::string> text = percent_decode(id);
  if (!text) return fail(response, text.error());
  std::optional<Format> format;
  if (auto name = q->get("format")) {
    Result<Format> f = parse_format(*name);
    if (!f) return fail(response, f.error());
    format = *f;
  }
  std::optional<Encoding> encoding;
  if (auto name = q->get("encoding")) {
    if (format && *format != Format::snowflake) {
      return fail(response, 400, to_string(Errc::invalid_argument), "encoding applies to format=snowflake only");
    }
    Result<Encoding> e = parse_encoding(*name);
    if (!e) return fail(response, e.error());
    encoding = *e;
    format = Format::snowflake;
  }
  const Layout& layout = ids_.layout();
  Result<DecodedId> d = format ? decode_as(*text, *format, layout, encoding.value_or(Encoding::decimal))
                               : idforge::decode(*text, layout);
  if (!d) return fail(response, d.error());
  char* at = response.body->reserve(kMaxDecodedTextLength);
  response.body->commit(write_json(*d, decoded_fields(*d, layout), layout, *text, clock_.wall_ns() / 1'000'000, at));
}

void Api::range(std::string_view query, HttpResponse& response) {
  static constexpr std::array<std::string_view, 2> kKnown = {"from", "to"};
  Result<Query> q = Query::parse(query, kKnown);
  if (!q) return fail(response, q.error());
  const std::optional<std::string_view> from_text = q->get("from");
  if (!from_text) {
    return fail(response, 400, to_string(Errc::invalid_argument),
                "give from= (and to=): UTC instants such as 2026-01-01T00:00:00Z, or Unix milliseconds");
  }
  Result<nlohmann::ordered_json> range = range_json(ids_.layout(), *from_text, q->get("to"));
  if (!range) return fail(response, range.error());
  put_json(response, *range);
}

void Api::info(HttpResponse& response) {
  const GeneratorStats stats = ids_.stats();
  const IdService::Readiness ready = ids_.readiness();
  const Layout& layout = ids_.layout();
  const Capacity capacity = layout.capacity();
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  const auto values = layout.node_values(ids_.node());
  for (int i = 0; i < layout.node_field_count(); ++i) {
    fields[std::string(layout.node_field(i).name())] = values[static_cast<std::size_t>(i)];
  }
  nlohmann::ordered_json formats = nlohmann::ordered_json::array();
  for (Format f : all_formats()) formats.push_back(std::string(to_string(f)));
  nlohmann::ordered_json body = {
    {"version", std::string(kVersion)},
    {"now_unix_us", clock_.wall_ns() / 1000},
    {"layout", {{"name", std::string(layout.name())}, {"spec", layout.spec()}}},
    {"node", ids_.node()},
    {"node_fields", fields},
    {"flake128_worker", ids_.flake128_worker()},
    {"coordination", ids_.coordination()},
    {"reserved_until", stats.reserved_until_unix_ms
                           ? nlohmann::ordered_json(format_utc_ms(*stats.reserved_until_unix_ms))
                           : nlohmann::ordered_json()},
    {"reserved_until_unix_ms", stats.reserved_until_unix_ms
                                   ? nlohmann::ordered_json(*stats.reserved_until_unix_ms)
                                   : nlohmann::ordered_json()},
    {"lead_ms", stats.lead_ms},
    {"capacity",
     {{"ids_per_tick", capacity.ids_per_tick},
      {"ids_per_second", capacity.ids_per_second_per_node},
      {"max_count", ids_.max_count()},
      {"time_runs_out", format_utc_ms(capacity.last_unix_ms)}}},
    {"formats", formats},
    {"next_stamp_lead_ms", stats.next_stamp_lead_ms},
    {"ready", ready.ready && !draining_.load(std::memory_order_relaxed)},
    {"not_ready", ready.ready ? nlohmann::ordered_json()
                              : nlohmann::ordered_json{{"code", ready.code}, {"error", ready.message}}},
  };
  for (const Reporter* r : reporters_) body[r->info_key()] = r->info();
  put_json(response, body);
}

void Api::metrics(HttpResponse& response) {
  Buffer& out = *response.body;
  metrics_.render(out);
  const GeneratorStats s = ids_.stats();
  const std::int64_t now_ms = clock_.wall_ns() / 1'000'000;
  append_family(out, "idforge_generator_overflows_total", "Ticks whose sequence was used up (stamps led into the next tick).",
        static_cast<double>(s.overflows), "counter");
  append_family(out, "idforge_generator_waits_total", "Snowflake requests that waited for the clock.",
        static_cast<double>(s.waits), "counter");
  append_family(out, "idforge_generator_refusals_total", "Snowflake requests refused (overload, clock behind, lease lost).",
        static_cast<double>(s.refusals), "counter");
  append_family(out, "idforge_generator_rollbacks_total", "Times the wall clock was seen going back by 1 ms or more.",
        static_cast<double>(s.rollbacks), "counter");
  append_steps(out, s);
  append_family(out, "idforge_lead_seconds", "How far the newest Snowflake stamp is ahead of the wall clock.",
        static_cast<double>(s.lead_ms) / 1000);
  append_family(out, "idforge_reservation_headroom_seconds", "Durable reservation left ahead of the wall clock.",
        static_cast<double>(s.reserved_until_unix_ms.value_or(now_ms) - now_ms) / 1000);
  out.append("# HELP idforge_build_info The idforge version serving, as a label.\n# TYPE idforge_build_info gauge\n"
             "idforge_build_info{version=\"");
  out.append(kVersion);
  out.append("\"} 1\n");
  const IdService::Readiness ready = ids_.readiness();
  append_family(out, "idforge_lease_held", "1 while the node and its reservation are held and renewing, else 0.",
         ready.ready || ready.code == "clock_regressed" ? 1 : 0);
  append_family(out, "idforge_ready", "1 while /readyz answers 200, else 0.",
         ready.ready && !draining_.load(std::memory_order_relaxed) ? 1 : 0);
  append_family(out, "idforge_next_stamp_lead_seconds",
         "How far the next Snowflake stamp is ahead of the wall clock (past --max-lead-ms plus --max-wait-ms: not ready).",
         static_cast<double>(s.next_stamp_lead_ms) / 1000);
  ids_.render_source_metrics(out);
  for (const Reporter* r : reporters_) r->render_metrics(out);
  append_family(out, "idforge_layout_seconds_remaining", "Seconds until the layout's last tick.",
        static_cast<double>(ids_.layout().capacity().last_unix_ms - now_ms) / 1000);
  char text[128];
  std::snprintf(text, sizeof text, "# HELP idforge_node The node this process holds.\n# TYPE idforge_node gauge\n"
                "idforge_node{layout=\"%s\"} %llu\n", std::string(ids_.layout().name()).c_str(),
                static_cast<unsigned long long>(ids_.node()));
  out.append(text);
  response.content_type = kPrometheus;
}

void Api::ready(HttpResponse& response) {
  if (draining_.load(std::memory_order_relaxed)) {
    return fail(response, 503, "draining", "the service is shutting down");
  }
  const IdService::Readiness readiness = ids_.readiness();
  if (!readiness.ready) {
    response.retry_after_s = static_cast<int>(readiness.retry_after_s);
    return fail(response, 503, readiness.code, readiness.message);
  }
  put_json(response, {{"status", "ready"}, {"node", ids_.node()}});
}

}  // namespace idforge::detail
