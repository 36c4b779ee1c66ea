// A C++ program using the installed library through lumen.hpp and find_package(Lumen)
// (tests/install/consumer, run by tests/install/install_test.sh):
//   ask_cpp IMAGE QUESTION     streams the bundled model's answer and a newline, as `lumen ask`
//   ask_cpp --model-dir        prints the directory an empty dir loads
//   ask_cpp --errors           checks that bad input throws lumen::api::Error, never aborts
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <lumen/lumen.hpp>

namespace {

// Each call must throw lumen::api::Error of `kind`.
template <typename Call>
bool throws(const char* what, lumen::api::ErrorKind kind, Call&& call) {
  try {
    call();
  } catch (const lumen::api::Error& e) {
    if (e.kind() == kind) return true;
    std::fprintf(stderr, "ask_cpp: %s: wrong error kind: %s\n", what, e.what());
    return false;
  }
  std::fprintf(stderr, "ask_cpp: %s: no error\n", what);
  return false;
}

int check_errors(const char* image) {
  using lumen::api::ErrorKind;
  bool ok = throws("missing model dir", ErrorKind::kNotFound, [] { lumen::api::Model::load("/nonexistent/model"); });
  const lumen::api::Model model = lumen::api::Model::load();
  ok &= throws("missing image", ErrorKind::kNotFound, [&] { model.ask({"/nonexistent.png"}, "Hi"); });
  ok &= throws("bad option", ErrorKind::kInvalidInput, [&] {
    lumen::api::GenerateOptions options;
    options.max_tokens = -1;
    model.ask({image}, "Hi", options);
  });
  // A callback that stops after the first piece: the answer is that piece.
  std::string first;
  const std::string stopped = model.stream({image}, "Describe the image.", [&](std::string_view piece) {
    first = piece;
    return false;
  });
  if (stopped != first || first.empty()) {
    std::fprintf(stderr, "ask_cpp: stopping the stream gave '%s' after '%s'\n", stopped.c_str(), first.c_str());
    ok = false;
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--model-dir") == 0) {
    std::printf("%s\n", lumen::api::Model::default_dir().c_str());
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--errors") == 0) return check_errors(argv[2]);
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s IMAGE QUESTION | --model-dir | --errors IMAGE\n", argv[0]);
    return 2;
  }
  try {
    const lumen::api::Model model = lumen::api::Model::load();
    const std::string answer = model.stream({argv[1]}, argv[2], [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      return true;
    });
    std::fputc('\n', stdout);
    // The streamed pieces and the returned answer agree, and ask() returns the same.
    if (model.ask({argv[1]}, argv[2]) != answer) {
      std::fprintf(stderr, "ask_cpp: ask() and stream() differ\n");
      return 1;
    }
  } catch (const lumen::api::Error& e) {
    std::fprintf(stderr, "ask_cpp: %s\n", e.what());
    return 1;
  }
  return 0;
}
