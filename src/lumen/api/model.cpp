// lumen::api::Model and lumen::api::Chat (include/lumen/lumen.hpp) over the runtime: Engine,
// ChatSession. The embedding calls are in retrieval/embed.cpp (they need lumen_retrieval).
#include <algorithm>
#include <filesystem>
#include <span>

#include "lumen/api/model_impl.h"
#include "lumen/core/thread_pool.h"
#include "lumen/models/weight_quantization.h"
#include "lumen/runtime/chat_session.h"
#include "lumen/runtime/generator.h"
#include "lumen/text/chat_template.h"
#include "lumen/vision/image_decode.h"

namespace lumen::api {

ErrorKind public_kind(::lumen::ErrorKind kind) {
  switch (kind) {
    case ::lumen::ErrorKind::kInvalidInput: return ErrorKind::kInvalidInput;
    case ::lumen::ErrorKind::kNotFound: return ErrorKind::kNotFound;
    case ::lumen::ErrorKind::kLimitExceeded: return ErrorKind::kLimitExceeded;
    case ::lumen::ErrorKind::kIo: return ErrorKind::kIo;
    case ::lumen::ErrorKind::kInternal: return ErrorKind::kInternal;
    // The scheduler's (busy, shutting down, cancelled) never reach this API: it runs requests
    // itself, one at a time. Should one appear, it is a limit, not a bug in Lumen.
    case ::lumen::ErrorKind::kBusy:
    case ::lumen::ErrorKind::kUnavailable:
    case ::lumen::ErrorKind::kCancelled: return ErrorKind::kLimitExceeded;
  }
  return ErrorKind::kInternal;
}

Model::Impl& impl_of(const std::shared_ptr<Model::Impl>& impl) {
  if (!impl) throw Error("lumen: this Model was moved from", ErrorKind::kInvalidInput);
  return *impl;
}

namespace {

GenerationOptions generation_options(const GenerateOptions& options) {
  if (options.max_tokens < 0) fail("max_tokens must be >= 0, not ", options.max_tokens);
  GenerationOptions out;
  out.max_new_tokens = options.max_tokens;
  out.sampling.temperature = options.temperature;
  out.sampling.top_k = options.top_k;
  out.sampling.top_p = options.top_p;
  out.sampling.repetition_penalty = options.repetition_penalty;
  out.sampling.seed = options.seed;
  out.stop = options.stop;
  return out;
}

// Every image decoded before anything is encoded, so a bad file fails before any work.
std::vector<Image> load_images(const Engine& engine, const std::vector<std::string>& paths) {
  std::vector<Image> images;
  images.reserve(paths.size());
  for (const auto& path : paths) images.push_back(engine.load_image(path));
  return images;
}

// A reply as `lumen ask` and `lumen chat` print it (cli/conversation.cpp): the pieces as they
// stream, without the leading spaces the template leaves after "ASSISTANT:". Collects the text
// and passes each piece on to the caller's callback.
class ReplyCollector {
 public:
  explicit ReplyCollector(CallerCallback& caller) : caller_(caller) {}
  TextCallback callback() {
    return [this](std::string_view piece) {
      if (!started_) {
        const size_t skip = piece.find_first_not_of(' ');
        if (skip == std::string_view::npos) return true;
        piece.remove_prefix(skip);
        started_ = true;
      }
      text_.append(piece);
      return caller_(piece);
    };
  }
  std::string& text() { return text_; }

 private:
  CallerCallback& caller_;
  bool started_ = false;
  std::string text_;
};

// One user turn on `session`, collected as the CLI prints it.
std::string send_turn(ChatSession& session, const std::string& text, const GenerateOptions& options,
                      CallerCallback& caller) {
  ReplyCollector reply(caller);
  session.send(text, generation_options(options), reply.callback());
  return std::move(reply.text());
}

}  // namespace

Model::Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Model Model::load(const std::string& dir, const LoadOptions& options) {
  return translate_errors([&] {
    if (options.threads < 0) fail("threads must be >= 0, not ", options.threads);
    EngineOptions engine_options;
    engine_options.device = options.device;
    engine_options.image_limits.max_pixels = options.max_pixels;
    engine_options.alpha = parse_alpha_mode(options.alpha, "alpha");
    if (!options.quant.empty()) engine_options.quant.vision = engine_options.quant.llm = parse_weight_format(options.quant);
    auto impl = std::make_shared<Impl>();
    impl->dir = dir.empty() ? default_dir() : dir;
    if (options.threads > 0) ThreadPool::set_global_threads(options.threads);
    impl->engine = Engine::load(impl->dir, engine_options);
    return Model(std::move(impl));
  });
}

const std::string& Model::dir() const { return impl_of(impl_).dir; }

std::string Model::ask(const std::vector<std::string>& images, const std::string& question,
                       const GenerateOptions& options) const {
  return stream(images, question, {}, options);
}

std::string Model::stream(const std::vector<std::string>& images, const std::string& question,
                          const TextCallback& on_text, const GenerateOptions& options) const {
  Impl& impl = impl_of(impl_);
  CallerCallback caller(on_text);
  return with_callback(caller, [&] {
    // What `lumen ask` runs (cli/cmd_ask.cpp): one ChatSession, the images attached, one turn.
    std::lock_guard<std::mutex> lock(impl.mutex);
    const std::vector<Image> loaded = load_images(*impl.engine, images);
    ChatSession session(*impl.engine);
    session.attach_images(loaded);
    return send_turn(session, question, options, caller);
  });
}

std::vector<std::string> Model::caption(const std::vector<std::string>& images, const CaptionOptions& options) const {
  Impl& impl = impl_of(impl_);
  return translate_errors([&] {
    if (options.batch < 1) fail("batch must be >= 1, not ", options.batch);
    std::lock_guard<std::mutex> lock(impl.mutex);
    // As `lumen caption` runs (cli/cmd_caption.cpp): decode a batch, encode it in one vision
    // pass, then one conversation per image; the caption is the reply, trimmed.
    const Engine& engine = *impl.engine;
    const GenerationOptions generation = generation_options(options.generate);
    const size_t batch = static_cast<size_t>(options.batch);
    std::vector<std::string> captions;
    captions.reserve(images.size());
    for (size_t first = 0; first < images.size(); first += batch) {
      const size_t last = std::min(images.size(), first + batch);
      const std::vector<Image> decoded =
          load_images(engine, std::vector<std::string>(images.begin() + static_cast<std::ptrdiff_t>(first),
                                                       images.begin() + static_cast<std::ptrdiff_t>(last)));
      const std::vector<ImageEmbedding> embeds = engine.encode_images(decoded);
      for (const ImageEmbedding& image : embeds) {
        ChatSession session(engine);
        session.attach_encoded({&image, 1});
        captions.push_back(trim_whitespace(session.send(options.prompt, generation).text));
      }
    }
    return captions;
  });
}

// ---- Chat ----

struct Chat::Impl {
  explicit Impl(std::shared_ptr<Model::Impl> model_impl)
      : model(std::move(model_impl)), session(*model->engine) {}
  std::shared_ptr<Model::Impl> model;  // keeps the engine alive; its mutex guards `session`
  ChatSession session;
};

Chat::Chat(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Chat::Chat(Chat&&) noexcept = default;
Chat& Chat::operator=(Chat&&) noexcept = default;
Chat::~Chat() = default;

Chat Model::chat() const {
  const std::shared_ptr<Impl>& impl = impl_;
  impl_of(impl);
  return translate_errors([&] {
    std::lock_guard<std::mutex> lock(impl->mutex);
    return Chat(std::make_unique<Chat::Impl>(impl));
  });
}

namespace {
Chat::Impl& chat_impl(const std::unique_ptr<Chat::Impl>& impl) {
  if (!impl) throw Error("lumen: this Chat was moved from", ErrorKind::kInvalidInput);
  return *impl;
}
}  // namespace

std::string Chat::send(const std::string& text, const std::vector<std::string>& images, const GenerateOptions& options,
                       const TextCallback& on_text) {
  Impl& impl = chat_impl(impl_);
  CallerCallback caller(on_text);
  return with_callback(caller, [&] {
    std::lock_guard<std::mutex> lock(impl.model->mutex);
    impl.session.attach_images(load_images(*impl.model->engine, images));
    return send_turn(impl.session, text, options, caller);
  });
}

void Chat::attach(const std::vector<std::string>& images) {
  Impl& impl = chat_impl(impl_);
  translate_errors([&] {
    std::lock_guard<std::mutex> lock(impl.model->mutex);
    impl.session.attach_images(load_images(*impl.model->engine, images));
  });
}

void Chat::clear() {
  Impl& impl = chat_impl(impl_);
  translate_errors([&] {
    std::lock_guard<std::mutex> lock(impl.model->mutex);
    impl.session.clear();
  });
}

std::size_t Chat::turns() const {
  Impl& impl = chat_impl(impl_);
  std::lock_guard<std::mutex> lock(impl.model->mutex);
  return impl.session.turns().size();
}

}  // namespace lumen::api
