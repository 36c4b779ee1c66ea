// Writes the generated part of the fuzzers' seed corpora (scripts/fuzz.sh adds the files from
// tests/data and models/ itself):
//   safetensors_header/, checkpoint_dir/  small valid checkpoints of every dtype, plus the real
//                                         fixtures' headers with their data cut off
//   png/, jpeg/                           every PNG colour type and bit depth, interlaced,
//                                         palette + tRNS; gray, YCbCr, CMYK, progressive JPEG
//   tokenizer/, chat_template/            the texts of the fixtures' tokenizer_cases.json
//   chat_request/                         /v1/chat/completions bodies (text, data: URL images,
//                                         streaming, stop strings, sampling parameters)
// Usage: fuzz_make_seeds OUT_DIR
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hardening/image_writers.h"
#include "lumen/core/mapped_file.h"
#include "lumen/formats/safetensors.h"
#include "lumen/server/base64.h"

namespace fs = std::filesystem;
using lumen::hardening::Bytes;

namespace {

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
void write(const fs::path& path, const Bytes& bytes) { write(path, std::string(bytes.begin(), bytes.end())); }

std::string small_checkpoint(const fs::path& scratch, int variant) {
  std::vector<uint8_t> blob(4096);
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<uint8_t>(i * 13);
  std::vector<lumen::TensorToWrite> tensors;
  std::map<std::string, std::string> metadata;
  switch (variant) {
    case 0:
      tensors = {{"model.embed_tokens.weight", lumen::DType::kF16, {8, 4}, blob.data(), 64},
                 {"model.final_layernorm.weight", lumen::DType::kF32, {4}, blob.data(), 16},
                 {"model.final_layernorm.bias", lumen::DType::kF32, {4}, blob.data(), 16}};
      metadata = {{"format", "pt"}};
      break;
    case 1:
      tensors = {{"a", lumen::DType::kBF16, {2, 3}, blob.data(), 12},
                 {"b", lumen::DType::kI64, {2}, blob.data(), 16},
                 {"c", lumen::DType::kU8, {0}, blob.data(), 0},
                 {"d", lumen::DType::kBool, {}, blob.data(), 1},
                 {"e", lumen::DType::kF64, {1, 1, 1}, blob.data(), 8}};
      break;
    case 2:
      tensors = {{"q8", lumen::DType::kQ8_0, {2, 32}, blob.data(), 68},
                 {"q4", lumen::DType::kQ4_0, {1, 64}, blob.data(), 36},
                 {"i8", lumen::DType::kI8, {5}, blob.data(), 5},
                 {"i32", lumen::DType::kI32, {3}, blob.data(), 12}};
      metadata = {{"format", "lumen-q8_0"}, {"lumen.quantized", "1"}};
      break;
  }
  const fs::path path = scratch / "seed.safetensors";
  lumen::write_safetensors(path, tensors, metadata);
  return lumen::read_text_file(path);
}

// The 8-byte prefix and JSON header of a real checkpoint, then a little data.
std::string header_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  char prefix[8];
  in.read(prefix, 8);
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<uint8_t>(prefix[i]);
  std::string out(prefix, 8);
  std::string header(len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(len));
  return out + header + std::string(64, '\0');
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path source = LUMEN_SOURCE_DIR;
  const fs::path fixtures = source / "tests" / "data" / "fixtures";
  fs::create_directories(out);

  // Checkpoints.
  for (int v = 0; v < 3; ++v) {
    const std::string file = small_checkpoint(out, v);
    write(out / "safetensors_header" / ("small_" + std::to_string(v)), file);
    write(out / "checkpoint_dir" / ("single_" + std::to_string(v)), file);
    nlohmann::json index = {{"metadata", {{"total_size", file.size()}}}, {"weight_map", nlohmann::json::object()}};
    for (const std::string name : {"a", "q8", "model.embed_tokens.weight"}) {
      index["weight_map"][name] = "model-00001-of-00001.safetensors";
    }
    write(out / "checkpoint_dir" / ("sharded_" + std::to_string(v)), index.dump(2) + "\n----\n" + file);
  }
  fs::remove(out / "seed.safetensors");
  for (const char* name : {"imp-tiny-a", "imp-tiny-b-msft", "siglip-tiny"}) {
    const std::string header = header_of(fixtures / name / "model.safetensors");
    write(out / "safetensors_header" / (std::string("fixture_") + name), header);
    write(out / "checkpoint_dir" / (std::string("fixture_") + name), header);
  }

  // PNG: every colour type at every bit depth it allows, plain and interlaced.
  struct PngKind {
    int color_type;
    std::vector<int> depths;
  };
  const PngKind kinds[] = {{PNG_COLOR_TYPE_GRAY, {1, 2, 4, 8, 16}},
                           {PNG_COLOR_TYPE_GRAY_ALPHA, {8, 16}},
                           {PNG_COLOR_TYPE_RGB, {8, 16}},
                           {PNG_COLOR_TYPE_RGB_ALPHA, {8, 16}},
                           {PNG_COLOR_TYPE_PALETTE, {1, 2, 4, 8}}};
  for (const PngKind& kind : kinds) {
    for (int depth : kind.depths) {
      for (bool interlace : {false, true}) {
        const auto spec = lumen::hardening::png_pattern(interlace ? 9 : 7, 5, kind.color_type, depth, interlace);
        write(out / "png" /
                  ("type" + std::to_string(kind.color_type) + "_depth" + std::to_string(depth) +
                   (interlace ? "_interlaced" : "")),
              lumen::hardening::encode_png(spec));
      }
    }
  }
  write(out / "png" / "claims_huge", lumen::hardening::png_claiming(100000, 100000));

  // JPEG: gray, YCbCr, CMYK; baseline, progressive, with restart markers.
  using lumen::hardening::jpeg_pattern;
  write(out / "jpeg" / "gray", lumen::hardening::encode_jpeg(jpeg_pattern(13, 9, 1, JCS_GRAYSCALE)));
  write(out / "jpeg" / "rgb", lumen::hardening::encode_jpeg(jpeg_pattern(17, 11, 3, JCS_RGB)));
  write(out / "jpeg" / "rgb_progressive", lumen::hardening::encode_jpeg(jpeg_pattern(17, 11, 3, JCS_RGB, true)));
  write(out / "jpeg" / "cmyk", lumen::hardening::encode_jpeg(jpeg_pattern(10, 6, 4, JCS_CMYK)));
  auto restarts = jpeg_pattern(24, 24, 3, JCS_RGB);
  restarts.restart_rows = 1;
  write(out / "jpeg" / "rgb_restarts", lumen::hardening::encode_jpeg(restarts));
  write(out / "jpeg" / "claims_huge", lumen::hardening::jpeg_claiming(65000, 65000));

  // Texts for the tokenizer and the chat template.
  int n = 0;
  for (const char* name : {"imp-tiny-a", "imp-tiny-b-msft"}) {
    const auto cases = nlohmann::json::parse(lumen::read_text_file(fixtures / name / "tokenizer_cases.json"));
    for (const auto& c : cases) {
      const std::string text = c.value("text", "");
      write(out / "tokenizer" / ("case_" + std::to_string(n)), text);
      // FuzzedDataProvider reads integers from the end: template 0 (phi2), 2 turns.
      write(out / "chat_template" / ("case_" + std::to_string(n)), text + std::string("\x01\x00\x00\x02\x00", 5));
      ++n;
    }
  }
  // /v1/chat/completions bodies.
  const Bytes png = lumen::hardening::encode_png(lumen::hardening::png_pattern(4, 3, PNG_COLOR_TYPE_RGB, 8));
  const Bytes jpeg = lumen::hardening::encode_jpeg(jpeg_pattern(8, 8, 3, JCS_RGB));
  const std::string png_url = "data:image/png;base64," + lumen::server::encode_base64(png.data(), png.size());
  const std::string jpeg_url = "data:image/jpeg;base64," + lumen::server::encode_base64(jpeg.data(), jpeg.size());
  const nlohmann::json bodies[] = {
      {{"model", "imp"}, {"messages", {{{"role", "user"}, {"content", "Hello"}}}}},
      {{"model", "imp"},
       {"max_tokens", 16},
       {"temperature", 0.7},
       {"top_p", 0.9},
       {"seed", 3},
       {"stop", {"\n", "USER:"}},
       {"messages",
        {{{"role", "system"}, {"content", "Be brief."}},
         {{"role", "user"},
          {"content",
           {{{"type", "text"}, {"text", "What is in the image?"}},
            {{"type", "image_url"}, {"image_url", {{"url", png_url}}}}}}},
         {{"role", "assistant"}, {"content", "A square."}},
         {{"role", "user"},
          {"content", {{{"type", "image_url"}, {"image_url", {{"url", jpeg_url}}}}, {{"type", "text"}, {"text", "And here?"}}}}}}}},
      {{"model", "imp"},
       {"stream", true},
       {"stream_options", {{"include_usage", true}}},
       {"top_k", 5},
       {"repetition_penalty", 1.1},
       {"ignore_eos", true},
       {"max_completion_tokens", 4},
       {"messages", {{{"role", "developer"}, {"content", "x"}}, {{"role", "user"}, {"content", "<image>"}}}}},
  };
  n = 0;
  for (const auto& body : bodies) write(out / "chat_request" / ("body_" + std::to_string(n++)), body.dump());

  std::printf("seeds written to %s\n", out.c_str());
  return 0;
}
