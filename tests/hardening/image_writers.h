// Small PNG and JPEG writers (libpng, libjpeg) for hostile-image tests and the fuzzers' seed
// corpus (fuzz/make_seeds.cpp): every PNG colour type and bit depth, interlacing, palettes with
// tRNS, and grayscale / YCbCr / CMYK / progressive JPEGs. Header-only so both builds can use it.
// Writers throw std::runtime_error if libpng or libjpeg refuses the spec (a bug in the test).
#pragma once

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace lumen::hardening {

using Bytes = std::vector<uint8_t>;

struct PngSpec {
  int width = 1, height = 1, bit_depth = 8, color_type = PNG_COLOR_TYPE_RGB;
  bool interlace = false;
  Bytes samples;                  // height rows of raw PNG samples (packed < 8 bits, big-endian 16)
  std::vector<png_color> palette;
  Bytes trans_alpha;              // palette alpha (tRNS)
};

// Bytes per row of raw samples for a spec.
inline size_t png_row_bytes(const PngSpec& s) {
  int channels = 1;
  if (s.color_type == PNG_COLOR_TYPE_GRAY_ALPHA) channels = 2;
  if (s.color_type == PNG_COLOR_TYPE_RGB) channels = 3;
  if (s.color_type == PNG_COLOR_TYPE_RGB_ALPHA) channels = 4;
  return (static_cast<size_t>(s.width) * channels * s.bit_depth + 7) / 8;
}

// A spec filled with a deterministic pattern (palette images get up to 16 entries, the first
// half of them partly transparent).
inline PngSpec png_pattern(int width, int height, int color_type, int bit_depth, bool interlace = false) {
  PngSpec s;
  s.width = width;
  s.height = height;
  s.color_type = color_type;
  s.bit_depth = bit_depth;
  s.interlace = interlace;
  s.samples.resize(png_row_bytes(s) * static_cast<size_t>(height));
  for (size_t i = 0; i < s.samples.size(); ++i) s.samples[i] = static_cast<uint8_t>(i * 37 + (i >> 5) * 11);
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    const int entries = bit_depth < 4 ? 1 << bit_depth : 16;  // PLTE may not exceed 2^depth entries
    for (int i = 0; i < entries; ++i) {
      s.palette.push_back(png_color{static_cast<png_byte>(i * 16), static_cast<png_byte>(255 - i * 16),
                                    static_cast<png_byte>(i * 7)});
    }
    for (int i = 0; i < entries / 2; ++i) s.trans_alpha.push_back(static_cast<uint8_t>(i * 32));
    if (bit_depth == 8) {
      for (auto& b : s.samples) b &= 0x0f;  // stay inside the palette
    }
  }
  return s;
}

namespace detail {
struct PngWriteState {
  Bytes* out;
  char message[256];
};
inline void png_write_bytes(png_structp png, png_bytep data, size_t n) {
  auto* state = static_cast<PngWriteState*>(png_get_io_ptr(png));
  state->out->insert(state->out->end(), data, data + n);
}
inline void png_flush(png_structp) {}
[[noreturn]] inline void png_write_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngWriteState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  png_longjmp(png, 1);
}
// Only trivially destructible locals: the longjmp skips no destructor.
inline bool png_write_guarded(png_structp png, png_infop info, PngWriteState* state, const PngSpec* s,
                              png_bytepp rows) {
  if (setjmp(png_jmpbuf(png)) != 0) return false;
  png_set_write_fn(png, state, png_write_bytes, png_flush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(s->width), static_cast<png_uint_32>(s->height), s->bit_depth,
               s->color_type, s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!s->palette.empty()) png_set_PLTE(png, info, s->palette.data(), static_cast<int>(s->palette.size()));
  if (!s->trans_alpha.empty()) {
    png_set_tRNS(png, info, s->trans_alpha.data(), static_cast<int>(s->trans_alpha.size()), nullptr);
  }
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

struct JpegWriteError {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};
[[noreturn]] inline void jpeg_write_error_exit(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<JpegWriteError*>(cinfo->err)->jump, 1);
}
}  // namespace detail

inline Bytes encode_png(const PngSpec& s) {
  Bytes out;
  detail::PngWriteState state{&out, {}};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, detail::png_write_error, nullptr);
  png_infop info = png_create_info_struct(png);
  Bytes samples = s.samples;
  std::vector<png_bytep> rows;
  for (int y = 0; y < s.height; ++y) rows.push_back(samples.data() + png_row_bytes(s) * static_cast<size_t>(y));
  const bool ok = detail::png_write_guarded(png, info, &state, &s, rows.data());
  png_destroy_write_struct(&png, &info);
  if (!ok) throw std::runtime_error(std::string("libpng could not write the PNG: ") + state.message);
  return out;
}

struct JpegSpec {
  int width = 1, height = 1, components = 3;
  J_COLOR_SPACE in_space = JCS_RGB;
  bool progressive = false;
  int restart_rows = 0;
  Bytes pixels;  // width * height * components
};

inline JpegSpec jpeg_pattern(int width, int height, int components, J_COLOR_SPACE space, bool progressive = false) {
  JpegSpec s;
  s.width = width;
  s.height = height;
  s.components = components;
  s.in_space = space;
  s.progressive = progressive;
  s.pixels.resize(static_cast<size_t>(width) * height * components);
  for (size_t i = 0; i < s.pixels.size(); ++i) s.pixels[i] = static_cast<uint8_t>((i * 7) ^ (i >> 6));
  return s;
}

namespace detail {
inline bool jpeg_write_guarded(jpeg_compress_struct* c, JpegWriteError* err, const JpegSpec* s,
                               unsigned char** buffer, unsigned long* size) {
  if (setjmp(err->jump) != 0) return false;
  jpeg_create_compress(c);
  jpeg_mem_dest(c, buffer, size);
  c->image_width = static_cast<JDIMENSION>(s->width);
  c->image_height = static_cast<JDIMENSION>(s->height);
  c->input_components = s->components;
  c->in_color_space = s->in_space;
  jpeg_set_defaults(c);
  jpeg_set_quality(c, 90, TRUE);
  if (s->progressive) jpeg_simple_progression(c);
  c->restart_in_rows = s->restart_rows;
  jpeg_start_compress(c, TRUE);
  while (c->next_scanline < c->image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(s->pixels.data() +
                                        static_cast<size_t>(c->next_scanline) * s->width * s->components);
    jpeg_write_scanlines(c, &row, 1);
  }
  jpeg_finish_compress(c);
  return true;
}
}  // namespace detail

inline Bytes encode_jpeg(const JpegSpec& s) {
  jpeg_compress_struct c{};
  detail::JpegWriteError err{};
  c.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = detail::jpeg_write_error_exit;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const bool ok = detail::jpeg_write_guarded(&c, &err, &s, &buffer, &size);
  jpeg_destroy_compress(&c);
  Bytes out;
  if (ok) out.assign(buffer, buffer + size);
  std::free(buffer);
  if (!ok) throw std::runtime_error("libjpeg could not write the JPEG");
  return out;
}

inline void append_be32(Bytes* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<uint8_t>(v >> shift));
}

// A PNG signature and one IHDR chunk (correct CRC) claiming width x height 8-bit RGB, then an
// empty IDAT and IEND: nothing a decoder could allocate pixels from.
inline Bytes png_claiming(uint32_t width, uint32_t height) {
  Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&out](const char* type, const Bytes& body) {
    append_be32(&out, static_cast<uint32_t>(body.size()));
    const size_t type_at = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), body.begin(), body.end());
    append_be32(&out, static_cast<uint32_t>(crc32(0L, out.data() + type_at, static_cast<uInt>(out.size() - type_at))));
  };
  Bytes ihdr;
  append_be32(&ihdr, width);
  append_be32(&ihdr, height);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  chunk("IHDR", ihdr);
  chunk("IDAT", {});
  chunk("IEND", {});
  return out;
}

// A real 8 x 8 baseline JPEG whose SOF0 frame header is patched to claim width x height.
inline Bytes jpeg_claiming(uint16_t width, uint16_t height) {
  Bytes out = encode_jpeg(jpeg_pattern(8, 8, 3, JCS_RGB));
  for (size_t i = 2; i + 8 < out.size(); ++i) {
    if (out[i] == 0xFF && out[i + 1] == 0xC0) {
      out[i + 5] = static_cast<uint8_t>(height >> 8);
      out[i + 6] = static_cast<uint8_t>(height & 0xff);
      out[i + 7] = static_cast<uint8_t>(width >> 8);
      out[i + 8] = static_cast<uint8_t>(width & 0xff);
      return out;
    }
  }
  throw std::runtime_error("no SOF0 marker in the test JPEG");
}

}  // namespace lumen::hardening
