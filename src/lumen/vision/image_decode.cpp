// JPEG and PNG decoding to RGB8, matching PIL's Image.open + transformers' convert_to_rgb
// (Image.convert("RGB")), or with transparency composited onto white when asked.
//
// libjpeg and libpng report fatal errors through a callback that must not return; their
// default ones print and exit(). Ours longjmp back into a small "guarded" function that owns
// the setjmp. Those functions hold only trivially destructible locals, so no C++ destructor is
// ever skipped by a longjmp; everything that allocates (std::vector, Image) lives in the
// calling frame, which the longjmp never crosses, and errors are thrown from there.
#include "lumen/vision/image_decode.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

// jpeglib.h needs FILE and size_t declared before it.
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"

namespace lumen {
namespace {

// ---------------------------------------------------------------------------------------------
// Shared helpers

void check_pixel_limit(uint64_t width, uint64_t height, const ImageLimits& limits, std::string_view label) {
  // Both factors are below 2^32 (JPEG: 2^16, PNG: 2^31), so the product cannot overflow.
  if (width * height > limits.max_pixels) {
    fail_kind(ErrorKind::kLimitExceeded, label, ": image is ", width, "x", height,
              " pixels, more than the limit of ", limits.max_pixels);
  }
}

// round(v / 255), halves up, for v in [0, 255 * 255]. (v / 255 is never exactly k + 1/2
// because 255 is odd, so adding 127 rounds exactly like adding 127.5 would.)
constexpr uint8_t div255_round(uint32_t v) { return static_cast<uint8_t>((v + 127) / 255); }


uint32_t read_be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

bool has_prefix(std::span<const uint8_t> bytes, std::string_view prefix, size_t offset = 0) {
  if (bytes.size() < offset + prefix.size()) return false;
  return std::memcmp(bytes.data() + offset, prefix.data(), prefix.size()) == 0;
}

bool is_png(std::span<const uint8_t> bytes) {
  return bytes.size() >= sizeof kPngSignature && std::memcmp(bytes.data(), kPngSignature, sizeof kPngSignature) == 0;
}

bool is_jpeg(std::span<const uint8_t> bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

// A hint for the "not a JPEG or PNG image" message when the bytes are a format people often
// send by mistake.
std::string_view other_format_hint(std::span<const uint8_t> bytes) {
  if (has_prefix(bytes, "GIF87a") || has_prefix(bytes, "GIF89a")) return " (it is a GIF)";
  if (has_prefix(bytes, "RIFF") && has_prefix(bytes, "WEBP", 8)) return " (it is a WebP)";
  if (has_prefix(bytes, "BM")) return " (it looks like a BMP)";
  if (has_prefix(bytes, std::string_view("II*\0", 4)) || has_prefix(bytes, std::string_view("MM\0*", 4))) {
    return " (it is a TIFF)";
  }
  if (has_prefix(bytes, "ftyp", 4)) return " (it looks like HEIF/AVIF)";
  return "";
}

// ---------------------------------------------------------------------------------------------
// JPEG

// A progressive JPEG can hold thousands of tiny scans, each of which costs a pass over the
// whole coefficient buffer (a known denial-of-service). libjpeg-turbo's own tools cap the
// scan count with a progress monitor; so do we. Real encoders use about 10.
constexpr int kMaxJpegScans = 1000;

struct JpegErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg hands callbacks a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

struct JpegSession {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  jpeg_progress_mgr progress;
};

[[noreturn]] void jpeg_on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings (msg_level -1) are tolerated like PIL tolerates them ("Corrupt JPEG data: N
// extraneous bytes" and friends), except running out of data: libjpeg would pad the image
// with gray and carry on, whereas PIL refuses it ("image file is truncated"), and so do we.
void jpeg_on_emit_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level < 0) {
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error_exit(cinfo);
    cinfo->err->num_warnings++;
  }
}

void jpeg_on_output_message(j_common_ptr) {}  // library code never prints

void jpeg_on_progress(j_common_ptr cinfo) {
  auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (decompress->input_scan_number > kMaxJpegScans) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof err->message, "more than %d progressive scans", kMaxJpegScans);
    std::longjmp(err->jump, 1);
  }
}

// Converts one decoded row of `width` pixels to RGB8.
using JpegRowConverter = void (*)(const uint8_t* raw, uint8_t* rgb, int width);

void jpeg_gray_row(const uint8_t* raw, uint8_t* rgb, int width) {
  for (int x = 0; x < width; ++x) rgb[3 * x] = rgb[3 * x + 1] = rgb[3 * x + 2] = raw[x];
}

// PIL opens every 4-component JPEG as CMYK with raw mode "CMYK;I", i.e. it assumes the Adobe
// convention of inverted samples whether or not an Adobe marker is present, so C = 255 - c
// for the samples c that libjpeg returns (it has already turned YCCK into CMYK). PIL's
// CMYK -> RGB is R = round((255 - C) * (255 - K) / 255), which is round(c * k / 255) here.
void jpeg_cmyk_row(const uint8_t* raw, uint8_t* rgb, int width) {
  for (int x = 0; x < width; ++x) {
    const uint8_t* p = raw + 4 * x;
    const uint32_t k = p[3];
    rgb[3 * x + 0] = div255_round(p[0] * k);
    rgb[3 * x + 1] = div255_round(p[1] * k);
    rgb[3 * x + 2] = div255_round(p[2] * k);
  }
}

// Finds the frame size in the first SOFn segment without libjpeg, so that an oversized image
// is refused with kLimitExceeded even where libjpeg would stop first on its own 65500-pixel
// limit. Returns false if no SOF is found before the first scan; libjpeg then reports the
// problem.
bool find_jpeg_frame_size(std::span<const uint8_t> bytes, uint32_t* width, uint32_t* height) {
  size_t pos = 2;  // after SOI
  while (pos + 4 <= bytes.size()) {
    if (bytes[pos] != 0xFF) return false;
    const uint8_t marker = bytes[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // markers without a length
      pos += 2;
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) return false;  // EOI or SOS before any frame header
    const size_t length = read_be16(&bytes[pos + 2]);
    if (length < 2) return false;
    const bool is_sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (is_sof) {
      // Segment: length(2) precision(1) height(2) width(2) components(1) ...
      if (length < 8 || pos + 9 > bytes.size()) return false;
      *height = read_be16(&bytes[pos + 5]);
      *width = read_be16(&bytes[pos + 7]);
      return true;
    }
    pos += 2 + length;
  }
  return false;
}

// Guarded: creates the decompressor and reads the header. False after a libjpeg error.
bool jpeg_read_header_guarded(JpegSession* s, const uint8_t* data, size_t size) {
  if (setjmp(s->err.jump) != 0) return false;
  jpeg_create_decompress(&s->cinfo);  // zeroes cinfo except err, so hook progress after it
  s->cinfo.progress = &s->progress;
  jpeg_mem_src(&s->cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&s->cinfo, TRUE);
  return true;
}

// Guarded: decodes every scanline into `out_rgb` (width * 3 bytes a row), through `scratch`
// and `convert` when the output colour space is not RGB.
bool jpeg_decode_guarded(JpegSession* s, J_COLOR_SPACE out_space, int out_components, uint8_t* scratch,
                         JpegRowConverter convert, uint8_t* out_rgb) {
  if (setjmp(s->err.jump) != 0) return false;
  j_decompress_ptr cinfo = &s->cinfo;
  cinfo->out_color_space = out_space;
  // libjpeg's defaults, which PIL keeps: accurate integer IDCT, "fancy" (triangular) chroma
  // upsampling, no scaling.
  cinfo->dct_method = JDCT_ISLOW;
  cinfo->do_fancy_upsampling = TRUE;
  cinfo->scale_num = cinfo->scale_denom = 1;
  jpeg_start_decompress(cinfo);
  if (cinfo->output_components != out_components || cinfo->output_width != cinfo->image_width ||
      cinfo->output_height != cinfo->image_height) {
    std::snprintf(s->err.message, sizeof s->err.message, "unexpected decoder output layout");
    return false;
  }
  const size_t stride = static_cast<size_t>(cinfo->output_width) * 3;
  const int width = static_cast<int>(cinfo->output_width);
  while (cinfo->output_scanline < cinfo->output_height) {
    uint8_t* rgb_row = out_rgb + static_cast<size_t>(cinfo->output_scanline) * stride;
    JSAMPROW row = convert != nullptr ? scratch : rgb_row;
    if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {  // only a suspending source returns 0
      std::snprintf(s->err.message, sizeof s->err.message, "decoder stopped early");
      return false;
    }
    if (convert != nullptr) convert(scratch, rgb_row, width);
  }
  jpeg_finish_decompress(cinfo);  // reads up to EOI: a file cut after the last scan is refused
  return true;
}

Image decode_jpeg(std::span<const uint8_t> bytes, const ImageLimits& limits, std::string_view label) {
  uint32_t frame_width = 0, frame_height = 0;
  if (find_jpeg_frame_size(bytes, &frame_width, &frame_height)) {
    check_pixel_limit(frame_width, frame_height, limits, label);
  }

  JpegSession session{};
  session.cinfo.err = jpeg_std_error(&session.err.pub);
  session.err.pub.error_exit = jpeg_on_error_exit;
  session.err.pub.emit_message = jpeg_on_emit_message;
  session.err.pub.output_message = jpeg_on_output_message;
  session.progress.progress_monitor = jpeg_on_progress;
  struct Destroyer {
    JpegSession* s;
    ~Destroyer() { jpeg_destroy_decompress(&s->cinfo); }  // safe on a never-created (zeroed) struct
  } destroyer{&session};

  if (!jpeg_read_header_guarded(&session, bytes.data(), bytes.size())) {
    fail(label, ": truncated or corrupt JPEG: ", session.err.message);
  }
  const jpeg_decompress_struct& cinfo = session.cinfo;
  check_pixel_limit(cinfo.image_width, cinfo.image_height, limits, label);

  // The modes PIL gives JPEGs: 1 component "L", 3 "RGB" (libjpeg converts from YCbCr, or
  // passes RGB through, as its header guess says), 4 "CMYK"; anything else PIL refuses.
  J_COLOR_SPACE out_space;
  JpegRowConverter convert = nullptr;
  switch (cinfo.num_components) {
    case 1:
      out_space = JCS_GRAYSCALE;
      convert = jpeg_gray_row;
      break;
    case 3:
      out_space = JCS_RGB;
      break;
    case 4:
      out_space = JCS_CMYK;
      convert = jpeg_cmyk_row;
      break;
    default:
      fail(label, ": unsupported JPEG with ", cinfo.num_components, " colour components");
  }
  const int components = cinfo.num_components;

  Image image;
  image.width = static_cast<int>(cinfo.image_width);
  image.height = static_cast<int>(cinfo.image_height);
  image.rgb.resize(image.pixel_count() * 3);
  std::vector<uint8_t> scratch(convert != nullptr ? static_cast<size_t>(image.width) * components : 0);
  if (!jpeg_decode_guarded(&session, out_space, components, scratch.data(), convert, image.rgb.data())) {
    fail(label, ": truncated or corrupt JPEG: ", session.err.message);
  }
  return image;
}

// ---------------------------------------------------------------------------------------------
// PNG

struct PngSession {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char message[256] = {};
  // From the header (png_read_info).
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  int num_palette = 0;
  png_color palette[256] = {};
  int num_trans = 0;  // > 0 when a tRNS chunk was accepted
  uint8_t trans_alpha[256] = {};
  png_color_16 trans_color = {};
  AlphaMode alpha = AlphaMode::kDrop;
  // After the transforms are set (png_read_update_info).
  size_t rowbytes = 0;
};

[[noreturn]] void png_on_error(png_structp png, png_const_charp message) {
  auto* s = static_cast<PngSession*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", message);
  png_longjmp(png, 1);
}

// libpng warns about bad CRCs in ancillary chunks, unknown profiles and the like; PIL does not
// refuse such files either. Library code never prints.
void png_on_warning(png_structp, png_const_charp) {}

void png_read_from_memory(png_structp png, png_bytep out, size_t count) {
  auto* s = static_cast<PngSession*>(png_get_io_ptr(png));
  if (count > s->size - s->pos) png_error(png, "unexpected end of file");
  std::memcpy(out, s->data + s->pos, count);
  s->pos += count;
}

// Guarded: reads everything up to the first IDAT and copies out IHDR, PLTE and tRNS.
bool png_read_info_guarded(PngSession* s) {
  s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, png_on_error, png_on_warning);
  if (s->png == nullptr) {
    std::snprintf(s->message, sizeof s->message, "cannot create a libpng reader");
    return false;
  }
  s->info = png_create_info_struct(s->png);
  if (s->info == nullptr) {
    std::snprintf(s->message, sizeof s->message, "cannot create a libpng info struct");
    return false;
  }
  if (setjmp(png_jmpbuf(s->png)) != 0) return false;
  png_set_read_fn(s->png, s, png_read_from_memory);
  // ImageLimits is the size policy; lift libpng's own default of 1,000,000 pixels a side.
  png_set_user_limits(s->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  // Problems libpng calls benign (a bad ancillary chunk) are warnings, not errors.
  png_set_benign_errors(s->png, 1);
  png_read_info(s->png, s->info);

  png_get_IHDR(s->png, s->info, &s->width, &s->height, &s->bit_depth, &s->color_type, &s->interlace, nullptr,
               nullptr);
  png_colorp palette = nullptr;
  int num_palette = 0;
  if (png_get_PLTE(s->png, s->info, &palette, &num_palette) & PNG_INFO_PLTE) {
    s->num_palette = num_palette < 256 ? num_palette : 256;
    std::memcpy(s->palette, palette, sizeof(png_color) * static_cast<size_t>(s->num_palette));
  }
  png_bytep trans_alpha = nullptr;
  int num_trans = 0;
  png_color_16p trans_color = nullptr;
  if (png_get_tRNS(s->png, s->info, &trans_alpha, &num_trans, &trans_color) & PNG_INFO_tRNS) {
    s->num_trans = num_trans > 0 ? (num_trans < 256 ? num_trans : 256) : 1;
    if (trans_alpha != nullptr && num_trans > 0) {
      std::memcpy(s->trans_alpha, trans_alpha, static_cast<size_t>(s->num_trans));
    }
    if (trans_color != nullptr) s->trans_color = *trans_color;
  }
  return true;
}

// Guarded: asks for one byte per sample below 8 bits (we scale ourselves, see below), keeps
// 16-bit samples as they are (big-endian) and lets libpng de-interlace.
bool png_prepare_rows_guarded(PngSession* s, int* passes) {
  if (setjmp(png_jmpbuf(s->png)) != 0) return false;
  if (s->bit_depth < 8) png_set_packing(s->png);
  *passes = png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);
  s->rowbytes = png_get_rowbytes(s->png, s->info);
  return true;
}

// How to turn one row of raw samples into RGB8, following the mode PIL opens each PNG type as
// and what convert("RGB") (or, with AlphaMode::kWhite, compositing onto white) does with it.
struct PngRowFormat {
  int color_type = 0;
  int bit_depth = 0;
  uint32_t width = 0;
  AlphaMode alpha = AlphaMode::kDrop;
  bool trns_turns_white = false;  // a gray tRNS level to turn white (kWhite only)
  uint32_t trans_gray = 0;
  uint8_t palette_rgb[256][3] = {};  // palette entries with apply_alpha already applied
};

PngRowFormat make_png_row_format(const PngSession& s) {
  PngRowFormat f;
  f.color_type = s.color_type;
  f.bit_depth = s.bit_depth;
  f.width = s.width;
  f.alpha = s.alpha;
  // convert("RGB") ignores a gray or colour tRNS key: only compositing makes those pixels white.
  f.trns_turns_white = s.num_trans > 0 && s.alpha == AlphaMode::kWhite;
  f.trans_gray = s.trans_color.gray;
  if (s.color_type == PNG_COLOR_TYPE_PALETTE) {
    // PIL's palette starts zeroed and opaque (Pillow >= 10; 9.x used a gray ramp), PLTE fills
    // the first entries and tRNS sets the alpha of the first num_trans; convert("RGBA") looks
    // every index up in that 256-entry table, so an index past the PLTE is opaque black;
    // convert("RGB") uses the same table without its alpha.
    for (int i = 0; i < 256; ++i) {
      const bool in_palette = i < s.num_palette;
      const uint32_t alpha = i < s.num_trans ? s.trans_alpha[i] : 255;
      const png_color c = in_palette ? s.palette[i] : png_color{0, 0, 0};
      f.palette_rgb[i][0] = apply_alpha(s.alpha, c.red, alpha);
      f.palette_rgb[i][1] = apply_alpha(s.alpha, c.green, alpha);
      f.palette_rgb[i][2] = apply_alpha(s.alpha, c.blue, alpha);
    }
  }
  return f;
}

void png_row_to_rgb(const PngRowFormat& f, const uint8_t* raw, uint8_t* rgb) {
  const uint32_t width = f.width;
  const bool wide = f.bit_depth == 16;
  switch (f.color_type) {
    case PNG_COLOR_TYPE_GRAY:
      if (wide) {
        // PIL opens 16-bit grayscale as mode "I;16" (full 16-bit values), and its conversion to
        // RGB(A) clips at 255 instead of scaling: any value above 255 becomes white. Matching
        // the reference pipeline means keeping that. tRNS (kWhite only) compares the full
        // 16-bit value.
        for (uint32_t x = 0; x < width; ++x) {
          const uint32_t v = read_be16(raw + 2 * x);
          const bool transparent = f.trns_turns_white && v == f.trans_gray;
          const uint8_t g = transparent || v > 255 ? 255 : static_cast<uint8_t>(v);
          rgb[3 * x] = rgb[3 * x + 1] = rgb[3 * x + 2] = g;
        }
      } else {
        // 1/2/4-bit gray is scaled to 0..255 by bit replication (v * 255, 85, 17), as PIL's
        // unpackers do. PIL's transparency test is then made on the scaled value: for 1-bit
        // images it stores the tRNS level as 0 or 255, for 2/4/8-bit it compares the scaled
        // pixel with the raw tRNS number (so for 2/4-bit images it rarely matches - a PIL
        // quirk we reproduce). A transparent pixel composited over white is white; without
        // compositing (kDrop) the key is ignored.
        const uint32_t scale = 255u / ((1u << f.bit_depth) - 1u);
        const uint32_t trans_level = f.bit_depth == 1 ? (f.trans_gray != 0 ? 255u : 0u) : f.trans_gray;
        for (uint32_t x = 0; x < width; ++x) {
          const uint32_t g = raw[x] * scale;
          const uint8_t out = f.trns_turns_white && g == trans_level ? 255 : static_cast<uint8_t>(g);
          rgb[3 * x] = rgb[3 * x + 1] = rgb[3 * x + 2] = out;
        }
      }
      break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: {
      // 16-bit LA is opened as RGBA from the high bytes ("LA;16B"), 8-bit as LA.
      const uint32_t step = wide ? 4 : 2, alpha_offset = wide ? 2 : 1;
      for (uint32_t x = 0; x < width; ++x) {
        const uint8_t* p = raw + step * x;
        const uint8_t g = apply_alpha(f.alpha, p[0], p[alpha_offset]);
        rgb[3 * x] = rgb[3 * x + 1] = rgb[3 * x + 2] = g;
      }
      break;
    }
    case PNG_COLOR_TYPE_RGB:
      // Mode "RGB": convert_to_rgb returns it untouched, so a tRNS colour key is ignored.
      // 16-bit samples keep their high byte ("RGB;16B"), which is a truncation, not rounding.
      if (wide) {
        for (uint32_t i = 0; i < 3 * width; ++i) rgb[i] = raw[2 * i];
      } else {
        std::memcpy(rgb, raw, 3 * static_cast<size_t>(width));
      }
      break;
    case PNG_COLOR_TYPE_PALETTE:
      for (uint32_t x = 0; x < width; ++x) std::memcpy(rgb + 3 * x, f.palette_rgb[raw[x]], 3);
      break;
    case PNG_COLOR_TYPE_RGB_ALPHA: {
      const uint32_t bytes = wide ? 2 : 1;  // 16-bit: high bytes ("RGBA;16B")
      for (uint32_t x = 0; x < width; ++x) {
        const uint8_t* p = raw + 4 * bytes * x;
        const uint8_t a = p[3 * bytes];
        rgb[3 * x + 0] = apply_alpha(f.alpha, p[0], a);
        rgb[3 * x + 1] = apply_alpha(f.alpha, p[bytes], a);
        rgb[3 * x + 2] = apply_alpha(f.alpha, p[2 * bytes], a);
      }
      break;
    }
    default:
      break;  // rejected before decoding
  }
}

// Guarded: reads all rows and converts them into `out_rgb`. A non-interlaced image is read a
// row at a time through `row`; an interlaced one needs the whole raw image (`rows`).
bool png_read_rows_guarded(PngSession* s, const PngRowFormat* format, int passes, uint8_t* row, png_bytepp rows,
                           uint8_t* out_rgb) {
  if (setjmp(png_jmpbuf(s->png)) != 0) return false;
  const size_t stride = static_cast<size_t>(s->width) * 3;
  if (passes > 1) {
    png_read_image(s->png, rows);
    for (png_uint_32 y = 0; y < s->height; ++y) png_row_to_rgb(*format, rows[y], out_rgb + y * stride);
  } else {
    for (png_uint_32 y = 0; y < s->height; ++y) {
      png_read_row(s->png, row, nullptr);
      png_row_to_rgb(*format, row, out_rgb + y * stride);
    }
  }
  // No png_read_end: like PIL, stop once the pixels are in and don't insist on what follows
  // the image data (a missing IEND, say).
  return true;
}

Image decode_png(std::span<const uint8_t> bytes, const ImageLimits& limits, std::string_view label,
                 AlphaMode alpha) {
  // The IHDR must be the first chunk (libpng refuses anything else), so its size can be
  // checked before libpng reads further: a file that is only a signature and a huge IHDR is
  // refused for its size, not for being cut short.
  if (bytes.size() >= 24 && read_be32(&bytes[8]) == 13 && has_prefix(bytes, "IHDR", 12)) {
    check_pixel_limit(read_be32(&bytes[16]), read_be32(&bytes[20]), limits, label);
  }

  PngSession session;
  session.alpha = alpha;
  session.data = bytes.data();
  session.size = bytes.size();
  struct Destroyer {
    PngSession* s;
    ~Destroyer() {
      if (s->png != nullptr) png_destroy_read_struct(&s->png, s->info != nullptr ? &s->info : nullptr, nullptr);
    }
  } destroyer{&session};

  if (!png_read_info_guarded(&session)) fail(label, ": truncated or corrupt PNG: ", session.message);
  check_pixel_limit(session.width, session.height, limits, label);
  switch (session.color_type) {
    case PNG_COLOR_TYPE_GRAY:
    case PNG_COLOR_TYPE_GRAY_ALPHA:
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_RGB_ALPHA:
    case PNG_COLOR_TYPE_PALETTE:
      break;
    default:
      fail(label, ": unsupported PNG colour type ", session.color_type);
  }

  int passes = 1;
  if (!png_prepare_rows_guarded(&session, &passes)) fail(label, ": truncated or corrupt PNG: ", session.message);
  const PngRowFormat format = make_png_row_format(session);

  Image image;
  image.width = static_cast<int>(session.width);
  image.height = static_cast<int>(session.height);
  image.rgb.resize(image.pixel_count() * 3);
  std::vector<uint8_t> raw;
  std::vector<png_bytep> rows;
  if (passes > 1) {
    raw.resize(session.rowbytes * session.height);
    rows.resize(session.height);
    for (png_uint_32 y = 0; y < session.height; ++y) rows[y] = raw.data() + y * session.rowbytes;
  } else {
    raw.resize(session.rowbytes);
  }
  if (!png_read_rows_guarded(&session, &format, passes, raw.data(), rows.data(), image.rgb.data())) {
    fail(label, ": truncated or corrupt PNG: ", session.message);
  }
  return image;
}

}  // namespace

const char* alpha_mode_name(AlphaMode mode) { return mode == AlphaMode::kWhite ? "white" : "drop"; }

AlphaMode parse_alpha_mode(std::string_view name, std::string_view label) {
  if (name == "drop") return AlphaMode::kDrop;
  if (name == "white") return AlphaMode::kWhite;
  fail(label, ": unknown alpha mode '", name, "' (drop: ignore transparency as the reference does; white: composite onto white)");
}

Image decode_image(std::span<const uint8_t> bytes, const ImageLimits& limits, std::string_view label,
                   AlphaMode alpha) {
  if (bytes.empty()) fail(label, ": not a JPEG or PNG image (empty file)");
  if (is_png(bytes)) return decode_png(bytes, limits, label, alpha);
  if (is_jpeg(bytes)) return decode_jpeg(bytes, limits, label);
  fail(label, ": not a JPEG or PNG image", other_format_hint(bytes));
}

Image load_image(const std::filesystem::path& path, const ImageLimits& limits, AlphaMode alpha) {
  // read_text_file refuses missing files (kNotFound), directories, and files over the size
  // limit (kLimitExceeded), naming the path; it reads bytes, text or not.
  const std::string bytes = read_text_file(path, kMaxImageFileBytes);
  return decode_image(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), limits,
                      path.string(), alpha);
}

}  // namespace lumen
