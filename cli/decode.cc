// idforge decode: take IDs apart into their fields and instant.
#include <iostream>

#include <nlohmann/json.hpp>

#include "common.h"
#include "idforge/clock.h"
#include "idforge/encoding.h"
#include "idforge/time_text.h"

namespace idforge::cli {
namespace {

struct DecodeOptions {
  std::string layout = "twitter";
  std::string encoding = "dec";
  bool json = false;
  std::vector<std::string> ids;
};

// The width of a table column that holds `name` and values up to `max`.
std::size_t column_width(std::string_view name, std::uint64_t max) {
  return std::max(name.size(), std::to_string(max).size());
}

void pad(std::string& line, std::string_view text, std::size_t width) {
  line.append(text);
  line.append(width > text.size() ? width - text.size() : 0, ' ');
  line.append("  ");
}

class Decoder {
 public:
  Decoder(const Layout& layout, Encoding encoding, bool json, Output& out)
      : layout_(layout), encoding_(encoding), json_(json), out_(out) {}

  void header() {
    if (json_) return;
    std::string line;
    pad(line, "ID", 20);
    pad(line, "TIME", kUtcTextLength);
    for (const Field& f : layout_.fields()) {
      if (f.kind == FieldKind::timestamp) continue;
      std::string name(f.name());
      for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      pad(line, name, column_width(name, f.max_value()));
    }
    line.append("NOTE");
    out_.append(line + "\n");
  }

  // Decodes one ID; returns false (after printing why) when it is not valid.
  bool decode(std::string_view text) {
    Result<std::uint64_t> id = parse_id(text, encoding_);
    if (!id) return print_error(id.error().message()), false;
    if (!layout_.is_valid_id(*id)) {
      print_error(std::string("'") + std::string(text) + "' is not a " + std::string(layout_.name()) +
                  " ID: it is above the largest ID the layout can make");
      return false;
    }
    const Parts parts = layout_.decompose(*id);
    const std::int64_t unix_ms = layout_.unix_ms_of_tick(parts.tick);
    const bool future = unix_ms > clock_.wall_ns() / 1'000'000;
    const std::string decimal = encode(*id, Encoding::decimal);
    if (json_) {
      nlohmann::ordered_json j;
      j["id"] = decimal;
      if (encoding_ != Encoding::decimal) j[std::string(to_string(encoding_))] = std::string(text);
      j["layout"] = std::string(layout_.name());
      j["time"] = format_utc_ms(unix_ms);
      j["unix_ms"] = unix_ms;
      for (const Field& f : layout_.fields()) {
        if (f.kind != FieldKind::timestamp) j[std::string(f.name())] = field_value(parts, f);
      }
      j["future"] = future;
      out_.append(j.dump() + "\n");
      return true;
    }
    std::string line;
    pad(line, decimal, 20);
    pad(line, format_utc_ms(unix_ms), kUtcTextLength);
    for (const Field& f : layout_.fields()) {
      if (f.kind == FieldKind::timestamp) continue;
      pad(line, std::to_string(field_value(parts, f)), column_width(f.name(), f.max_value()));
    }
    if (future) line.append("stamped in the future");
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out_.append(line + "\n");
    return true;
  }

 private:
  std::uint64_t field_value(const Parts& parts, const Field& f) const {
    if (f.kind == FieldKind::sequence) return parts.sequence;
    return parts.node[static_cast<std::size_t>(layout_.find_node_field(f.name()))];
  }

  const Layout& layout_;
  Encoding encoding_;
  bool json_;
  Output& out_;
  SystemClock clock_;
};

int run_decode(const DecodeOptions& options) {
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return fail(layout.error());
  Result<Encoding> encoding = parse_encoding(options.encoding);
  if (!encoding) return fail(encoding.error());
  Output out;
  Decoder decoder(*layout, *encoding, options.json, out);
  decoder.header();
  bool all_valid = true;
  if (!options.ids.empty()) {
    for (const std::string& id : options.ids) all_valid &= decoder.decode(id);
  } else {
    for (std::string token; std::cin >> token;) {
      all_valid &= decoder.decode(token);
    }
  }
  if (!out.flush()) return kExitFailure;
  return all_valid ? kExitOk : kExitUsage;
}

}  // namespace

Command add_decode(CLI::App& root) {
  auto options = std::make_shared<DecodeOptions>();
  CLI::App* app = root.add_subcommand("decode", "Take IDs apart into their fields and instant");
  app->description(
      "Take IDs apart into their instant (ISO-8601 UTC, milliseconds) and fields.\n"
      "Reads IDs from standard input (separated by white space) when none are given.\n"
      "IDs stamped later than this machine's clock are flagged.\n\n"
      "  idforge decode --layout discord 175928847299117063\n"
      "  idforge gen -n 3 | idforge decode --json\n");
  app->add_option("ids", options->ids, "IDs to decode (default: read standard input)");
  app->add_option("--layout", options->layout, layout_option_help())->capture_default_str();
  app->add_option("--encoding", options->encoding, "Text form of the input: dec, hex, base62, base32 or base58")
      ->capture_default_str();
  app->add_flag("--json", options->json,
                "One JSON object per line: id (a string), layout, time, unix_ms, each field by its layout "
                "name, future");
  app->footer("Exit codes: 0 all decoded; 1 failure writing output; 2 bad flags or an invalid ID (reported on "
              "stderr; the valid ones are still printed).");
  return {app, [options] { return run_decode(*options); }};
}

}  // namespace idforge::cli
