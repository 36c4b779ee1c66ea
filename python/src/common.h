// Shared pieces of the Python extension module lumen._lumen (issue 17): turning Python inputs
// into library types while the GIL is held, running library code with the GIL released, and
// mapping lumen::Error to the package's exception classes (lumen/_errors.py).
//
// The rule every binding follows: read Python objects (and copy what is needed out of them)
// with the GIL held, then release it for decoding, encoding and generation, and take it back
// only to call a Python callback or build the result. So two threads with two models compute
// at the same time, and a callback that raises (or a Ctrl-C) stops the work cleanly.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "lumen/runtime/generator.h"
#include "lumen/vision/image.h"
#include "lumen/vision/image_decode.h"

namespace lumen::python {

namespace py = pybind11;

// The library's worker pool is process-wide (core/thread_pool.h). Every computation holds this
// shared; set_threads holds it exclusively, so the pool is never replaced under a running call.
std::shared_mutex& pool_mutex();
// Replaces the pool when `threads` differs from its size (0: leave it). Call without the GIL.
void set_threads(int threads);
int current_threads();

// An image as the Python layer hands it over (lumen/_images.py has already turned PIL images
// and path-likes into these): a path (str), encoded bytes (bytes), or a C-contiguous uint8
// array [H, W] or [H, W, C] with C in 1..4. Copied out of Python so decoding needs no GIL.
struct ImageInput {
  enum class Kind { kPath, kBytes, kPixels } kind = Kind::kPath;
  std::string path;
  std::vector<uint8_t> data;         // kBytes: the file's bytes; kPixels: the pixels
  int64_t height = 0, width = 0, channels = 0;
  std::string label;                 // names the input in error messages
};
// GIL held. `index` and `count` make the label ("image 2 of 3") for non-path inputs.
ImageInput image_input(const py::handle& object, size_t index, size_t count);
std::vector<ImageInput> image_inputs(const py::sequence& objects);
// No GIL needed. Throws Error like the library's decoders.
Image decode_input(const ImageInput& input, const ImageLimits& limits, AlphaMode alpha);

// Sampling keyword arguments (validated by the Python layer's signatures) as the generator's
// options: max_tokens, temperature, top_k, top_p, repetition_penalty, seed, stop, ignore_eos.
GenerationOptions generation_options(const py::dict& sampling);

// Calls into Python from a thread that released the GIL. The first Python exception (from the
// callback, or a pending signal such as Ctrl-C) is kept, the library call is told to stop, and
// rethrow_pending() raises it once the GIL is held again.
class PythonCallbacks {
 public:
  // A TextCallback that checks for signals at every piece and passes pieces to `on_text` (may
  // be None); returning false cancels the generation.
  TextCallback text(py::object on_text);
  // Checks for signals and calls `fn` (may be None) with args; throws (stopping the library's
  // loop) when Python raised.
  void call(const py::object& fn, const std::function<py::tuple()>& args);
  bool failed() const { return static_cast<bool>(pending_); }
  // GIL held: raises the kept exception, if any.
  void rethrow_pending();

 private:
  std::exception_ptr pending_;
};

// Thrown through library loops to unwind them after a Python callback failed.
struct CallbackAbort {};

// Error classes the Python package defines, by ErrorKind; set once at import.
void set_error_classes(py::object invalid_input, py::object not_found, py::object limit_exceeded, py::object io,
                       py::object internal);
// pybind11 translator: lumen::Error -> the class of its kind, with the library's message.
void register_error_translator();

// Path of the model bundled with the source tree this module was built from.
std::string source_model_dir();

void bind_model(py::module_& m);
void bind_index(py::module_& m);

}  // namespace lumen::python
