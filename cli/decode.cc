// SPDX-License-Identifier: Apache-2.0
// idforge decode: take IDs of any format apart into their fields and instant.
#include "common.h"
#include "formats/decoded_text.h"
#include "idforge/clock.h"
#include "idforge/decoder.h"

namespace idforge::cli {
namespace {

struct DecodeOptions {
  std::string format;  // Empty: detect.
  std::string layout = "twitter";
  std::string encoding;  // Empty: decimal, or detect.
  bool json = false;
  std::vector<std::string> ids;
};

// Prints decoded IDs as a table (a header whenever the format changes) or as JSON lines.
class Printer {
 public:
  Printer(const Layout& layout, bool json, Output& out) : layout_(layout), json_(json), out_(out) {}

  void print(const DecodedId& d, std::string_view input) {
    const detail::DecodedFields fields = detail::decoded_fields(d, layout_);
    const std::int64_t now_ms = clock_.wall_ns() / 1'000'000;
    char* at = out_.reserve(2 * detail::kMaxDecodedTextLength);
    if (json_) {
      out_.commit(detail::write_json(d, fields, layout_, input, now_ms, at));
      return;
    }
    if (!header_printed_ || d.format != last_format_) {
      at = detail::write_table_header(d, fields, at);
      header_printed_ = true;
      last_format_ = d.format;
    }
    out_.commit(detail::write_table_row(d, fields, now_ms, at));
  }

 private:
  const Layout& layout_;
  bool json_;
  Output& out_;
  SystemClock clock_;
  bool header_printed_ = false;
  Format last_format_ = Format::snowflake;
};

int run_decode(const DecodeOptions& options) {
  Result<Layout> layout = Layout::parse(options.layout);
  if (!layout) return fail(layout.error());
  std::optional<Format> format;
  if (!options.format.empty()) {
    Result<Format> f = parse_format(options.format);
    if (!f) return fail(f.error());
    format = *f;
  }
  std::optional<Encoding> encoding;
  if (!options.encoding.empty()) {
    Result<Encoding> e = parse_encoding(options.encoding);
    if (!e) return fail(e.error());
    if (format && *format != Format::snowflake) {
      return fail(Error(Errc::invalid_argument, "--encoding applies to --format snowflake only"));
    }
    encoding = *e;
    format = Format::snowflake;
  }

  Output out;
  Printer printer(*layout, options.json, out);
  bool all_valid = true;
  auto one = [&](std::string_view text) {
    Result<DecodedId> d = format ? decode_as(text, *format, *layout, encoding.value_or(Encoding::decimal))
                                 : decode(text, *layout);
    if (!d) {
      print_error(d.error().message());
      all_valid = false;
      return;
    }
    printer.print(*d, text);
  };
  if (!options.ids.empty()) {
    for (const std::string& id : options.ids) one(id);
  } else {
    TokenReader input(STDIN_FILENO);
    while (std::optional<std::string_view> token = input.next()) one(*token);
    if (input.error()) {
      print_error(*input.error());
      all_valid = false;
    }
  }
  if (!out.flush()) return kExitFailure;
  return all_valid ? kExitOk : kExitUsage;
}

}  // namespace

Command add_decode(CLI::App& root) {
  auto options = std::make_shared<DecodeOptions>();
  CLI::App* app = root.add_subcommand("decode", "Take IDs of any format apart into their fields and instant");
  app->description(
      "Take IDs apart into their instant (ISO-8601 UTC, milliseconds) and fields.\n"
      "Reads IDs from standard input (separated by white space) when none are given.\n"
      "IDs stamped later than this machine's clock are flagged.\n\n"
      "The format is detected: a Snowflake ID of --layout in decimal, hex, base62 or\n"
      "base32; ULID; UUID version 4 or 7; ObjectId; KSUID; flake-128. A string that\n"
      "reads as more than one (16 digits are decimal and hex) is refused with the\n"
      "candidates listed: pick one with --format, and --encoding for Snowflake IDs\n"
      "(base58 is read only with --encoding base58).\n\n"
      "  idforge decode --layout discord 175928847299117063\n"
      "  idforge decode 01ARZ3NDEKTSV4RRFFQ69G5FAV 017f22e2-79b0-7cc3-98c4-dc0c0c07398f\n"
      "  idforge gen -n 3 | idforge decode --json\n");
  app->add_option("ids", options->ids, "IDs to decode (default: read standard input)");
  app->add_option("--format", options->format,
                  "Read every ID as this format: snowflake, ulid, uuidv4, uuidv7, objectid, ksuid or flake128 "
                  "(Default: detect)");
  app->add_option("--layout", options->layout, layout_option_help())->capture_default_str();
  app->add_option("--encoding", options->encoding,
                  "Read Snowflake IDs in this text form only: dec, hex, base62, base32 or base58");
  app->add_flag("--json", options->json,
                "One JSON object per line: id (a string), format, layout (Snowflake), time, unix_ms, each field "
                "by name, future");
  app->footer("Exit codes: 0 all decoded; 1 failure writing output; 2 bad flags or an invalid or ambiguous ID "
              "(reported on stderr; the valid ones are still printed).");
  return {app, [options] { return run_decode(*options); }};
}

}  // namespace idforge::cli
