// Decoding and RGB conversion. Expected pixel values for the special PNG/JPEG modes were
// produced by PIL (Image.open + transformers' convert_to_rgb) on the same bytes.
#include "lumen/vision/image_decode.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "lumen/core/error.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------------------------
// Writers for test inputs

// A PNG to write with libpng: rows are raw PNG samples (packed below 8 bits, big-endian at 16).
struct PngSpec {
  int width = 0, height = 0, bit_depth = 8, color_type = PNG_COLOR_TYPE_RGB;
  bool interlace = false;
  std::vector<Bytes> rows;
  std::vector<png_color> palette;
  Bytes trans_alpha;                     // palette images
  const png_color_16* trans_color = nullptr;  // gray / RGB images
};

struct PngWriteState {
  Bytes* out;
  char message[256];
};

void png_write_to_vector(png_structp png, png_bytep data, size_t n) {
  auto* state = static_cast<PngWriteState*>(png_get_io_ptr(png));
  state->out->insert(state->out->end(), data, data + n);
}
void png_write_flush(png_structp) {}
[[noreturn]] void png_test_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngWriteState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  png_longjmp(png, 1);
}

// Guarded (setjmp) part of encode_png: only trivial locals.
bool encode_png_guarded(png_structp png, png_infop info, PngWriteState* state, const PngSpec* spec,
                        png_bytepp rows) {
  if (setjmp(png_jmpbuf(png)) != 0) return false;
  png_set_write_fn(png, state, png_write_to_vector, png_write_flush);
  png_set_IHDR(png, info, spec->width, spec->height, spec->bit_depth, spec->color_type,
               spec->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!spec->palette.empty()) {
    png_set_PLTE(png, info, spec->palette.data(), static_cast<int>(spec->palette.size()));
  }
  if (!spec->trans_alpha.empty()) {
    png_set_tRNS(png, info, spec->trans_alpha.data(), static_cast<int>(spec->trans_alpha.size()), nullptr);
  } else if (spec->trans_color != nullptr) {
    png_set_tRNS(png, info, nullptr, 1, spec->trans_color);
  }
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

Bytes encode_png(const PngSpec& spec) {
  Bytes out;
  PngWriteState state{&out, {}};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, png_test_error, nullptr);
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows;
  std::vector<Bytes> row_copies = spec.rows;
  for (auto& row : row_copies) rows.push_back(row.data());
  const bool ok = encode_png_guarded(png, info, &state, &spec, rows.data());
  png_destroy_write_struct(&png, &info);
  if (!ok) ADD_FAILURE() << "libpng could not write the test PNG: " << state.message;
  return out;
}

Bytes be16_row(std::initializer_list<unsigned> samples) {
  Bytes row;
  for (unsigned s : samples) {
    row.push_back(static_cast<uint8_t>(s >> 8));
    row.push_back(static_cast<uint8_t>(s & 0xff));
  }
  return row;
}

void append_be32(Bytes* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<uint8_t>(v >> shift));
}

// A PNG signature followed by a single IHDR chunk (with a correct CRC) and nothing else.
Bytes png_header_only(uint32_t width, uint32_t height) {
  Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  append_be32(&out, 13);
  const size_t type_at = out.size();
  for (char c : std::string("IHDR")) out.push_back(static_cast<uint8_t>(c));
  append_be32(&out, width);
  append_be32(&out, height);
  out.insert(out.end(), {8, 2, 0, 0, 0});  // 8-bit RGB, deflate, adaptive filter, no interlace
  const uLong crc = crc32(0L, out.data() + type_at, static_cast<uInt>(out.size() - type_at));
  append_be32(&out, static_cast<uint32_t>(crc));
  return out;
}

// SOI, an SOF0 frame header claiming width x height (3 components), EOI.
Bytes jpeg_header_only(uint16_t width, uint16_t height) {
  Bytes out = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08};
  out.push_back(static_cast<uint8_t>(height >> 8));
  out.push_back(static_cast<uint8_t>(height & 0xff));
  out.push_back(static_cast<uint8_t>(width >> 8));
  out.push_back(static_cast<uint8_t>(width & 0xff));
  out.insert(out.end(), {0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9});
  return out;
}

struct JpegTestError {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};
[[noreturn]] void jpeg_test_error_exit(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<JpegTestError*>(cinfo->err)->jump, 1);
}

struct JpegSpec {
  int width = 0, height = 0, components = 3;
  J_COLOR_SPACE in_space = JCS_RGB;
  J_COLOR_SPACE stored_space = JCS_UNKNOWN;  // JCS_UNKNOWN: libjpeg's default for in_space
  bool adobe_marker = true;                  // only used for 4-component images
  const uint8_t* pixels = nullptr;           // width * height * components
  bool progressive = false;                  // libjpeg's standard progressive script
  const std::vector<jpeg_scan_info>* scans = nullptr;  // or a custom scan script
};

bool encode_jpeg_guarded(jpeg_compress_struct* c, JpegTestError* err, const JpegSpec* spec, unsigned char** buffer,
                         unsigned long* size) {
  if (setjmp(err->jump) != 0) return false;
  jpeg_create_compress(c);
  jpeg_mem_dest(c, buffer, size);
  c->image_width = static_cast<JDIMENSION>(spec->width);
  c->image_height = static_cast<JDIMENSION>(spec->height);
  c->input_components = spec->components;
  c->in_color_space = spec->in_space;
  jpeg_set_defaults(c);
  jpeg_set_quality(c, 100, TRUE);
  if (spec->stored_space != JCS_UNKNOWN) jpeg_set_colorspace(c, spec->stored_space);
  if (spec->components == 4) c->write_Adobe_marker = spec->adobe_marker ? TRUE : FALSE;
  if (spec->progressive) jpeg_simple_progression(c);
  if (spec->scans != nullptr) {
    c->scan_info = spec->scans->data();
    c->num_scans = static_cast<int>(spec->scans->size());
  }
  jpeg_start_compress(c, TRUE);
  while (c->next_scanline < c->image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(spec->pixels + static_cast<size_t>(c->next_scanline) * spec->width *
                                                          spec->components);
    jpeg_write_scanlines(c, &row, 1);
  }
  jpeg_finish_compress(c);
  return true;
}

Bytes encode_jpeg(const JpegSpec& spec) {
  jpeg_compress_struct c{};
  JpegTestError err{};
  c.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_test_error_exit;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const bool ok = encode_jpeg_guarded(&c, &err, &spec, &buffer, &size);
  jpeg_destroy_compress(&c);
  Bytes out;
  if (ok) out.assign(buffer, buffer + size);
  std::free(buffer);
  if (!ok) ADD_FAILURE() << "libjpeg could not write the test JPEG";
  return out;
}

// A fresh directory under the system temp dir, removed afterwards.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("lumen_image_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path write(const std::string& name, const Bytes& bytes) const {
    fs::path p = path_ / name;
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

Bytes read_bytes(const fs::path& path) {
  const std::string s = testing::read_file(path);
  return Bytes(s.begin(), s.end());
}

// Expects `fn` to throw lumen::Error of `kind` whose message contains every part.
template <typename Fn>
void expect_error(Fn&& fn, ErrorKind kind, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    for (const std::string& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

std::vector<int> pixel(const Image& image, int x, int y) {
  const size_t i = (static_cast<size_t>(y) * image.width + x) * 3;
  return {image.rgb[i], image.rgb[i + 1], image.rgb[i + 2]};
}
std::vector<int> gray(int v) { return {v, v, v}; }

// ---------------------------------------------------------------------------------------------
// Real files

TEST(ImageDecode, DecodesTheTestPhotos) {
  struct Expected {
    const char* name;
    int width, height;
  };
  for (const Expected& e : {Expected{"chelsea.png", 451, 300}, Expected{"coffee.png", 600, 400},
                            Expected{"astronaut.png", 512, 512}, Expected{"camera.png", 512, 512},
                            Expected{"rocket.jpg", 640, 427}, Expected{"hubble_deep_field.jpg", 1000, 872},
                            Expected{"retina.jpg", 1411, 1411}, Expected{"palette_color.png", 10, 10}}) {
    SCOPED_TRACE(e.name);
    const Image image = load_image(testing::images_dir() / e.name);
    EXPECT_EQ(image.width, e.width);
    EXPECT_EQ(image.height, e.height);
    EXPECT_EQ(image.rgb.size(), static_cast<size_t>(e.width) * e.height * 3);
  }
}

TEST(ImageDecode, GrayscalePngIsReplicated) {
  const Image image = load_image(testing::images_dir() / "camera.png");
  for (size_t i = 0; i < image.pixel_count(); ++i) {
    ASSERT_EQ(image.rgb[3 * i], image.rgb[3 * i + 1]);
    ASSERT_EQ(image.rgb[3 * i], image.rgb[3 * i + 2]);
  }
}

TEST(ImageDecode, RefusesTruncatedJpeg) {
  const fs::path path = testing::images_dir() / "truncated.jpg";
  expect_error([&] { load_image(path); }, ErrorKind::kInvalidInput,
               {path.string() + ": truncated or corrupt JPEG: ", "Premature end of JPEG file"});
}

TEST(ImageDecode, RefusesJpegCutJustBeforeEoi) {
  // PIL refuses this too ("image file is truncated").
  Bytes bytes = read_bytes(testing::images_dir() / "rocket.jpg");
  ASSERT_EQ(bytes[bytes.size() - 2], 0xFF);
  ASSERT_EQ(bytes.back(), 0xD9);
  bytes.resize(bytes.size() - 2);
  expect_error([&] { decode_image(bytes, {}, "cut.jpg"); }, ErrorKind::kInvalidInput,
               {"cut.jpg: truncated or corrupt JPEG"});
}

TEST(ImageDecode, AcceptsDataAfterJpegEoi) {
  Bytes bytes = read_bytes(testing::images_dir() / "rocket.jpg");
  const Image plain = decode_image(bytes);
  for (char c : std::string("trailing junk after EOI")) bytes.push_back(static_cast<uint8_t>(c));
  const Image padded = decode_image(bytes);
  EXPECT_EQ(padded.rgb, plain.rgb);
}

TEST(ImageDecode, RefusesTruncatedPng) {
  Bytes bytes = read_bytes(testing::images_dir() / "chelsea.png");
  bytes.resize(bytes.size() / 2);
  expect_error([&] { decode_image(bytes, {}, "half.png"); }, ErrorKind::kInvalidInput,
               {"half.png: truncated or corrupt PNG"});
}

// ---------------------------------------------------------------------------------------------
// Hostile and wrong inputs

TEST(ImageDecode, RefusesEmptyFile) {
  TempDir dir;
  const fs::path path = dir.write("empty.jpg", {});
  expect_error([&] { load_image(path); }, ErrorKind::kInvalidInput, {path.string() + ": not a JPEG or PNG image"});
}

TEST(ImageDecode, RefusesTextNamedPng) {
  TempDir dir;
  const std::string text = "this is not an image, whatever the name says\n";
  const fs::path path = dir.write("photo.png", Bytes(text.begin(), text.end()));
  expect_error([&] { load_image(path); }, ErrorKind::kInvalidInput, {path.string() + ": not a JPEG or PNG image"});
}

TEST(ImageDecode, RefusesGifWithHint) {
  const std::string gif = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
  expect_error([&] { decode_image(Bytes(gif.begin(), gif.end()), {}, "anim.gif"); }, ErrorKind::kInvalidInput,
               {"anim.gif: not a JPEG or PNG image", "GIF"});
}

TEST(ImageDecode, DetectsFormatByContentNotName) {
  TempDir dir;
  const fs::path path = dir.write("really_a_jpeg.png", read_bytes(testing::images_dir() / "rocket.jpg"));
  const Image image = load_image(path);
  EXPECT_EQ(image.width, 640);
  EXPECT_EQ(image.height, 427);
}

TEST(ImageDecode, RefusesDirectoryAndMissingFile) {
  TempDir dir;
  expect_error([&] { load_image(dir.path()); }, ErrorKind::kInvalidInput, {dir.path().string()});
  const fs::path missing = dir.path() / "missing.png";
  expect_error([&] { load_image(missing); }, ErrorKind::kNotFound, {missing.string()});
}

TEST(ImageDecode, RefusesHugePngHeaderBeforeAllocating) {
  // Only a signature and IHDR: the size must be refused before libpng even looks for pixels.
  TempDir dir;
  const fs::path path = dir.write("huge.png", png_header_only(100000, 100000));
  expect_error([&] { load_image(path); }, ErrorKind::kLimitExceeded,
               {path.string() + ": image is 100000x100000 pixels, more than the limit of 50000000"});
}

TEST(ImageDecode, RefusesHugeJpegHeaderBeforeAllocating) {
  // JPEG sizes are 16-bit, so 65535x65535 is the largest a header can claim; libjpeg would
  // refuse it later on its own 65500 limit, but the pixel limit must answer first.
  expect_error([&] { decode_image(jpeg_header_only(65535, 65535), {}, "huge.jpg"); }, ErrorKind::kLimitExceeded,
               {"huge.jpg: image is 65535x65535 pixels, more than the limit of 50000000"});
  expect_error([&] { decode_image(jpeg_header_only(8000, 7000), {}, "big.jpg"); }, ErrorKind::kLimitExceeded,
               {"big.jpg: image is 8000x7000 pixels"});
}

TEST(ImageDecode, PixelLimitIsConfigurable) {
  const fs::path path = testing::fixtures_dir() / "preprocess" / "tiny_13x20.png";
  ImageLimits small;
  small.max_pixels = 100;
  expect_error([&] { load_image(path, small); }, ErrorKind::kLimitExceeded,
               {"image is 20x13 pixels, more than the limit of 100"});
  ImageLimits exact;
  exact.max_pixels = 260;  // 20 * 13: at the limit is allowed
  EXPECT_EQ(load_image(path, exact).pixel_count(), 260u);

  ImageLimits jpeg_small;
  jpeg_small.max_pixels = 640 * 427 - 1;
  expect_error([&] { load_image(testing::images_dir() / "rocket.jpg", jpeg_small); }, ErrorKind::kLimitExceeded,
               {"image is 640x427 pixels"});
}

TEST(ImageDecode, CorruptedBytesNeverCrash) {
  // Flipped bytes anywhere in a JPEG or PNG: either a picture comes out or lumen::Error.
  std::vector<uint8_t> gradient;
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 24; ++x) gradient.insert(gradient.end(), {uint8_t(x * 10), uint8_t(y * 15), uint8_t(x * y)});
  }
  const Bytes jpeg = encode_jpeg(JpegSpec{24, 16, 3, JCS_RGB, JCS_UNKNOWN, true, gradient.data()});
  const Bytes png = read_bytes(testing::images_dir() / "palette_color.png");
  std::mt19937 rng(1234);
  int decoded = 0, refused = 0;
  for (const Bytes* original : {&jpeg, &png}) {
    for (int trial = 0; trial < 300; ++trial) {
      Bytes bytes = *original;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
      if (trial % 5 == 0) bytes.resize(rng() % bytes.size() + 1);
      try {
        const Image image = decode_image(bytes);
        EXPECT_EQ(image.rgb.size(), image.pixel_count() * 3);
        ++decoded;
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  EXPECT_EQ(decoded + refused, 600);
}

// ---------------------------------------------------------------------------------------------
// PNG modes (expected values from PIL). The default, AlphaMode::kDrop, is Image.convert("RGB");
// AlphaMode::kWhite is Image.alpha_composite(white, image.convert("RGBA")).convert("RGB").

Image decode_white(const Bytes& bytes) { return decode_image(bytes, {}, "image", AlphaMode::kWhite); }

TEST(ImageDecode, Png16BitGrayClipsLikePil) {
  // PIL opens 16-bit gray as I;16 and converts to RGB by clipping at 255, not by scaling.
  PngSpec spec;
  spec.width = 4;
  spec.height = 2;
  spec.bit_depth = 16;
  spec.color_type = PNG_COLOR_TYPE_GRAY;
  spec.rows = {be16_row({0, 200, 255, 256}), be16_row({1000, 65535, 0x1234, 0x00ff})};
  const Image image = decode_image(encode_png(spec));
  ASSERT_EQ(image.width, 4);
  EXPECT_EQ(pixel(image, 0, 0), gray(0));
  EXPECT_EQ(pixel(image, 1, 0), gray(200));
  EXPECT_EQ(pixel(image, 2, 0), gray(255));
  EXPECT_EQ(pixel(image, 3, 0), gray(255));
  EXPECT_EQ(pixel(image, 0, 1), gray(255));
  EXPECT_EQ(pixel(image, 3, 1), gray(255));

  // With a tRNS level of 200 that pixel is transparent: convert("RGB") ignores it, and
  // compositing makes it white.
  png_color_16 trans{};
  trans.gray = 200;
  spec.trans_color = &trans;
  EXPECT_EQ(decode_image(encode_png(spec)).rgb, image.rgb);
  const Image keyed = decode_white(encode_png(spec));
  EXPECT_EQ(pixel(keyed, 0, 0), gray(0));
  EXPECT_EQ(pixel(keyed, 1, 0), gray(255));
}

TEST(ImageDecode, Png16BitColourKeepsHighByte) {
  PngSpec spec;
  spec.width = 2;
  spec.height = 1;
  spec.bit_depth = 16;
  spec.color_type = PNG_COLOR_TYPE_RGB;
  spec.rows = {be16_row({0x1280, 0xff7f, 0x00ff, 0x0102, 0x0304, 0x0506})};
  const Image image = decode_image(encode_png(spec));
  EXPECT_EQ(pixel(image, 0, 0), (std::vector<int>{0x12, 0xff, 0x00}));
  EXPECT_EQ(pixel(image, 1, 0), (std::vector<int>{1, 3, 5}));

  PngSpec rgba = spec;
  rgba.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  rgba.rows = {be16_row({0x80ff, 0x10ff, 0x2080, 0x8000, 1, 2, 3, 0xffff})};
  const Image dropped = decode_image(encode_png(rgba));  // high bytes, alpha ignored
  EXPECT_EQ(pixel(dropped, 0, 0), (std::vector<int>{0x80, 0x10, 0x20}));
  EXPECT_EQ(pixel(dropped, 1, 0), (std::vector<int>{0, 0, 0}));
  const Image composited = decode_white(encode_png(rgba));
  EXPECT_EQ(pixel(composited, 0, 0), (std::vector<int>{191, 135, 143}));
  EXPECT_EQ(pixel(composited, 1, 0), (std::vector<int>{0, 0, 0}));
}

TEST(ImageDecode, PngGrayAlphaDropsOrCompositesAlpha) {
  PngSpec spec;
  spec.width = 2;
  spec.height = 1;
  spec.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
  spec.rows = {Bytes{100, 128, 7, 0}};
  const Image dropped = decode_image(encode_png(spec));
  EXPECT_EQ(pixel(dropped, 0, 0), gray(100));
  EXPECT_EQ(pixel(dropped, 1, 0), gray(7));
  const Image image = decode_white(encode_png(spec));
  EXPECT_EQ(pixel(image, 0, 0), gray(177));
  EXPECT_EQ(pixel(image, 1, 0), gray(255));

  spec.bit_depth = 16;
  spec.rows = {be16_row({0x80ff, 0x8000, 0x1234, 0xffff})};
  const Image wide_dropped = decode_image(encode_png(spec));
  EXPECT_EQ(pixel(wide_dropped, 0, 0), gray(0x80));
  EXPECT_EQ(pixel(wide_dropped, 1, 0), gray(0x12));
  const Image wide = decode_white(encode_png(spec));
  EXPECT_EQ(pixel(wide, 0, 0), gray(191));
  EXPECT_EQ(pixel(wide, 1, 0), gray(0x12));
}

TEST(ImageDecode, PngRgbaCompositingMatchesPilRounding) {
  // (colour, alpha) -> PIL's Image.alpha_composite(white, .).convert("RGB").
  const std::vector<std::array<int, 3>> pil = {{0, 1, 254},     {255, 1, 255},   {0, 254, 1},    {1, 127, 128},
                                               {200, 3, 254},   {37, 200, 84},   {100, 128, 177}, {128, 128, 191},
                                               {16, 128, 135},  {250, 255, 250}, {250, 0, 255}};
  PngSpec spec;
  spec.width = static_cast<int>(pil.size());
  spec.height = 1;
  spec.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  Bytes row;
  for (const auto& [c, a, expected] : pil) row.insert(row.end(), {uint8_t(c), uint8_t(255 - c), 0, uint8_t(a)});
  spec.rows = {row};
  const Image image = decode_white(encode_png(spec));
  const Image dropped = decode_image(encode_png(spec));
  for (size_t i = 0; i < pil.size(); ++i) {
    EXPECT_EQ(pixel(dropped, static_cast<int>(i), 0), (std::vector<int>{pil[i][0], 255 - pil[i][0], 0}));
    EXPECT_EQ(pixel(image, static_cast<int>(i), 0)[0], pil[i][2]) << "colour " << pil[i][0] << " alpha " << pil[i][1];
  }

  // Every (colour, alpha) pair: PIL's fixed-point compositing equals round-half-up of
  // (c * a + 255 * (255 - a)) / 255 (checked against Pillow for all 65536 pairs).
  PngSpec all;
  all.width = 256;
  all.height = 256;
  all.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  for (int c = 0; c < 256; ++c) {
    Bytes r;
    for (int a = 0; a < 256; ++a) r.insert(r.end(), {uint8_t(c), uint8_t(255 - c), uint8_t(c / 2), uint8_t(a)});
    all.rows.push_back(r);
  }
  const Image every = decode_white(encode_png(all));
  int wrong = 0;
  for (int c = 0; c < 256; ++c) {
    for (int a = 0; a < 256; ++a) {
      const auto p = pixel(every, a, c);
      const auto expect = [&](int v) { return static_cast<int>(std::floor((v * a + 255.0 * (255 - a)) / 255.0 + 0.5)); };
      wrong += p[0] != expect(c) || p[1] != expect(255 - c) || p[2] != expect(c / 2);
    }
  }
  EXPECT_EQ(wrong, 0);
}

TEST(ImageDecode, PngPaletteWithTransparency) {
  PngSpec spec;
  spec.width = 8;
  spec.height = 1;
  spec.color_type = PNG_COLOR_TYPE_PALETTE;
  spec.palette = {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}, {100, 110, 120}};
  spec.trans_alpha = {0, 128};
  spec.rows = {Bytes{0, 1, 2, 3, 0, 1, 2, 3}};
  // convert("RGB") maps through the palette and ignores its transparency.
  const Image dropped = decode_image(encode_png(spec));
  EXPECT_EQ(pixel(dropped, 0, 0), (std::vector<int>{10, 20, 30}));
  EXPECT_EQ(pixel(dropped, 1, 0), (std::vector<int>{40, 50, 60}));
  EXPECT_EQ(pixel(dropped, 3, 0), (std::vector<int>{100, 110, 120}));
  const Image image = decode_white(encode_png(spec));
  EXPECT_EQ(pixel(image, 0, 0), gray(255));                                // alpha 0
  EXPECT_EQ(pixel(image, 1, 0), (std::vector<int>{147, 152, 157}));        // alpha 128
  EXPECT_EQ(pixel(image, 2, 0), (std::vector<int>{70, 80, 90}));           // past tRNS: opaque
  EXPECT_EQ(pixel(image, 3, 0), (std::vector<int>{100, 110, 120}));

  // Without tRNS, and at 2 bits per index.
  PngSpec packed = spec;
  packed.bit_depth = 2;
  packed.trans_alpha.clear();
  packed.rows = {Bytes{0b00011011, 0b11100100}};  // indices 0 1 2 3 3 2 1 0
  const Image opaque = decode_image(encode_png(packed));
  EXPECT_EQ(pixel(opaque, 0, 0), (std::vector<int>{10, 20, 30}));
  EXPECT_EQ(pixel(opaque, 3, 0), (std::vector<int>{100, 110, 120}));
  EXPECT_EQ(pixel(opaque, 6, 0), (std::vector<int>{40, 50, 60}));
}

TEST(ImageDecode, PngLowBitGrayScalesAndKeysLikePil) {
  PngSpec spec;
  spec.width = 4;
  spec.height = 1;
  spec.bit_depth = 2;
  spec.color_type = PNG_COLOR_TYPE_GRAY;
  spec.rows = {Bytes{0b00011011}};  // 0 1 2 3
  const Image image = decode_image(encode_png(spec));
  EXPECT_EQ(pixel(image, 0, 0), gray(0));
  EXPECT_EQ(pixel(image, 1, 0), gray(85));
  EXPECT_EQ(pixel(image, 2, 0), gray(170));
  EXPECT_EQ(pixel(image, 3, 0), gray(255));

  // PIL compares the scaled value (85) with the raw tRNS level (1), so nothing turns
  // transparent: reproduced on purpose.
  png_color_16 trans{};
  trans.gray = 1;
  spec.trans_color = &trans;
  EXPECT_EQ(decode_white(encode_png(spec)).rgb, image.rgb);

  // 8-bit gray with a tRNS level: that level becomes white when composited, and stays as it
  // is under convert("RGB").
  PngSpec eight;
  eight.width = 2;
  eight.height = 1;
  eight.color_type = PNG_COLOR_TYPE_GRAY;
  eight.rows = {Bytes{90, 91}};
  png_color_16 level{};
  level.gray = 90;
  eight.trans_color = &level;
  EXPECT_EQ(pixel(decode_image(encode_png(eight)), 0, 0), gray(90));
  const Image keyed = decode_white(encode_png(eight));
  EXPECT_EQ(pixel(keyed, 0, 0), gray(255));
  EXPECT_EQ(pixel(keyed, 1, 0), gray(91));

  // 1-bit: 0 -> black, 1 -> white.
  PngSpec bilevel;
  bilevel.width = 4;
  bilevel.height = 1;
  bilevel.bit_depth = 1;
  bilevel.color_type = PNG_COLOR_TYPE_GRAY;
  bilevel.rows = {Bytes{0b10100000}};
  const Image bits = decode_image(encode_png(bilevel));
  EXPECT_EQ(pixel(bits, 0, 0), gray(255));
  EXPECT_EQ(pixel(bits, 1, 0), gray(0));
}

TEST(ImageDecode, PngRgbColourKeyIsIgnoredLikeConvertToRgb) {
  // convert_to_rgb returns mode-RGB images untouched, so PIL's tRNS colour key never applies.
  PngSpec spec;
  spec.width = 2;
  spec.height = 1;
  spec.color_type = PNG_COLOR_TYPE_RGB;
  spec.rows = {Bytes{1, 2, 3, 4, 5, 6}};
  png_color_16 key{};
  key.red = 4;
  key.green = 5;
  key.blue = 6;
  spec.trans_color = &key;
  EXPECT_EQ(pixel(decode_image(encode_png(spec)), 1, 0), (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(pixel(decode_white(encode_png(spec)), 1, 0), (std::vector<int>{4, 5, 6}));
}

TEST(ImageDecode, InterlacedPngMatchesNonInterlaced) {
  PngSpec spec;
  spec.width = 37;
  spec.height = 23;
  spec.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  std::mt19937 rng(7);
  for (int y = 0; y < spec.height; ++y) {
    Bytes row(static_cast<size_t>(spec.width) * 4);
    for (auto& b : row) b = static_cast<uint8_t>(rng());
    spec.rows.push_back(row);
  }
  const Image plain = decode_image(encode_png(spec));
  const Image plain_white = decode_white(encode_png(spec));
  spec.interlace = true;
  const Bytes interlaced = encode_png(spec);
  ASSERT_EQ(interlaced[28], 1);  // IHDR interlace method: Adam7
  EXPECT_EQ(decode_image(interlaced).rgb, plain.rgb);
  EXPECT_EQ(decode_white(interlaced).rgb, plain_white.rgb);
}

// ---------------------------------------------------------------------------------------------
// JPEG modes

TEST(ImageDecode, GrayscaleJpegIsReplicated) {
  const std::vector<uint8_t> pixels(16 * 8, 77);
  const Image image = decode_image(encode_jpeg(JpegSpec{16, 8, 1, JCS_GRAYSCALE, JCS_UNKNOWN, true, pixels.data()}));
  ASSERT_EQ(image.width, 16);
  ASSERT_EQ(image.height, 8);
  for (size_t i = 0; i < image.rgb.size(); ++i) ASSERT_EQ(image.rgb[i], 77) << i;
}

TEST(ImageDecode, CmykJpegConvertsLikePil) {
  // PIL reads every 4-component JPEG as Adobe-style inverted CMYK, with or without an Adobe
  // marker, stored as CMYK or YCCK. For the samples (200, 100, 50, 150) libjpeg writes here,
  // PIL gives CMYK (55, 155, 205, 105) and RGB (118, 59, 29).
  std::vector<uint8_t> pixels;
  for (int i = 0; i < 16 * 16; ++i) pixels.insert(pixels.end(), {200, 100, 50, 150});
  struct Variant {
    const char* name;
    J_COLOR_SPACE stored;
    bool adobe;
  };
  for (const Variant& v : {Variant{"CMYK with Adobe marker", JCS_UNKNOWN, true},
                           Variant{"CMYK without Adobe marker", JCS_UNKNOWN, false},
                           Variant{"YCCK", JCS_YCCK, true}}) {
    SCOPED_TRACE(v.name);
    const Image image = decode_image(encode_jpeg(JpegSpec{16, 16, 4, JCS_CMYK, v.stored, v.adobe, pixels.data()}));
    ASSERT_EQ(image.width, 16);
    for (int y = 0; y < 16; ++y) {
      for (int x = 0; x < 16; ++x) ASSERT_EQ(pixel(image, x, y), (std::vector<int>{118, 59, 29}));
    }
  }
}

std::vector<uint8_t> gradient_pixels(int width, int height) {
  std::vector<uint8_t> pixels;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      pixels.insert(pixels.end(), {uint8_t(x * 7), uint8_t(y * 5), uint8_t((x * y) & 0xff)});
    }
  }
  return pixels;
}

TEST(ImageDecode, ProgressiveJpegMatchesBaseline) {
  // Same quantised coefficients, different scan layout: the decoded pixels must be identical.
  const std::vector<uint8_t> pixels = gradient_pixels(45, 29);
  JpegSpec spec{45, 29, 3, JCS_RGB, JCS_UNKNOWN, true, pixels.data()};
  const Image baseline = decode_image(encode_jpeg(spec));
  spec.progressive = true;
  const Image progressive = decode_image(encode_jpeg(spec));
  EXPECT_EQ(progressive.rgb, baseline.rgb);
}

TEST(ImageDecode, RefusesPathologicalScanCount) {
  // A valid progressive JPEG with over 2000 scans (every AC coefficient of every component
  // sent one bit plane at a time): refused instead of spending a pass over the image per scan.
  std::vector<jpeg_scan_info> scans;
  scans.push_back({3, {0, 1, 2, 0}, 0, 0, 0, 0});  // interleaved DC, full precision
  for (int component = 0; component < 3; ++component) {
    for (int k = 1; k < 64; ++k) {
      scans.push_back({1, {component, 0, 0, 0}, k, k, 0, 10});
      for (int al = 9; al >= 0; --al) scans.push_back({1, {component, 0, 0, 0}, k, k, al + 1, al});
    }
  }
  ASSERT_GT(scans.size(), 1000u);
  const std::vector<uint8_t> pixels = gradient_pixels(8, 8);
  JpegSpec spec{8, 8, 3, JCS_RGB, JCS_UNKNOWN, true, pixels.data()};
  spec.scans = &scans;
  const Bytes bytes = encode_jpeg(spec);
  expect_error([&] { decode_image(bytes, {}, "scans.jpg"); }, ErrorKind::kInvalidInput,
               {"scans.jpg: truncated or corrupt JPEG: more than 1000 progressive scans"});
}

TEST(ImageDecode, RefusesOversizedFileWithoutReadingIt) {
  TempDir dir;
  const fs::path path = dir.path() / "huge.jpg";
  { std::ofstream touch(path, std::ios::binary); }
  fs::resize_file(path, kMaxImageFileBytes + 1);  // sparse: costs no disk
  expect_error([&] { load_image(path); }, ErrorKind::kLimitExceeded, {path.string()});
}

TEST(ImageDecode, ErrorsUseTheGivenLabel) {
  expect_error([] { decode_image(Bytes{'h', 'i'}, {}, "image 2 of the request"); }, ErrorKind::kInvalidInput,
               {"image 2 of the request: not a JPEG or PNG image"});
}

}  // namespace
}  // namespace lumen
