// SPDX-License-Identifier: Apache-2.0
// Buffer: a growable byte buffer that keeps its memory between uses, so a
// connection's responses stop allocating once it has seen its largest one.
// release_above() bounds what an idle buffer holds on to.
//
// Thread safety: none; one connection owns one buffer.
#ifndef IDFORGE_SERVER_BUFFER_H_
#define IDFORGE_SERVER_BUFFER_H_

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace idforge::detail {

class Buffer {
 public:
  // Room for at least `n` more bytes after the data; returns where they start.
  char* reserve(std::size_t n) {
    if (capacity_ - size_ < n) grow(size_ + n);
    return data_.get() + size_;
  }
  // Marks `end`, inside the room the last reserve() gave, as the end of the data.
  void commit(char* end) { size_ = static_cast<std::size_t>(end - data_.get()); }
  void append(std::string_view text) {
    char* at = reserve(text.size());
    if (!text.empty()) std::memcpy(at, text.data(), text.size());
    size_ += text.size();
  }
  // Drops the data from `size` on.  REQUIRES: size <= this->size().
  void truncate(std::size_t size) { size_ = size; }
  void clear() { size_ = 0; }
  // Empties the buffer and, when it holds more than `bytes` of memory, frees it,
  // so one large response does not pin its memory for the buffer's lifetime.
  void release_above(std::size_t bytes) {
    size_ = 0;
    if (capacity_ <= bytes) return;
    data_.reset();
    capacity_ = 0;
  }

  std::size_t size() const { return size_; }
  // The bytes of memory the buffer holds, used or not.
  std::size_t capacity() const { return capacity_; }
  const char* data() const { return data_.get(); }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  void grow(std::size_t need) {
    std::size_t capacity = capacity_ ? capacity_ * 2 : 1024;
    while (capacity < need) capacity *= 2;
    auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
    if (size_) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace idforge::detail

#endif  // IDFORGE_SERVER_BUFFER_H_
