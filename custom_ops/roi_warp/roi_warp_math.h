// Per-sample math of the RoI-warp op (MNC Eq. 6-9; docs/design.md §4), shared by the
// CPU kernel, the CUDA kernels and the standalone CUDA harness.  TensorFlow-free.
//
// For a box (y1, x1, y2, x2) in input-image pixels, spatial scale s and output
// size S, sample i along an axis sits at
//     pos_i = start * s - 0.5 + (i + 0.5) * (end - start) * s / S
// and reads the map with the bilinear kernel kappa(t) = max(0, 1 - |t|) over the
// pixels of the map only (zero padding outside).  d pos_i / d start =
// s * (1 - (i + 0.5) / S) and d pos_i / d end = s * (i + 0.5) / S.
// kappa'(t) = -sign(t) for |t| < 1 (so 0 at t = 0), else 0.
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_MATH_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_MATH_H_

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MNC_HD __host__ __device__ __forceinline__
#else
#define MNC_HD inline
#endif

namespace mnc_tf {
namespace roi_warp {

// floor / isfinite that work in host and device code.
template <typename A>
MNC_HD A Floor(A v) {
#if defined(__CUDA_ARCH__)
  return ::floor(v);
#else
  return std::floor(v);
#endif
}
template <typename A>
MNC_HD bool IsFinite(A v) {
#if defined(__CUDA_ARCH__)
  return ::isfinite(v);
#else
  return std::isfinite(v);
#endif
}

// Box coordinate type: float, double for double features.  Boxes stay float
// when the features are float16 / bfloat16 (mixed precision): a 16-bit box
// corner would be rounded by up to 0.25 px (float16) / 2 px (bfloat16) at
// 600 px.
template <typename T>
struct BoxType {
  using type = float;
};
template <>
struct BoxType<double> {
  using type = double;
};

// Accumulation type: float for float/half/bfloat16, double for double.
template <typename T>
struct AccType {
  using type = float;
};
template <>
struct AccType<double> {
  using type = double;
};

// The two bilinear taps of one sample along one axis.
template <typename A>
struct AxisTaps {
  int64_t i0;  // first tap, clipped into [0, size) (always a valid address)
  int64_t i1;  // second tap (= i0 + 1 unless clipped)
  A w0;        // kappa(pos - tap0), 0 when tap0 is outside the map
  A w1;        // kappa(pos - tap1), 0 when tap1 is outside the map
  A d0;        // kappa'(pos - tap0), 0 when tap0 is outside the map
  A d1;        // kappa'(pos - tap1), 0 when tap1 is outside the map
};

template <typename A>
MNC_HD bool IsFiniteBox(A y1, A x1, A y2, A x2) {
  return IsFinite(y1) && IsFinite(x1) && IsFinite(y2) && IsFinite(x2);
}

// Position of sample `i` (of `out_size`) of the span [start, end] on the map.
template <typename A>
MNC_HD A SamplePosition(A start, A end, A scale, int out_size, int i) {
  const A offset = (static_cast<A>(i) + A(0.5)) / static_cast<A>(out_size);
  return start * scale - A(0.5) + offset * ((end - start) * scale);
}

// d pos_i / d start and d pos_i / d end.
template <typename A>
MNC_HD A DPosDStart(A scale, int out_size, int i) {
  return scale * (A(1) - (static_cast<A>(i) + A(0.5)) / static_cast<A>(out_size));
}
template <typename A>
MNC_HD A DPosDEnd(A scale, int out_size, int i) {
  return scale * ((static_cast<A>(i) + A(0.5)) / static_cast<A>(out_size));
}

// Taps of position `pos` on an axis of `size` pixels.  Positions that are not
// finite or lie at or beyond one pixel outside the map get all-zero weights,
// and every index stays inside [0, size) (size >= 1 required).
template <typename A>
MNC_HD AxisTaps<A> ComputeTaps(A pos, int64_t size) {
  AxisTaps<A> t;
  t.i0 = 0;
  t.i1 = 0;
  t.w0 = t.w1 = t.d0 = t.d1 = A(0);
  // Also false for NaN.  Bounds checked before any float -> int conversion.
  if (!(pos > A(-1) && pos < static_cast<A>(size))) return t;
  const A base = Floor(pos);
  const int64_t b = static_cast<int64_t>(base);
  const A frac = pos - base;  // in [0, 1)
  const A slope = frac > A(0) ? A(1) : A(0);
  if (b >= 0) {  // tap b: t = frac, kappa = 1 - frac, kappa' = -sign(frac)
    t.i0 = b;
    t.w0 = A(1) - frac;
    t.d0 = -slope;
  }
  if (b + 1 < size) {  // tap b + 1: t = frac - 1, kappa = frac, kappa' = +1 if frac > 0
    t.i1 = b + 1;
    t.w1 = frac;
    t.d1 = slope;
  } else {
    t.i1 = t.i0;
  }
  if (b < 0) t.i0 = t.i1;
  return t;
}

}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_MATH_H_
