#include "model.h"

#include <pybind11/numpy.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <variant>

#include "lumen/core/error.h"
#include "lumen/models/siglip_dual.h"
#include "lumen/models/weight_quantization.h"
#include "lumen/retrieval/imp_embedder.h"
#include "lumen/runtime/chat_session.h"
#include "lumen/text/chat_template.h"

namespace lumen::python {

namespace {

// The reply as `lumen ask` prints it: the template leaves a space after "ASSISTANT:".
std::string without_leading_spaces(const std::string& text) {
  const size_t begin = text.find_first_not_of(' ');
  return begin == std::string::npos ? "" : text.substr(begin);
}

py::str utf8(const std::string& text) {
  return py::reinterpret_steal<py::str>(
      PyUnicode_DecodeUTF8(text.data(), static_cast<py::ssize_t>(text.size()), "replace"));
}

py::array_t<float> rows_array(const std::vector<float>& data, size_t rows, size_t cols) {
  py::array_t<float> out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
  if (!data.empty()) std::memcpy(out.mutable_data(), data.data(), data.size() * sizeof(float));
  return out;
}

// Runs `body` with the GIL released, the pool held shared and the model to itself; Python
// callbacks made inside it raise here once the GIL is back.
template <typename Body>
auto compute(PyModel& model, PythonCallbacks& callbacks, Body&& body) {
  using Result = decltype(body());
  std::optional<Result> result;
  std::exception_ptr error;
  {
    py::gil_scoped_release release;
    std::shared_lock<std::shared_mutex> pool(pool_mutex());
    std::lock_guard<std::mutex> lock(model.mutex());
    try {
      result.emplace(body());
    } catch (...) {
      error = std::current_exception();
    }
  }
  // A Python callback's exception (or Ctrl-C) is what stopped the work: it wins.
  callbacks.rethrow_pending();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

// One question about `images` (already encoded, one embedding each), as `lumen ask` runs it
// (cli/cmd_ask.cpp): a chat session with the images attached, one turn.
GenerationResult answer(const Engine& engine, std::span<const ImageEmbedding> images, const std::string& question,
                        const GenerationOptions& options, const TextCallback& on_text) {
  ChatSession session(engine);
  session.attach_encoded(images);
  return session.send(question, options, on_text);
}

// lumen._lumen.Chat: a ChatSession on a model, kept alive by the session.
class PyChat {
 public:
  explicit PyChat(std::shared_ptr<PyModel> model) : model_(std::move(model)), session_(model_->engine()) {}

  // Reads session state under the model's lock, taken without the GIL (a send holding the lock
  // may be waiting for the GIL to call back into Python).
  template <typename Read>
  auto locked(Read&& read) {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(model_->mutex());
    return read();
  }


  std::string send(const std::string& text, const py::sequence& images, const py::dict& sampling, py::object on_text) {
    const std::vector<ImageInput> inputs = image_inputs(images);
    const GenerationOptions options = generation_options(sampling);
    PythonCallbacks callbacks;
    const TextCallback callback = callbacks.text(std::move(on_text));
    GenerationResult result = compute(*model_, callbacks, [&] {
      const std::vector<Image> decoded = decode_inputs(*model_, inputs);  // all, before attaching any
      session_.attach_images(decoded);
      return session_.send(text, options, callback);
    });
    last_ = {{"prompt_positions", result.timings.prompt_positions},
             {"cached_positions", result.timings.cached_positions},
             {"prefilled_positions", result.timings.prompt_positions - result.timings.cached_positions},
             {"completion_tokens", static_cast<int64_t>(result.tokens.size())},
             {"finish_reason", result.finish_reason},
             {"prefill_ms", result.timings.prefill_ms},
             {"decode_ms", result.timings.decode_ms}};
    return without_leading_spaces(result.text);
  }

  void attach(const py::sequence& images) {
    const std::vector<ImageInput> inputs = image_inputs(images);
    PythonCallbacks callbacks;
    compute(*model_, callbacks, [&] {
      session_.attach_images(decode_inputs(*model_, inputs));
      return 0;
    });
  }

  void clear() {
    PythonCallbacks callbacks;
    compute(*model_, callbacks, [&] {
      session_.clear();
      return 0;
    });
  }

  py::list history() {
    std::vector<ChatTurn> copied = locked([&] { return session_.turns(); });
    py::list turns;
    for (const ChatTurn& turn : copied) {
      turns.append(py::make_tuple(turn.role == ChatTurn::Role::kUser ? "user" : "assistant", utf8(turn.text), turn.images));
    }
    return turns;
  }

  int64_t cached_positions() {
    return locked([&] { return session_.cached_positions(); });
  }
  int pending_images() {
    return locked([&] { return session_.pending_images(); });
  }
  py::dict last_usage() const {
    py::dict usage;
    for (const auto& [key, value] : last_) usage[py::str(key)] = py::cast(value);
    return usage;
  }

 private:
  using UsageValue = std::variant<int64_t, double, std::string>;
  std::shared_ptr<PyModel> model_;
  ChatSession session_;
  std::vector<std::pair<std::string, UsageValue>> last_;
};

}  // namespace

PyModel::PyModel(const ModelOptions& options) {
  limits_.max_pixels = options.max_pixels;
  alpha_ = parse_alpha_mode(options.alpha, "alpha");
  device_ = options.device;
  std::error_code ec;
  dir_ = std::filesystem::absolute(options.path, ec);
  if (ec) dir_ = options.path;
  if (!std::filesystem::is_directory(dir_, ec)) {
    fail_kind(ErrorKind::kNotFound, options.path, ": no such model directory");
  }
  const auto& methods = embedder_methods();
  if (std::find(methods.begin(), methods.end(), options.embedding) == methods.end()) {
    fail("unknown embedding method '", options.embedding, "' (expected auto, siglip, caption or prompt)");
  }
  set_threads(options.threads);
  if (is_siglip_dual_dir(dir_)) {
    if (options.device != "cpu") fail(dir_.string(), ": a SigLIP dual encoder runs on the CPU only");
    if (!options.quant_vision.empty() || !options.quant_llm.empty()) {
      fail(dir_.string(), ": quant is not supported for a SigLIP dual encoder");
    }
    if (options.embedding != "auto" && options.embedding != "siglip") {
      fail(dir_.string(), ": a SigLIP dual encoder embeds with the siglip method, not ", options.embedding);
    }
    EmbedderOptions embedder_options;
    embedder_options.method = "siglip";
    embedder_options.image_limits = limits_;
    embedder_options.alpha = alpha_;
    std::shared_lock<std::shared_mutex> pool(pool_mutex());
    siglip_ = load_embedder(dir_, embedder_options);
    default_method_ = "siglip";
    return;
  }
  if (options.embedding == "siglip") {
    fail(dir_.string(), ": the siglip method needs a SigLIP dual encoder (config.json model_type \"siglip\")");
  }
  EngineOptions engine_options;
  engine_options.image_limits = limits_;
  engine_options.alpha = alpha_;
  engine_options.device = options.device;
  if (!options.quant_vision.empty()) engine_options.quant.vision = parse_weight_format(options.quant_vision);
  if (!options.quant_llm.empty()) engine_options.quant.llm = parse_weight_format(options.quant_llm);
  std::shared_lock<std::shared_mutex> pool(pool_mutex());
  engine_ = Engine::load(dir_, engine_options);
  default_method_ = options.embedding == "auto" ? "caption" : options.embedding;
}

const Engine& PyModel::engine() const {
  if (!engine_) fail(dir_.string(), ": a SigLIP dual encoder has no language model; it can only embed");
  return *engine_;
}

const Embedder& PyModel::embedder(const std::string& requested) {
  const std::string method = requested.empty() || requested == "auto" ? default_method_ : requested;
  if (siglip_) {
    if (method != "siglip") fail(dir_.string(), ": a SigLIP dual encoder embeds with the siglip method, not ", method);
    return *siglip_;
  }
  auto it = embedders_.find(method);
  if (it != embedders_.end()) return *it->second;
  std::unique_ptr<Embedder> made;
  if (method == "caption") {
    EmbedderOptions options;
    options.method = method;
    options.image_limits = limits_;
    options.alpha = alpha_;
    made = std::make_unique<ImpCaptionEmbedder>(engine_, options);
  } else if (method == "prompt") {
    made = std::make_unique<ImpPromptEmbedder>(engine_);
  } else if (method == "siglip") {
    fail(dir_.string(), ": the siglip method needs a SigLIP dual encoder (config.json model_type \"siglip\")");
  } else {
    fail("unknown embedding method '", method, "' (expected auto, siglip, caption or prompt)");
  }
  return *embedders_.emplace(method, std::move(made)).first->second;
}

std::vector<Image> decode_inputs(const PyModel& model, const std::vector<ImageInput>& inputs) {
  std::vector<Image> images;
  images.reserve(inputs.size());
  for (const ImageInput& input : inputs) images.push_back(decode_input(input, model.limits(), model.alpha()));
  return images;
}

void bind_model(py::module_& m) {
  py::class_<PyModel, std::shared_ptr<PyModel>>(m, "Model", "A loaded checkpoint (internal; use lumen.Model).")
      .def(py::init([](const std::string& path, int threads, const std::string& quant_vision,
                       const std::string& quant_llm, const std::string& device, const std::string& alpha,
                       uint64_t max_pixels, const std::string& embedding) {
             ModelOptions options{path, threads, quant_vision, quant_llm, device, alpha, max_pixels, embedding};
             py::gil_scoped_release release;
             return std::make_shared<PyModel>(options);
           }),
           py::arg("path"), py::arg("threads"), py::arg("quant_vision"), py::arg("quant_llm"), py::arg("device"),
           py::arg("alpha"), py::arg("max_pixels"), py::arg("embedding"))
      .def_property_readonly("path", [](const PyModel& self) { return self.dir().string(); })
      .def_property_readonly("device", &PyModel::device)
      .def_property_readonly("has_language_model", &PyModel::has_language_model)
      .def_property_readonly("embedding_method", &PyModel::default_method)
      .def_property_readonly("alpha", [](const PyModel& self) { return std::string(alpha_mode_name(self.alpha())); })
      .def_property_readonly("max_pixels", [](const PyModel& self) { return self.limits().max_pixels; })
      .def_property_readonly("image_size",
                             [](const PyModel& self) { return self.engine().model().config().vision.image_size; })
      .def_property_readonly("tokens_per_image",
                             [](const PyModel& self) { return self.engine().model().tokens_per_image(); })
      .def_property_readonly("context_length",
                             [](const PyModel& self) { return self.engine().model().config().text.max_positions; })
      .def_property_readonly("chat_template",
                             [](const PyModel& self) { return self.engine().chat_template().name; })
      .def("ask",
           [](PyModel& self, const py::sequence& images, const std::string& question, const py::dict& sampling,
              py::object on_text) {
             self.engine();  // a SigLIP dual encoder cannot answer: say so before decoding anything
             const std::vector<ImageInput> inputs = image_inputs(images);
             const GenerationOptions options = generation_options(sampling);
             PythonCallbacks callbacks;
             const TextCallback callback = callbacks.text(std::move(on_text));
             const GenerationResult result = compute(self, callbacks, [&] {
               const Engine& engine = self.engine();
               // Every image is decoded before anything is encoded, so a bad one fails fast.
               const std::vector<Image> decoded = decode_inputs(self, inputs);
               return answer(engine, engine.encode_images(decoded), question, options, callback);
             });
             return utf8(without_leading_spaces(result.text));
           })
      .def("caption",
           [](PyModel& self, const py::sequence& images, int64_t batch, const std::string& prompt,
              const py::dict& sampling, py::object progress) {
             self.engine();
             if (batch < 1) fail("batch must be >= 1, not ", batch);
             const std::vector<ImageInput> inputs = image_inputs(images);
             const GenerationOptions options = generation_options(sampling);
             PythonCallbacks callbacks;
             const TextCallback check_signals = callbacks.text(py::none());
             const size_t total = inputs.size();
             std::vector<std::string> captions = compute(self, callbacks, [&] {
               // As `lumen caption` does: decode a batch, encode it in one vision pass, then one
               // conversation per image.
               const Engine& engine = self.engine();
               std::vector<std::string> out;
               for (size_t first = 0; first < total; first += static_cast<size_t>(batch)) {
                 const size_t last = std::min(total, first + static_cast<size_t>(batch));
                 std::vector<Image> decoded;
                 for (size_t i = first; i < last; ++i) decoded.push_back(decode_input(inputs[i], self.limits(), self.alpha()));
                 const std::vector<ImageEmbedding> embeds = engine.encode_images(decoded);
                 for (const ImageEmbedding& image : embeds) {
                   const GenerationResult r = answer(engine, {&image, 1}, prompt, options, check_signals);
                   if (callbacks.failed()) throw CallbackAbort{};
                   out.push_back(trim_whitespace(r.text));
                   callbacks.call(progress, [&] { return py::make_tuple(out.size(), total); });
                 }
               }
               return out;
             });
             py::list result;
             for (const auto& caption : captions) result.append(utf8(caption));
             return result;
           })
      .def("embed_images",
           [](PyModel& self, const py::sequence& images, const std::string& method) {
             const std::vector<ImageInput> inputs = image_inputs(images);
             PythonCallbacks callbacks;
             int64_t dim = 0;
             std::vector<float> vectors = compute(self, callbacks, [&] {
               const Embedder& embedder = self.embedder(method);
               dim = embedder.dim();
               return embedder.embed_images(decode_inputs(self, inputs));
             });
             return rows_array(vectors, inputs.size(), static_cast<size_t>(dim));
           })
      .def("embed_texts",
           [](PyModel& self, const std::vector<std::string>& texts, const std::string& method) {
             PythonCallbacks callbacks;
             int64_t dim = 0;
             std::vector<float> vectors = compute(self, callbacks, [&] {
               const Embedder& embedder = self.embedder(method);
               dim = embedder.dim();
               return embedder.embed_texts(texts);
             });
             return rows_array(vectors, texts.size(), static_cast<size_t>(dim));
           })
      .def("embedding_dim",
           [](PyModel& self, const std::string& method) {
             py::gil_scoped_release release;
             std::lock_guard<std::mutex> lock(self.mutex());
             return self.embedder(method).dim();
           })
      .def("preprocess",
           [](PyModel& self, const py::object& image) {
             const ImageInput input = image_input(image, 0, 1);
             PythonCallbacks callbacks;
             std::vector<float> pixels = compute(self, callbacks, [&] {
               return self.engine().preprocess(decode_input(input, self.limits(), self.alpha()));
             });
             const int64_t size = self.engine().model().config().vision.image_size;
             py::array_t<float> out({int64_t{3}, size, size});
             std::memcpy(out.mutable_data(), pixels.data(), pixels.size() * sizeof(float));
             return out;
           })
      .def("decode_image",
           [](PyModel& self, const py::object& image) {
             const ImageInput input = image_input(image, 0, 1);
             Image decoded;
             {
               py::gil_scoped_release release;
               decoded = decode_input(input, self.limits(), self.alpha());
             }
             py::array_t<uint8_t> out({int64_t{decoded.height}, int64_t{decoded.width}, int64_t{3}});
             std::memcpy(out.mutable_data(), decoded.rgb.data(), decoded.rgb.size());
             return out;
           })
      .def("tokenize", [](PyModel& self, const std::string& text) { return self.engine().tokenizer().encode(text); })
      .def("detokenize",
           [](PyModel& self, const std::vector<int32_t>& ids) { return utf8(self.engine().tokenizer().decode(ids)); })
      .def("chat", [](std::shared_ptr<PyModel> self) {
        self->engine();
        return std::make_shared<PyChat>(self);
      });

  py::class_<PyChat, std::shared_ptr<PyChat>>(m, "Chat", "A chat session (internal; use lumen.Model.chat).")
      .def("send", &PyChat::send, py::arg("text"), py::arg("images"), py::arg("sampling"), py::arg("on_text"))
      .def("attach", &PyChat::attach)
      .def("clear", &PyChat::clear)
      .def_property_readonly("history", &PyChat::history)
      .def_property_readonly("cached_positions", &PyChat::cached_positions)
      .def_property_readonly("pending_images", &PyChat::pending_images)
      .def_property_readonly("last_usage", &PyChat::last_usage);
}

}  // namespace lumen::python
