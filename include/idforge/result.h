// SPDX-License-Identifier: Apache-2.0
// Result<T>: the one way idforge reports failure.
//
// Every fallible library call returns `Result<T>`, shaped like C++23's
// `std::expected<T, Error>`: either a value, or an `Error` carrying a code from a
// closed set (`Errc`) and a message that says what was wrong and how to fix it.
// The library never throws across its API; a broken invariant (for example
// calling `value()` on a failed result) aborts with a message.
//
// Example:
//
//   idforge::Result<idforge::Layout> layout = idforge::Layout::parse("twitter");
//   if (!layout) {
//     std::fprintf(stderr, "%s\n", layout.error().message().c_str());
//     return 2;
//   }
//   std::uint64_t per_second = layout->ids_per_second_per_node();
#ifndef IDFORGE_RESULT_H_
#define IDFORGE_RESULT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace idforge {

// The closed set of failure kinds. Each maps to one answer in the CLI and the
// service (docs/api.md and docs/operations.md list them).
enum class Errc : std::uint8_t {
  invalid_argument,  // The caller asked for something malformed or out of range.
  clock_regressed,   // The clock is behind stamps already issued or reserved.
  overloaded,        // Demand exceeds the layout's capacity within max_lead/max_wait.
  time_exhausted,    // The layout's timestamp field has no ticks left.
  lease_lost,        // The node is not (or no longer) held: closed, forked, released.
  unavailable,       // A resource is held by someone else or not reachable.
  io,                // Reading or writing durable state failed, or found it corrupt.
};

// Returns the code's name as written in this header, for logs and JSON.
std::string_view to_string(Errc code);

// An error value: a code and a human-readable message.
class Error {
 public:
  Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

  // The kind of failure.
  Errc code() const { return code_; }

  // What went wrong and, where possible, how to fix it. One line, no trailing period.
  const std::string& message() const { return message_; }

 private:
  Errc code_;
  std::string message_;
};

namespace detail {
// Aborts the process with `what`; used when a caller breaks a REQUIRES.
[[noreturn]] void die(std::string_view what);
}  // namespace detail

// A value of type T, or an Error.
template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  // True when the result holds a value.
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  // The value. REQUIRES: has_value().
  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error. REQUIRES: !has_value().
  const Error& error() const {
    if (has_value()) detail::die("Result::error() called on a value");
    return std::get<1>(v_);
  }

 private:
  void check() const {
    if (!has_value()) detail::die("Result::value() called on an error: " + std::get<1>(v_).message());
  }
  std::variant<T, Error> v_;
};

// Success without a value, or an Error. A default-constructed Result<void> is success.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }

  // The error. REQUIRES: !has_value().
  const Error& error() const {
    if (!error_) detail::die("Result<void>::error() called on success");
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

}  // namespace idforge

#endif  // IDFORGE_RESULT_H_
