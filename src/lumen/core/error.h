// Errors raised by library code on bad input (files, checkpoints, images, requests).
//
// Library code never exits or aborts: it throws lumen::Error, which the CLI turns into a
// one-line message and a non-zero exit, and the server into an OpenAI-style JSON error.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace lumen {

// What went wrong, so callers (the server in particular) can pick a status code.
enum class ErrorKind {
  kInvalidInput,   // malformed or unsupported input: bad image, bad JSON, bad checkpoint
  kNotFound,       // a file or tensor that should exist does not
  kLimitExceeded,  // a configured bound (pixels, context length, body size) was hit
  kIo,             // the operating system refused a read, write or map
  kBusy,           // at capacity (every running and queued place taken): retry later
  kUnavailable,    // shutting down: nothing new is accepted and the unfinished work is dropped
  kCancelled,      // the work was cancelled by whoever asked for it (a client that went away)
  kInternal,       // a bug in Lumen
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, ErrorKind kind = ErrorKind::kInvalidInput)
      : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Concatenates any streamable arguments into an Error message: fail("tensor ", name, " missing").
template <typename... Args>
[[noreturn]] void fail(Args&&... args);
template <typename... Args>
[[noreturn]] void fail_kind(ErrorKind kind, Args&&... args);

}  // namespace lumen

#include <sstream>

namespace lumen {

template <typename... Args>
[[noreturn]] void fail_kind(ErrorKind kind, Args&&... args) {
  std::ostringstream message;
  (message << ... << std::forward<Args>(args));
  throw Error(message.str(), kind);
}

template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  fail_kind(ErrorKind::kInvalidInput, std::forward<Args>(args)...);
}

}  // namespace lumen
