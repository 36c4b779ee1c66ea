// The C API (include/lumen/lumen.h) over lumen::api::Model. Every entry point catches every
// exception: nothing but return values and malloc'd messages crosses into C.
#include "lumen/lumen.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "lumen/lumen.hpp"

struct lumen_model {
  lumen::api::Model model;
};

namespace {

// A malloc'd copy (lumen_string_free frees it), or NULL when out of memory.
char* c_string(const std::string& text) {
  char* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (copy != nullptr) std::memcpy(copy, text.c_str(), text.size() + 1);
  return copy;
}

void set_error(char** error, const char* message) {
  if (error != nullptr) *error = c_string(message);
}

// Runs `body`, returning what it returns, or NULL with *error set when it throws.
template <typename T, typename Body>
T* guarded(char** error, Body&& body) {
  if (error != nullptr) *error = nullptr;
  try {
    return body();
  } catch (const std::bad_alloc&) {
    set_error(error, "out of memory");
  } catch (const std::exception& e) {
    set_error(error, e.what());
  } catch (...) {
    set_error(error, "unknown error");
  }
  return nullptr;
}

}  // namespace

extern "C" {

lumen_model* lumen_model_load(const char* dir, char** error) {
  return guarded<lumen_model>(error, [&] {
    return new lumen_model{lumen::api::Model::load(dir == nullptr ? std::string() : std::string(dir))};
  });
}

char* lumen_ask(lumen_model* model, const char* image_path, const char* question, char** error) {
  return guarded<char>(error, [&]() -> char* {
    if (model == nullptr) throw lumen::api::Error("lumen_ask: model is NULL", lumen::api::ErrorKind::kInvalidInput);
    if (question == nullptr) throw lumen::api::Error("lumen_ask: question is NULL", lumen::api::ErrorKind::kInvalidInput);
    std::vector<std::string> images;
    if (image_path != nullptr) images.emplace_back(image_path);
    char* answer = c_string(model->model.ask(images, question));
    if (answer == nullptr) throw std::bad_alloc();
    return answer;
  });
}

void lumen_string_free(char* text) { std::free(text); }

void lumen_model_free(lumen_model* model) { delete model; }

char* lumen_default_model_dir(void) {
  try {
    return c_string(lumen::api::Model::default_dir());
  } catch (...) {
    return nullptr;
  }
}

const char* lumen_version(void) { return LUMEN_VERSION; }

}  // extern "C"
