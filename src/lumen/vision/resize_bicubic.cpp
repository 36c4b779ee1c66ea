// PIL's bicubic resampling (libImaging/Resample.c semantics), reproduced exactly:
//
//  * two separable passes over uint8 pixels, horizontal first, the intermediate image rounded
//    back to uint8; a pass whose size does not change is skipped;
//  * per output sample, filter taps and weights computed in double precision exactly as PIL
//    does (same expressions, same order), normalised to sum 1, then turned into 22-bit fixed
//    point and accumulated in int32 starting from one half.
//
// Any deviation in the order of floating-point operations can flip a weight by one unit in the
// last place and a pixel by one level, so the formulas below mirror PIL's on purpose.
#include "lumen/vision/resize_bicubic.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "lumen/core/error.h"

namespace lumen {
namespace {

// PIL: 32 bits of accumulator - 8 bits of pixel - 2 bits of headroom for the filter's
// negative lobes and overshoot.
constexpr int kPrecisionBits = 32 - 8 - 2;

// Keys' cubic convolution kernel with a = -0.5 (PIL's BICUBIC), support 2.
double bicubic_kernel(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Filter taps for every output index of one pass from in_size to out_size samples.
struct Coefficients {
  int stride = 0;                // weights per output index (PIL's ksize)
  std::vector<int> first;        // first input index used by output i
  std::vector<int> count;        // number of input indices used by output i
  std::vector<int32_t> weights;  // fixed point, output i's taps at [i * stride, i * stride + count[i])
};

Coefficients compute_coefficients(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  // When downscaling the kernel is stretched to cover `scale` input samples per output
  // sample (antialiasing); when upscaling it keeps its natural width.
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  // PIL evaluates the kernel at (x - center + 0.5) * (1 / filterscale): a multiplication by the
  // reciprocal, which is not always bit-identical to a division by filterscale.
  const double inverse_filterscale = 1.0 / filterscale;

  Coefficients c;
  c.stride = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.stride, 0);
  std::vector<double> w(c.stride);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    // int() truncates toward zero, as PIL's (int) casts do; + 0.5 rounds the bounds.
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size);
    const int n = xmax - xmin;
    double sum = 0.0;
    for (int x = 0; x < n; ++x) {
      const double v = bicubic_kernel((x + xmin - center + 0.5) * inverse_filterscale);
      w[x] = v;
      sum += v;
    }
    int32_t* fixed = &c.weights[static_cast<size_t>(i) * c.stride];
    for (int x = 0; x < n; ++x) {
      const double normalised = sum != 0.0 ? w[x] / sum : w[x];
      // Round half away from zero into 22-bit fixed point (PIL's normalize_coeffs_8bpc).
      fixed[x] = normalised < 0 ? static_cast<int32_t>(-0.5 + normalised * (1 << kPrecisionBits))
                                : static_cast<int32_t>(0.5 + normalised * (1 << kPrecisionBits));
    }
    c.first[i] = xmin;
    c.count[i] = n;
  }
  return c;
}

// Fixed-point accumulator -> pixel: floor division by 2^22 (arithmetic shift), clamped.
inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

constexpr int32_t kHalf = int32_t{1} << (kPrecisionBits - 1);

// Horizontal pass over source rows [row_begin, row_end): src is src_width wide, out is
// coeffs.first.size() wide and (row_end - row_begin) tall.
void resample_horizontal(const uint8_t* src, int src_width, int row_begin, int row_end, const Coefficients& coeffs,
                         uint8_t* out) {
  const int out_width = static_cast<int>(coeffs.first.size());
  for (int y = row_begin; y < row_end; ++y) {
    const uint8_t* src_row = src + static_cast<size_t>(y) * src_width * 3;
    uint8_t* out_row = out + static_cast<size_t>(y - row_begin) * out_width * 3;
    for (int x = 0; x < out_width; ++x) {
      const int32_t* k = &coeffs.weights[static_cast<size_t>(x) * coeffs.stride];
      const uint8_t* p = src_row + static_cast<size_t>(coeffs.first[x]) * 3;
      int32_t r = kHalf, g = kHalf, b = kHalf;
      for (int t = 0; t < coeffs.count[x]; ++t, p += 3) {
        r += p[0] * k[t];
        g += p[1] * k[t];
        b += p[2] * k[t];
      }
      out_row[3 * x + 0] = clip8(r);
      out_row[3 * x + 1] = clip8(g);
      out_row[3 * x + 2] = clip8(b);
    }
  }
}

// Vertical pass: src is `width` pixels wide; row indices in `coeffs` are relative to src.
// Integer accumulation is exact, so summing a whole row at a time (vectorisable) gives the
// same result as PIL's per-pixel loop.
void resample_vertical(const uint8_t* src, int width, const Coefficients& coeffs, uint8_t* out) {
  const size_t row_len = static_cast<size_t>(width) * 3;
  std::vector<int32_t> acc(row_len);
  const int out_height = static_cast<int>(coeffs.first.size());
  for (int y = 0; y < out_height; ++y) {
    std::fill(acc.begin(), acc.end(), kHalf);
    const int32_t* k = &coeffs.weights[static_cast<size_t>(y) * coeffs.stride];
    for (int t = 0; t < coeffs.count[y]; ++t) {
      const uint8_t* src_row = src + static_cast<size_t>(coeffs.first[y] + t) * row_len;
      const int32_t weight = k[t];
      for (size_t i = 0; i < row_len; ++i) acc[i] += src_row[i] * weight;
    }
    uint8_t* out_row = out + static_cast<size_t>(y) * row_len;
    for (size_t i = 0; i < row_len; ++i) out_row[i] = clip8(acc[i]);
  }
}

}  // namespace

Image resize_bicubic_pil(const Image& src, int out_width, int out_height) {
  if (src.width <= 0 || src.height <= 0) fail("resize: empty source image (", src.width, "x", src.height, ")");
  if (src.rgb.size() != src.pixel_count() * 3) {
    fail_kind(ErrorKind::kInternal, "resize: image of ", src.width, "x", src.height, " has ", src.rgb.size(),
              " bytes, expected ", src.pixel_count() * 3);
  }
  if (out_width <= 0 || out_height <= 0) fail("resize: invalid target size ", out_width, "x", out_height);

  const bool need_horizontal = out_width != src.width;
  const bool need_vertical = out_height != src.height;
  if (!need_horizontal && !need_vertical) return src;  // PIL returns a copy

  Image out;
  out.width = out_width;
  out.height = out_height;
  out.rgb.resize(out.pixel_count() * 3);

  Coefficients vertical;
  if (need_vertical) vertical = compute_coefficients(src.height, out_height);

  if (!need_horizontal) {
    resample_vertical(src.rgb.data(), src.width, vertical, out.rgb.data());
    return out;
  }

  // The horizontal pass only needs the source rows the vertical pass will read (PIL's
  // ybox_first / ybox_last); the bounds are non-decreasing, so that is one contiguous range.
  int row_begin = 0, row_end = src.height;
  if (need_vertical) {
    row_begin = vertical.first.front();
    row_end = vertical.first.back() + vertical.count.back();
    for (int& first : vertical.first) first -= row_begin;
  }
  const Coefficients horizontal = compute_coefficients(src.width, out_width);
  if (!need_vertical) {
    resample_horizontal(src.rgb.data(), src.width, 0, src.height, horizontal, out.rgb.data());
    return out;
  }
  std::vector<uint8_t> temp(static_cast<size_t>(out_width) * (row_end - row_begin) * 3);
  resample_horizontal(src.rgb.data(), src.width, row_begin, row_end, horizontal, temp.data());
  resample_vertical(temp.data(), out_width, vertical, out.rgb.data());
  return out;
}

}  // namespace lumen
