#include "common.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace idforge::cli {

void print_error(std::string_view message) {
  std::fprintf(stderr, "idforge: %.*s\n", static_cast<int>(message.size()), message.data());
}

int fail(const Error& error) {
  print_error(error.message());
  return error.code() == Errc::invalid_argument ? kExitUsage : kExitFailure;
}

// A whole number of plain digits (no sign, no space), or nullopt.
std::optional<std::uint64_t> parse_whole(const std::string& text) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (*end != '\0' || errno != 0) return std::nullopt;
  return v;
}

std::string default_data_dir() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) return std::string(xdg) + "/idforge";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.local/state/idforge";
  return "/tmp/idforge-" + std::to_string(::getuid());
}

std::string layout_option_help() {
  std::string names;
  for (std::string_view name : Layout::preset_names()) names += std::string(names.empty() ? "" : ", ") += name;
  return "Bit layout: a preset (" + names +
         ") or a spec such as 'time:41-worker:10-seq:12/tick=1ms/epoch=2024-01-01' "
         "(see 'idforge layout --help')";
}

Output::Output() : buffer_(1 << 17) {}
Output::~Output() { flush(); }

char* Output::reserve(std::size_t n) {
  if (used_ + n > buffer_.size()) {
    flush();
    if (n > buffer_.size()) buffer_.resize(n);
  }
  return buffer_.data() + used_;
}

void Output::append(std::string_view text) {
  char* at = reserve(text.size());
  std::memcpy(at, text.data(), text.size());
  commit(at + text.size());
}

bool Output::flush() {
  std::size_t done = 0;
  while (!failed_ && done < used_) {
    const ssize_t n = ::write(STDOUT_FILENO, buffer_.data() + done, used_ - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      print_error(std::string("cannot write to standard output: ") + std::strerror(errno));
      failed_ = true;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  used_ = 0;
  return !failed_;
}

TokenReader::TokenReader(int fd) : fd_(fd), buffer_(1 << 20) {}

bool TokenReader::fill() {
  if (eof_ || error_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  for (;;) {
    const ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = std::string("cannot read standard input: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    end_ += static_cast<std::size_t>(n);
    return true;
  }
}

std::optional<std::string_view> TokenReader::next() {
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  for (;;) {
    while (begin_ < end_ && (space(buffer_[begin_]) || skipping_)) {
      skipping_ = skipping_ && !space(buffer_[begin_]);
      ++begin_;
    }
    if (begin_ < end_) break;
    begin_ = end_ = 0;
    if (!fill()) return std::nullopt;
  }
  std::size_t at = begin_;
  for (;;) {
    while (at < end_ && !space(buffer_[at])) ++at;
    if (at < end_ || eof_ || error_) break;
    if (begin_ == 0 && end_ == buffer_.size()) {
      skipping_ = true;  // A word as long as the block: cut it here.
      break;
    }
    at -= begin_;
    if (!fill()) {
      at += begin_;
      break;
    }
    at += begin_;
  }
  const std::string_view word(buffer_.data() + begin_, at - begin_);
  begin_ = at;
  return word;
}

}  // namespace idforge::cli
