// SPDX-License-Identifier: Apache-2.0
// claim_states: the one lock-free step that hands out Snowflake states.
//
// A state is (tick << sequence_bits) | sequence; a word holds the *next free*
// state of one node. A claim of `n` states takes [first, first + n) with first =
// max(word, floor) — floor being the current tick's first state — by one
// compare-and-swap, so a used-up sequence carries into the next tick and a clock
// behind the word continues on logical time. The claim fails, taking nothing, when
// its last state's tick would pass `limit_tick`.
//
// The Generator's word is a std::atomic in its own memory; the PostgreSQL
// extension's is a plain word in shared memory that every backend reaches through
// std::atomic_ref. Both claim through this function, so the rule lives once.
//
// Memory order: relaxed. Uniqueness needs only the single total order of
// read-modify-writes on the word; an ID publishes no other memory.
//
// Invariants: the word never decreases; every claimed state lies below the new
// word; no claimed state's tick exceeds `limit_tick`.
#ifndef IDFORGE_STATE_CLAIM_H_
#define IDFORGE_STATE_CLAIM_H_

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace idforge::detail {

// What one claim found and took.
struct StateClaim {
  bool taken = false;        // False when the claim would pass limit_tick: nothing was taken.
  std::uint64_t found = 0;   // The word as the claim last read it.
  std::uint64_t first = 0;   // The first state taken (or that would have been).
};

// Claims `n` consecutive states from `word` (std::atomic<std::uint64_t> or
// std::atomic_ref<std::uint64_t>). REQUIRES: n >= 1; floor = now_tick << sequence_bits.
template <class AtomicWord>
inline StateClaim claim_states(AtomicWord& word, std::uint64_t floor, std::uint64_t n, std::int64_t limit_tick,
                               int sequence_bits) {
  std::uint64_t cur = word.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t first = std::max(cur, floor);
    const std::uint64_t end = first + n;
    if (static_cast<std::int64_t>((end - 1) >> sequence_bits) > limit_tick) [[unlikely]] return {false, cur, first};
    if (word.compare_exchange_weak(cur, end, std::memory_order_relaxed, std::memory_order_relaxed)) {
      return {true, cur, first};
    }
  }
}

}  // namespace idforge::detail

#endif  // IDFORGE_STATE_CLAIM_H_
