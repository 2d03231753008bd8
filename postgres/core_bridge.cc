// SPDX-License-Identifier: Apache-2.0
// The extension's bridge to idforge's core library (core_bridge.h).
#include "core_bridge.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <string_view>

#include "formats/decoded_text.h"
#include "idforge/clock.h"
#include "idforge/decoder.h"
#include "idforge/layout.h"
#include "idforge/random.h"
#include "idforge/state_claim.h"
#include "idforge/ulid.h"
#include "idforge/uuid.h"

namespace {

void copy_text(std::string_view text, char* out, std::size_t size) {
  const std::size_t n = std::min(text.size(), size - 1);
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

int fail(const idforge::Error& error, char* out) {
  copy_text(error.message(), out, IDFORGE_ERROR_SIZE);
  return -1;
}

// The process's clock for the wide formats, made on first use (in the backend, so
// after the postmaster's fork).
idforge::SystemClock& process_clock() {
  static idforge::SystemClock clock;
  return clock;
}

}  // namespace

extern "C" int idforge_core_layout_parse(const char* text, IdforgeLayout* out, char* error) {
  idforge::Result<idforge::Layout> layout = idforge::Layout::parse(text);
  if (!layout) return fail(layout.error(), error);
  *out = IdforgeLayout{};
  copy_text(layout->name(), out->name, sizeof out->name);
  copy_text(layout->spec(), out->spec, sizeof out->spec);
  copy_text("snowflake-" + layout->geometry(), out->geometry, sizeof out->geometry);
  out->sequence_bits = layout->sequence_field().bits;
  out->timestamp_shift = layout->timestamp_field().shift;
  out->sequence_shift = layout->sequence_field().shift;
  out->node_bits = layout->node_bits();
  out->epoch_unix_ms = layout->epoch_unix_ms();
  out->tick_ms = layout->tick_ms();
  out->max_tick = layout->max_tick();
  out->last_unix_ms = layout->capacity().last_unix_ms;
  return 0;
}

extern "C" int idforge_core_layout_set_node(IdforgeLayout* layout, uint64_t node, char* error) {
  idforge::Result<idforge::Layout> parsed = idforge::Layout::parse(layout->spec);
  if (!parsed) return fail(parsed.error(), error);
  const std::uint64_t last = (std::uint64_t{1} << parsed->node_bits()) - 1;
  if (node > last) {
    copy_text("idforge.node = " + std::to_string(node) + " is outside layout " + std::string(parsed->name()) +
                  "'s nodes, 0 to " + std::to_string(last),
              error, IDFORGE_ERROR_SIZE);
    return -1;
  }
  layout->node_bits_in_id = parsed->node_bits_in_id(node);
  return 0;
}

extern "C" int idforge_core_claim_states(uint64_t* word, uint64_t floor, uint64_t n, int64_t limit_tick, int sequence_bits,
                                    uint64_t* first) {
  std::atomic_ref<std::uint64_t> shared(*word);
  const idforge::detail::StateClaim claim = idforge::detail::claim_states(shared, floor, n, limit_tick, sequence_bits);
  *first = claim.first;
  return claim.taken ? 1 : 0;
}

// The next value of this process's generator of type G (made on first use) as 16 bytes.
template <class G>
int next_bytes(uint8_t out[16], char* error) {
  static std::unique_ptr<G> generator;
  if (!generator) {
    auto made = G::create({}, process_clock(), idforge::SystemRandom::instance());
    if (!made) return fail(made.error(), error);
    generator = std::move(*made);
  }
  auto value = generator->next();
  if (!value) return fail(value.error(), error);
  std::memcpy(out, value->bytes.data(), 16);
  return 0;
}

extern "C" int idforge_core_next_uuidv7(uint8_t out[16], char* error) {
  return next_bytes<idforge::UuidV7Generator>(out, error);
}

extern "C" int idforge_core_next_ulid(uint8_t out[16], char* error) {
  return next_bytes<idforge::UlidGenerator>(out, error);
}

extern "C" void idforge_core_ulid_text(const uint8_t bytes[16], char out[27]) {
  idforge::Ulid ulid;
  std::memcpy(ulid.bytes.data(), bytes, 16);
  *idforge::format_to(ulid, out) = '\0';
}

extern "C" int idforge_core_decode_json(const char* text, size_t length, const char* layout_text, int64_t now_unix_ms,
                                   char* out, char* error) {
  idforge::Result<idforge::Layout> layout = idforge::Layout::parse(layout_text);
  if (!layout) return fail(layout.error(), error);
  const std::string_view input(text, length);
  idforge::Result<idforge::DecodedId> decoded = idforge::decode(input, *layout);
  if (!decoded) return fail(decoded.error(), error);
  static_assert(IDFORGE_DECODED_SIZE > idforge::detail::kMaxDecodedTextLength);
  const idforge::detail::DecodedFields fields = idforge::detail::decoded_fields(*decoded, *layout);
  char* end = idforge::detail::write_json(*decoded, fields, *layout, input, now_unix_ms, out);
  if (end > out && end[-1] == '\n') --end;  // The CLI's line ends; a jsonb value does not.
  *end = '\0';
  return 0;
}
