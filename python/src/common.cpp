#include "common.h"

#include <memory>
#include <mutex>

#include "lumen/core/error.h"
#include "lumen/core/thread_pool.h"
#include "lumen/vision/image_from_pixels.h"

namespace lumen::python {

std::shared_mutex& pool_mutex() {
  static std::shared_mutex mutex;
  return mutex;
}

void set_threads(int threads) {
  if (threads <= 0) return;
  std::unique_lock<std::shared_mutex> lock(pool_mutex());
  if (ThreadPool::global().size() != threads) ThreadPool::set_global_threads(threads);
}

int current_threads() {
  std::shared_lock<std::shared_mutex> lock(pool_mutex());
  return ThreadPool::global().size();
}

ImageInput image_input(const py::handle& object, size_t index, size_t count) {
  ImageInput input;
  input.label = count > 1 ? "image " + std::to_string(index + 1) + " of " + std::to_string(count) : "image";
  if (py::isinstance<py::str>(object)) {
    input.kind = ImageInput::Kind::kPath;
    input.path = object.cast<std::string>();
    input.label = input.path;
    return input;
  }
  if (py::isinstance<py::bytes>(object)) {
    input.kind = ImageInput::Kind::kBytes;
    const std::string bytes = object.cast<std::string>();
    input.data.assign(bytes.begin(), bytes.end());
    return input;
  }
  if (py::isinstance<py::buffer>(object)) {
    const py::buffer_info info = py::reinterpret_borrow<py::buffer>(object).request();
    // The Python layer passes np.ascontiguousarray(uint8); check anyway, never trust a buffer.
    if (info.itemsize != 1 || (info.format != "B" && info.format != "=B" && info.format != "<B")) {
      fail(input.label, ": an image array must hold uint8 values (format '", info.format, "')");
    }
    if (info.ndim != 2 && info.ndim != 3) fail(input.label, ": an image array must be HxW or HxWxC, not ", info.ndim, "-D");
    const int64_t channels = info.ndim == 3 ? info.shape[2] : 1;
    const py::ssize_t row = info.shape[1] * channels;
    if ((info.ndim == 3 && info.strides[2] != 1) || info.strides[1] != channels || info.strides[0] != row) {
      fail(input.label, ": an image array must be C-contiguous");
    }
    input.kind = ImageInput::Kind::kPixels;
    input.height = info.shape[0];
    input.width = info.shape[1];
    input.channels = channels;
    const auto* begin = static_cast<const uint8_t*>(info.ptr);
    input.data.assign(begin, begin + info.shape[0] * row);
    return input;
  }
  fail(input.label, ": expected a path, bytes or a uint8 array, not ", py::str(object.get_type().attr("__name__")).cast<std::string>());
}

std::vector<ImageInput> image_inputs(const py::sequence& objects) {
  std::vector<ImageInput> inputs;
  const size_t count = objects.size();
  for (size_t i = 0; i < count; ++i) inputs.push_back(image_input(objects[i], i, count));
  return inputs;
}

Image decode_input(const ImageInput& input, const ImageLimits& limits, AlphaMode alpha) {
  switch (input.kind) {
    case ImageInput::Kind::kPath:
      return load_image(input.path, limits, alpha);
    case ImageInput::Kind::kBytes:
      if (input.data.empty()) fail(input.label, ": empty bytes");
      return decode_image(input.data, limits, input.label, alpha);
    case ImageInput::Kind::kPixels:
      return image_from_pixels(input.data, input.height, input.width, input.channels, limits, alpha, input.label);
  }
  fail_kind(ErrorKind::kInternal, input.label, ": unknown image input");
}

GenerationOptions generation_options(const py::dict& sampling) {
  GenerationOptions options;
  for (const auto& [key_handle, value] : sampling) {
    const std::string key = py::str(key_handle);
    if (value.is_none()) continue;
    if (key == "max_tokens") {
      options.max_new_tokens = value.cast<int64_t>();
    } else if (key == "temperature") {
      options.sampling.temperature = value.cast<float>();
    } else if (key == "top_k") {
      options.sampling.top_k = value.cast<int32_t>();
    } else if (key == "top_p") {
      options.sampling.top_p = value.cast<float>();
    } else if (key == "repetition_penalty") {
      options.sampling.repetition_penalty = value.cast<float>();
    } else if (key == "seed") {
      const int64_t seed = value.cast<int64_t>();
      if (seed < 0) fail("seed must be >= 0, not ", seed);
      options.sampling.seed = static_cast<uint64_t>(seed);
    } else if (key == "stop") {
      options.stop = value.cast<std::vector<std::string>>();
    } else if (key == "ignore_eos") {
      options.ignore_eos = value.cast<bool>();
    } else {
      fail("unknown sampling option '", key, "'");
    }
  }
  if (options.max_new_tokens < 0) fail("max_tokens must be >= 0, not ", options.max_new_tokens);
  options.sampling.validate();
  return options;
}

TextCallback PythonCallbacks::text(py::object on_text) {
  return [this, on_text = std::move(on_text)](std::string_view piece) {
    if (pending_) return false;
    py::gil_scoped_acquire gil;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (on_text.is_none()) return true;
      // Pieces end on UTF-8 character boundaries (the generator holds back partial ones), but
      // a model can still write invalid bytes: replace them rather than fail.
      py::object text = py::reinterpret_steal<py::object>(
          PyUnicode_DecodeUTF8(piece.data(), static_cast<py::ssize_t>(piece.size()), "replace"));
      if (!text) throw py::error_already_set();
      py::object keep_going = on_text(text);
      return keep_going.is_none() || keep_going.cast<bool>();
    } catch (...) {
      pending_ = std::current_exception();
      return false;
    }
  };
}

void PythonCallbacks::call(const py::object& fn, const std::function<py::tuple()>& args) {
  if (pending_) throw CallbackAbort{};
  py::gil_scoped_acquire gil;
  try {
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (!fn.is_none()) fn(*args());
  } catch (...) {
    pending_ = std::current_exception();
    throw CallbackAbort{};
  }
}

void PythonCallbacks::rethrow_pending() {
  if (!pending_) return;
  std::exception_ptr pending = pending_;
  pending_ = nullptr;
  std::rethrow_exception(pending);
}

namespace {
// Leaked on purpose: they must outlive every translation, including at interpreter exit.
py::object* g_error_classes[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};

size_t kind_index(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return 0;
    case ErrorKind::kNotFound: return 1;
    case ErrorKind::kLimitExceeded: return 2;
    case ErrorKind::kIo: return 3;
    // The scheduler's kinds (at capacity, shutting down, cancelled) never reach Python: the
    // package runs no scheduler.
    case ErrorKind::kBusy:
    case ErrorKind::kUnavailable:
    case ErrorKind::kCancelled:
    case ErrorKind::kInternal: return 4;
  }
  return 4;
}
}  // namespace

void set_error_classes(py::object invalid_input, py::object not_found, py::object limit_exceeded, py::object io,
                       py::object internal) {
  py::object classes[5] = {invalid_input, not_found, limit_exceeded, io, internal};
  for (size_t i = 0; i < 5; ++i) {
    delete g_error_classes[i];
    g_error_classes[i] = new py::object(classes[i]);
  }
}

void register_error_translator() {
  py::register_exception_translator([](std::exception_ptr pending) {
    if (!pending) return;
    try {
      std::rethrow_exception(pending);
    } catch (const Error& e) {
      py::object* cls = g_error_classes[kind_index(e.kind())];
      PyErr_SetString(cls != nullptr ? cls->ptr() : PyExc_RuntimeError, e.what());
    } catch (const CallbackAbort&) {
      PyErr_SetString(PyExc_RuntimeError, "lumen: a Python callback failed");
    }
  });
}

std::string source_model_dir() { return LUMEN_SOURCE_MODEL_DIR; }

}  // namespace lumen::python
