// What lumen::api::Model (include/lumen/lumen.hpp) holds, and how library errors become the
// public lumen::api::Error. Shared by the API's files in lumen_core (model.cpp, c_api.cpp) and
// in lumen_retrieval (retrieval/embed.cpp, retrieval/index.cpp); never installed.
#pragma once

#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>

#include "lumen/core/error.h"
#include "lumen/lumen.hpp"
#include "lumen/runtime/engine.h"

namespace lumen::api {

struct Model::Impl {
  std::string dir;
  std::shared_ptr<const Engine> engine;
  // One computation at a time per model: chat sessions and embedders keep per-call state.
  std::mutex mutex;
  // The embedders made so far, by method: owned by retrieval/embed.cpp (lumen_retrieval), held
  // type-erased so lumen_core needs no retrieval header. Guarded by `mutex`.
  std::shared_ptr<void> embedders;
};

ErrorKind public_kind(::lumen::ErrorKind kind);

// Runs `body`, turning whatever it throws into lumen::api::Error (an Error passes unchanged).
template <typename Body>
auto translate_errors(Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error&) {
    throw;
  } catch (const ::lumen::Error& e) {
    throw Error(e.what(), public_kind(e.kind()));
  } catch (const std::bad_alloc&) {
    throw Error("out of memory", ErrorKind::kInternal);
  } catch (const std::exception& e) {
    throw Error(e.what(), ErrorKind::kInternal);
  } catch (...) {
    throw Error("unknown error", ErrorKind::kInternal);
  }
}

// Wraps a caller's TextCallback so what it throws stops the generation and reaches the caller
// unchanged (not as an Error): call rethrow() after the library call returns or throws.
class CallerCallback {
 public:
  explicit CallerCallback(const TextCallback& on_text) : on_text_(on_text) {}
  bool operator()(std::string_view piece) {
    if (!on_text_) return true;
    try {
      return on_text_(piece);
    } catch (...) {
      thrown_ = std::current_exception();
      return false;
    }
  }
  void rethrow() const {
    if (thrown_) std::rethrow_exception(thrown_);
  }

 private:
  const TextCallback& on_text_;
  std::exception_ptr thrown_;
};

// Runs `body` under translate_errors, but a caller callback's own exception wins.
template <typename Body>
auto with_callback(const CallerCallback& callback, Body&& body) -> decltype(body()) {
  try {
    auto result = translate_errors(body);
    callback.rethrow();
    return result;
  } catch (const Error&) {
    callback.rethrow();
    throw;
  }
}

// The model's impl, or Error when a moved-from Model is used.
Model::Impl& impl_of(const std::shared_ptr<Model::Impl>& impl);

}  // namespace lumen::api
