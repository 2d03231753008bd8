#include "server/decoded_fields.h"

#include <algorithm>
#include <span>
#include <type_traits>
#include <variant>

#include "idforge/time_text.h"

namespace idforge::detail {
namespace {

std::string hex(std::span<const std::uint8_t> bytes) {
  std::string s(2 * bytes.size(), '\0');
  static constexpr char kDigits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    s[2 * i] = kDigits[bytes[i] >> 4];
    s[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return s;
}

std::size_t digits(std::uint64_t max) { return std::to_string(max).size(); }

}  // namespace

std::vector<DecodedField> decoded_fields(const DecodedId& d, const Layout& layout) {
  std::vector<DecodedField> out;
  auto number = [&out](std::string name, std::uint64_t value, std::size_t width) {
    const std::size_t w = std::max(name.size(), width);
    out.push_back({std::move(name), value, w});
  };
  auto text = [&out](std::string name, std::string value) {
    const std::size_t width = std::max(name.size(), value.size());
    out.push_back({std::move(name), std::move(value), width});
  };
  switch (d.format) {
    case Format::snowflake: {
      const Parts parts = layout.decompose(std::get<std::uint64_t>(d.value));
      for (const Field& f : layout.fields()) {
        if (f.kind == FieldKind::timestamp) continue;
        const std::uint64_t v = f.kind == FieldKind::sequence
                                    ? parts.sequence
                                    : parts.node[static_cast<std::size_t>(layout.find_node_field(f.name()))];
        number(std::string(f.name()), v, digits(f.max_value()));
      }
      break;
    }
    case Format::ulid:
      text("random", hex(std::span(std::get<Ulid>(d.value).bytes).subspan(6)));
      break;
    case Format::uuidv4:
    case Format::uuidv7:
      number("version", static_cast<std::uint64_t>(std::get<Uuid>(d.value).version()), 1);
      break;
    case Format::objectid: {
      const auto& b = std::get<ObjectId>(d.value).bytes;
      text("process", hex(std::span(b).subspan(4, 5)));
      number("counter", std::uint64_t{b[9]} << 16 | std::uint64_t{b[10]} << 8 | b[11], 8);
      break;
    }
    case Format::ksuid:
      text("payload", hex(std::span(std::get<Ksuid>(d.value).bytes).subspan(4)));
      break;
    case Format::flake128: {
      const Flake128& f = std::get<Flake128>(d.value);
      number("worker", f.worker(), digits(kFlake128Workers - 1));
      number("sequence", f.sequence(), 5);
      break;
    }
  }
  return out;
}

std::size_t max_text_length(Format format) {
  switch (format) {
    case Format::snowflake: return kMaxEncodedLength;
    case Format::ulid: return kUlidTextLength;
    case Format::uuidv4:
    case Format::uuidv7: return kUuidTextLength;
    case Format::objectid: return kObjectIdTextLength;
    case Format::ksuid: return kKsuidTextLength;
    case Format::flake128: return kFlake128TextLength;
  }
  return kMaxEncodedLength;
}

std::string canonical_text(const DecodedId& d) {
  return std::visit(
      [](const auto& v) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::uint64_t>) {
          return encode(v, Encoding::decimal);
        } else {
          return to_string(v);
        }
      },
      d.value);
}

nlohmann::ordered_json decoded_json(const DecodedId& d, const Layout& layout, std::string_view input,
                                    std::int64_t now_unix_ms) {
  nlohmann::ordered_json j;
  j["id"] = canonical_text(d);
  j["format"] = std::string(to_string(d.format));
  if (d.format == Format::snowflake) {
    if (d.encoding != Encoding::decimal) j[std::string(to_string(d.encoding))] = std::string(input);
    j["layout"] = std::string(layout.name());
  }
  if (d.unix_ms) {
    j["time"] = format_utc_ms(*d.unix_ms);
    j["unix_ms"] = *d.unix_ms;
  }
  for (DecodedField& f : decoded_fields(d, layout)) j[f.name] = std::move(f.value);
  if (d.unix_ms) j["future"] = *d.unix_ms > now_unix_ms;
  return j;
}

}  // namespace idforge::detail
