// Hostile images: size claims refused before any pixel memory exists (by a limit the caller
// sets), truncated / empty / pretend files refused with the file named, and every PNG mode and
// CMYK JPEG decoded (or refused) cleanly, through decode_image and end to end through the CLI.
#include <gtest/gtest.h>

#include "cli/run_cli.h"
#include "hostile_files.h"
#include "image_writers.h"
#include "lumen/vision/image_decode.h"
#include "lumen/vision/resize_bicubic.h"

namespace lumen::hardening {
namespace {

Image decode(const Bytes& bytes, uint64_t max_pixels = ImageLimits{}.max_pixels) {
  ImageLimits limits;
  limits.max_pixels = max_pixels;
  return decode_image(bytes, limits, "upload.img");
}

std::string eval_image(int i) {
  char name[64];
  std::snprintf(name, sizeof(name), "scene_%04d.png", i);
  return (testing::data_dir() / "eval" / "shapes" / "images" / name).string();
}

TEST(HostileImage, HugePngClaimIsRefusedBeforeAllocating) {
  // 10^10 pixels would be 30 GB of RGB: the claim alone must be refused.
  expect_error([] { decode(png_claiming(100000, 100000)); }, ErrorKind::kLimitExceeded,
               {"upload.img: image is 100000x100000 pixels, more than the limit of 50000000"});
  // Even past libpng's own limits (2^31 - 1 a side).
  expect_error([] { decode(png_claiming(0x7fffffff, 0x7fffffff)); }, ErrorKind::kLimitExceeded,
               {"image is 2147483647x2147483647 pixels"});
}

TEST(HostileImage, HugeJpegClaimIsRefusedBeforeAllocating) {
  expect_error([] { decode(jpeg_claiming(65000, 65000)); }, ErrorKind::kLimitExceeded,
               {"upload.img: image is 65000x65000 pixels, more than the limit of 50000000"});
}

TEST(HostileImage, PixelLimitIsConfigurable) {
  const Bytes png = encode_png(png_pattern(20, 10, PNG_COLOR_TYPE_RGB, 8));
  EXPECT_EQ(decode(png, 200).width, 20);
  expect_error([&] { decode(png, 199); }, ErrorKind::kLimitExceeded, {"image is 20x10 pixels, more than the limit of 199"});
  const Bytes jpeg = encode_jpeg(jpeg_pattern(20, 10, 3, JCS_RGB));
  EXPECT_EQ(decode(jpeg, 200).height, 10);
  expect_error([&] { decode(jpeg, 199); }, ErrorKind::kLimitExceeded, {"image is 20x10 pixels"});
}

TEST(HostileImage, HugeClaimThroughTheCli) {
  ScratchDir dir;
  const fs::path huge = dir.write_bytes("huge.png", png_claiming(100000, 100000));
  auto r = testing::run_cli({"ask", "-i", huge.string(), "What is it?"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lumen: error: " + huge.string() + ": image is 100000x100000 pixels, more than the limit of 50000000\n");
  r = testing::run_cli({"ask", "--max-pixels", "100", "-i", eval_image(0), "What is it?"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("more than the limit of 100"), std::string::npos) << r.err;
}

TEST(HostileImage, TruncatedFiles) {
  const Bytes png = encode_png(png_pattern(32, 32, PNG_COLOR_TYPE_RGB, 8));
  const Bytes jpeg = encode_jpeg(jpeg_pattern(32, 32, 3, JCS_RGB));
  // Every cut point of a small PNG and JPEG: refused, never a crash or a half-grey image.
  // (Up to the end of the image data: like PIL, the decoder does not insist on IEND.)
  for (size_t cut = 1; cut + 16 < png.size(); cut += 7) {
    expect_error([&] { decode(Bytes(png.begin(), png.begin() + static_cast<long>(cut))); }, ErrorKind::kInvalidInput,
                 {"upload.img"});
  }
  for (size_t cut = 1; cut + 2 < jpeg.size(); cut += 5) {
    expect_error([&] { decode(Bytes(jpeg.begin(), jpeg.begin() + static_cast<long>(cut))); }, ErrorKind::kInvalidInput,
                 {"upload.img"});
  }
  expect_error([&] { decode(Bytes(jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() / 2))); },
               ErrorKind::kInvalidInput, {"upload.img: truncated or corrupt JPEG"});
  expect_error([&] { decode(Bytes(png.begin(), png.begin() + static_cast<long>(png.size() / 2))); },
               ErrorKind::kInvalidInput, {"upload.img: truncated or corrupt PNG"});
  const std::string path = (testing::images_dir() / "truncated.jpg").string();
  expect_error([&] { load_image(path); }, ErrorKind::kInvalidInput, {path + ": truncated or corrupt JPEG"});
}

TEST(HostileImage, ZeroByteAndPretendImages) {
  ScratchDir dir;
  const fs::path empty = dir.write("empty.png", "");
  expect_error([&] { load_image(empty); }, ErrorKind::kInvalidInput, {empty.string() + ": not a JPEG or PNG image (empty file)"});
  const fs::path text = dir.write("cat.jpg", "<html><body>cat</body></html>");
  expect_error([&] { load_image(text); }, ErrorKind::kInvalidInput, {text.string() + ": not a JPEG or PNG image"});
  const fs::path gif = dir.write("anim.png", "GIF89a\x01\x00\x01\x00");
  expect_error([&] { load_image(gif); }, ErrorKind::kInvalidInput, {"not a JPEG or PNG image (it is a GIF)"});
  // Right magic, nothing after it.
  expect_error([] { decode(Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}); }, ErrorKind::kInvalidInput,
               {"truncated or corrupt PNG"});
  expect_error([] { decode(Bytes{0xFF, 0xD8, 0xFF}); }, ErrorKind::kInvalidInput, {"truncated or corrupt JPEG"});
  expect_error([&] { load_image(dir.path()); }, ErrorKind::kInvalidInput, {"is a directory"});
}

TEST(HostileImage, EveryPngModeDecodesAndResizes) {
  struct Mode {
    int color_type, bit_depth;
  };
  for (Mode m : {Mode{PNG_COLOR_TYPE_GRAY, 16}, Mode{PNG_COLOR_TYPE_RGB, 16}, Mode{PNG_COLOR_TYPE_RGB_ALPHA, 16},
                 Mode{PNG_COLOR_TYPE_GRAY_ALPHA, 8}, Mode{PNG_COLOR_TYPE_GRAY_ALPHA, 16}, Mode{PNG_COLOR_TYPE_PALETTE, 8},
                 Mode{PNG_COLOR_TYPE_PALETTE, 4}, Mode{PNG_COLOR_TYPE_PALETTE, 1}, Mode{PNG_COLOR_TYPE_GRAY, 1}}) {
    for (bool interlace : {false, true}) {
      SCOPED_TRACE("colour type " + std::to_string(m.color_type) + ", depth " + std::to_string(m.bit_depth));
      const Image image = decode(encode_png(png_pattern(13, 7, m.color_type, m.bit_depth, interlace)));
      EXPECT_EQ(image.width, 13);
      EXPECT_EQ(image.height, 7);
      ASSERT_EQ(image.rgb.size(), 13u * 7u * 3u);
      const Image resized = resize_bicubic_pil(image, 64, 64);
      EXPECT_EQ(resized.rgb.size(), 64u * 64u * 3u);
    }
  }
}

TEST(HostileImage, GrayAlphaPngDropsAlphaUnlessAskedToComposite) {
  PngSpec spec = png_pattern(2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8);
  spec.samples = {0, 0, 0, 255};  // black fully transparent, black opaque
  const Bytes png = encode_png(spec);
  const Image image = decode(png);  // convert("RGB"): both black
  EXPECT_EQ(image.rgb, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0}));
  const Image white = decode_image(png, {}, "image", AlphaMode::kWhite);
  EXPECT_EQ((std::vector<int>{white.rgb[0], white.rgb[1], white.rgb[2]}), (std::vector<int>{255, 255, 255}));
  EXPECT_EQ((std::vector<int>{white.rgb[3], white.rgb[4], white.rgb[5]}), (std::vector<int>{0, 0, 0}));
}

TEST(HostileImage, CmykAndGrayJpegDecode) {
  const Image cmyk = decode(encode_jpeg(jpeg_pattern(16, 8, 4, JCS_CMYK)));
  EXPECT_EQ(cmyk.width, 16);
  EXPECT_EQ(cmyk.rgb.size(), 16u * 8u * 3u);
  const Image gray = decode(encode_jpeg(jpeg_pattern(16, 8, 1, JCS_GRAYSCALE)));
  for (size_t i = 0; i < gray.pixel_count(); ++i) {
    EXPECT_EQ(gray.rgb[3 * i], gray.rgb[3 * i + 1]);
    EXPECT_EQ(gray.rgb[3 * i], gray.rgb[3 * i + 2]);
  }
  const Image progressive = decode(encode_jpeg(jpeg_pattern(16, 8, 3, JCS_RGB, true)));
  EXPECT_EQ(progressive.height, 8);
}

TEST(HostileImage, SpecialModesEndToEndThroughTheCli) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, Bytes>> files = {
      {"gray16.png", encode_png(png_pattern(40, 30, PNG_COLOR_TYPE_GRAY, 16))},
      {"palette.png", encode_png(png_pattern(40, 30, PNG_COLOR_TYPE_PALETTE, 8))},
      {"gray_alpha.png", encode_png(png_pattern(40, 30, PNG_COLOR_TYPE_GRAY_ALPHA, 8))},
      {"cmyk.jpg", encode_jpeg(jpeg_pattern(40, 30, 4, JCS_CMYK))},
  };
  for (const auto& [name, bytes] : files) {
    const fs::path path = dir.write_bytes(name, bytes);
    auto r = testing::run_cli({"generate", "--raw-prompt", "<image>\nWhat is it?", "-i", path.string(), "--max-tokens",
                               "2", "--json"});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_NE(r.out.find("\"prompt_positions\""), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace lumen::hardening
