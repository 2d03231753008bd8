/* SPDX-License-Identifier: Apache-2.0
 * The extension's C view of idforge's core library (core_bridge.cc): layouts, the
 * state claim, UUIDv7 and ULID generators, and the decoder. Nothing here includes
 * PostgreSQL's headers or throws; every failure is a return value with a message
 * written into the caller's buffer. */
#ifndef IDFORGE_POSTGRES_CORE_BRIDGE_H_
#define IDFORGE_POSTGRES_CORE_BRIDGE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest message a bridge call writes, with its NUL. */
#define IDFORGE_ERROR_SIZE 1024

/* A layout as the extension uses it: where each part of an ID sits. */
typedef struct IdforgeLayout {
  char name[32];      /* The preset's name, or "custom". */
  char spec[256];     /* The canonical text form. */
  char geometry[64];  /* Its ID space: "snowflake-node10-seq12" (layouts of one geometry share nodes). */
  int sequence_bits;
  int timestamp_shift;
  int sequence_shift;
  int node_bits;
  int64_t epoch_unix_ms;
  int64_t tick_ms;
  int64_t max_tick;
  int64_t last_unix_ms;     /* The last millisecond of the last tick. */
  uint64_t node_bits_in_id; /* The configured node's bits, placed (idforge_layout_set_node). */
} IdforgeLayout;

/* Parses a preset name or a layout spec. Returns 0, or -1 with the reason in `error`. */
int idforge_core_layout_parse(const char *text, IdforgeLayout *out, char *error);
/* Places node `node` of the layout into out->node_bits_in_id. Returns 0, or -1
 * when the node does not fit the layout's node fields. */
int idforge_core_layout_set_node(IdforgeLayout *layout, uint64_t node, char *error);

/* The ID of a state (tick << sequence_bits | sequence). */
static inline uint64_t idforge_id_of_state(const IdforgeLayout *l, uint64_t state) {
  return ((state >> l->sequence_bits) << l->timestamp_shift) |
         ((state & ((UINT64_C(1) << l->sequence_bits) - 1)) << l->sequence_shift) | l->node_bits_in_id;
}

/* Claims `n` consecutive states from the shared `word` (see idforge/state_claim.h):
 * returns 1 and the first in *first, or 0 when the last would pass limit_tick (then
 * *first is where the claim would have begun). */
int idforge_core_claim_states(uint64_t *word, uint64_t floor, uint64_t n, int64_t limit_tick, int sequence_bits,
                         uint64_t *first);

/* The next UUIDv7 or ULID of this process, monotonic (RFC 9562 method 1; the
 * ULID spec's monotonic mode), each from a generator made on first use. Returns
 * 0 and 16 bytes in `out`, or -1 with the reason. */
int idforge_core_next_uuidv7(uint8_t out[16], char *error);
int idforge_core_next_ulid(uint8_t out[16], char *error);
/* Writes the 26-character text of a ULID's bytes and a NUL into `out`. */
void idforge_core_ulid_text(const uint8_t bytes[16], char out[27]);

/* Decodes `text` (any format; a Snowflake ID under `layout_text`) into the JSON
 * object `idforge decode --json` prints, NUL-terminated in `out` (at least
 * IDFORGE_DECODED_SIZE bytes). Returns 0, or -1 with the reason. */
#define IDFORGE_DECODED_SIZE 600
int idforge_core_decode_json(const char *text, size_t length, const char *layout_text, int64_t now_unix_ms, char *out,
                        char *error);

#ifdef __cplusplus
}
#endif

#endif /* IDFORGE_POSTGRES_CORE_BRIDGE_H_ */
