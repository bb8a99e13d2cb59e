// CPU implementation of the RoI-warp forward and backward passes
// (docs/design.md §4), TensorFlow-free so that the standalone CUDA harness can use
// it as its reference.  Work is split into independent units and handed to a
// caller-supplied ParallelFor(num_units, cost_per_unit, fn(begin, end)).
//
// Layouts (row-major): features [B, H, W, C] of element type T; boxes
// [B, K, 4] as (ymin, xmin, ymax, xmax) in input-image pixels, of box type
// (float, or double with double features: BoxType<T>), as is grad_boxes; output and argmax
// [B, K, n, n, C] with n = pooled_size if > 0, else output_size.  argmax holds
// the index di * (S / P) + dj of the chosen sample inside its cell's window
// (first maximum), as uint8_t when (S / P)^2 <= 256, else int32_t.
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CPU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CPU_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "roi_warp_math.h"

// Vectorization hints (build with -fopenmp-simd -DMNC_TF_OMP_SIMD).
#if defined(_OPENMP) || defined(MNC_TF_OMP_SIMD)
#define MNC_SIMD_REDUCTION _Pragma("omp simd reduction(+ : sy, sx)")
#define MNC_SIMD _Pragma("omp simd")
#define MNC_SIMD_COUNT _Pragma("omp simd reduction(+ : bad)")
#define MNC_SIMD_OR _Pragma("omp simd reduction(| : chosen)")
#else
#define MNC_SIMD_REDUCTION
#define MNC_SIMD
#define MNC_SIMD_COUNT
#define MNC_SIMD_OR
#endif

#include "roi_warp_cpu_window2.h"  // after the MNC_SIMD macros

namespace mnc_tf {
namespace roi_warp {

struct Dims {
  int64_t batch = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  int64_t num_boxes = 0;
  int output_size = 0;
  int pooled_size = 0;  // 0 = no pooling
  double spatial_scale = 0;

  int64_t grid() const { return pooled_size > 0 ? pooled_size : output_size; }
  int64_t output_elements() const {
    return batch * num_boxes * grid() * grid() * channels;
  }
};

// Channels handled by one unit of work.
constexpr int64_t kForwardChannelBlock = 256;

inline int64_t NumBlocks(int64_t channels, int64_t block) {
  return (channels + block - 1) / block;
}

// Taps of all S samples of a box along one axis, and d pos / d (start, end).
template <typename A>
struct BoxTaps {
  std::vector<AxisTaps<A>> y, x;
  std::vector<A> dstart, dend;  // per sample index, same for both axes
  bool finite = false;

  template <typename T>
  void Compute(const Dims& d, const T* box) {
    const A y1 = static_cast<A>(box[0]), x1 = static_cast<A>(box[1]);
    const A y2 = static_cast<A>(box[2]), x2 = static_cast<A>(box[3]);
    const A s = static_cast<A>(d.spatial_scale);
    const int S = d.output_size;
    y.resize(S);
    x.resize(S);
    dstart.resize(S);
    dend.resize(S);
    finite = IsFiniteBox(y1, x1, y2, x2);
    for (int i = 0; i < S; ++i) {
      y[i] = ComputeTaps(finite ? SamplePosition(y1, y2, s, S, i) : A(-2), d.height);
      x[i] = ComputeTaps(finite ? SamplePosition(x1, x2, s, S, i) : A(-2), d.width);
      dstart[i] = DPosDStart(s, S, i);
      dend[i] = DPosDEnd(s, S, i);
    }
  }
};

// Bilinear value of one sample from its four taps (docs/design.md §4).
template <typename T, typename A>
inline A Bilinear(T f00, T f01, T f10, T f11, A w00, A w01, A w10, A w11) {
  return w00 * static_cast<A>(f00) + w01 * static_cast<A>(f01) +
         w10 * static_cast<A>(f10) + w11 * static_cast<A>(f11);
}

// The four taps of one sample: feature offsets (relative to the image's map,
// in elements) and bilinear weights.
template <typename A>
struct SampleTaps {
  int64_t o00, o01, o10, o11;
  A w00, w01, w10, w11;

  void Set(const AxisTaps<A>& ty, const AxisTaps<A>& tx, int64_t W, int64_t C) {
    o00 = (ty.i0 * W + tx.i0) * C;
    o01 = (ty.i0 * W + tx.i1) * C;
    o10 = (ty.i1 * W + tx.i0) * C;
    o11 = (ty.i1 * W + tx.i1) * C;
    w00 = ty.w0 * tx.w0;
    w01 = ty.w0 * tx.w1;
    w10 = ty.w1 * tx.w0;
    w11 = ty.w1 * tx.w1;
  }
};

// Largest pooling window whose argmax fits a uint8 (window^2 <= 256).
constexpr int kMaxUint8Window = 16;

// One cell of the forward pass for channels [0, nc): the max over the
// `samples` samples of its window (first maximum wins) and, if `arg` is
// non-null, the window index of that sample.  The running maximum lives in
// the small `best` / `best_index` buffers (nc entries, L1-resident) and is
// updated with plain selects, never with masked stores.
template <typename T, typename A, typename Idx>
inline void ForwardCell(const T* fmap, const SampleTaps<A>* taps, int samples,
                        int64_t nc, A* __restrict__ best,
                        int32_t* __restrict__ best_index, T* __restrict__ out,
                        Idx* __restrict__ arg) {
  for (int s = 0; s < samples; ++s) {
    const SampleTaps<A>& t = taps[s];
    const T* f00 = fmap + t.o00;
    const T* f01 = fmap + t.o01;
    const T* f10 = fmap + t.o10;
    const T* f11 = fmap + t.o11;
    const A w00 = t.w00, w01 = t.w01, w10 = t.w10, w11 = t.w11;
    if (samples == 1) {
      MNC_SIMD
      for (int64_t c = 0; c < nc; ++c) {
        out[c] = static_cast<T>(Bilinear(f00[c], f01[c], f10[c], f11[c], w00, w01, w10, w11));
      }
      if (arg != nullptr) std::fill(arg, arg + nc, Idx(0));  // pooled, window 1
      return;
    }
    if (s == 0) {
      MNC_SIMD
      for (int64_t c = 0; c < nc; ++c) {
        best[c] = Bilinear(f00[c], f01[c], f10[c], f11[c], w00, w01, w10, w11);
        best_index[c] = 0;
      }
    } else if (s + 1 < samples) {
      const int32_t index = s;
      MNC_SIMD
      for (int64_t c = 0; c < nc; ++c) {
        const A v = Bilinear(f00[c], f01[c], f10[c], f11[c], w00, w01, w10, w11);
        const A b = best[c];
        const int32_t bi = best_index[c];
        best[c] = v > b ? v : b;
        best_index[c] = v > b ? index : bi;
      }
    } else {  // last sample: write the cell's output and argmax
      const int32_t index = s;
      MNC_SIMD
      for (int64_t c = 0; c < nc; ++c) {
        const A v = Bilinear(f00[c], f01[c], f10[c], f11[c], w00, w01, w10, w11);
        const A b = best[c];
        const int32_t bi = best_index[c];
        out[c] = static_cast<T>(v > b ? v : b);
        arg[c] = static_cast<Idx>(v > b ? index : bi);
      }
    }
  }
}

// Cell (pi, pj) of a 2 x 2 window through ForwardWindow2, if its taps are
// regular (Window2Offset); returns false (nothing written) if they are not.
template <typename T, typename A, typename Idx>
inline bool Window2Forward(const BoxTaps<A>& taps, int64_t pi, int64_t pj,
                           const T* fmap, int64_t W, int64_t C, int64_t nc,
                           T* out, Idx* arg) {
  const AxisTaps<A>& ty0 = taps.y[2 * pi];
  const AxisTaps<A>& ty1 = taps.y[2 * pi + 1];
  const AxisTaps<A>& tx0 = taps.x[2 * pj];
  const AxisTaps<A>& tx1 = taps.x[2 * pj + 1];
  const int oy = Window2Offset(ty0, ty1), ox = Window2Offset(tx0, tx1);
  if (oy < 0 || ox < 0) return false;
  Window2Axis<A> ay, ax;
  ay.Set(ty0, ty1, oy);
  ax.Set(tx0, tx1, ox);
  const T* base = fmap + (ty0.i0 * W + tx0.i0) * C;
  const int64_t rs = W * C;
  switch (oy * 2 + ox) {
    case 0: ForwardWindow2<0, 0>(base, rs, C, ay, ax, nc, out, arg); break;
    case 1: ForwardWindow2<0, 1>(base, rs, C, ay, ax, nc, out, arg); break;
    case 2: ForwardWindow2<1, 0>(base, rs, C, ay, ax, nc, out, arg); break;
    default: ForwardWindow2<1, 1>(base, rs, C, ay, ax, nc, out, arg); break;
  }
  return true;
}

// Cell (pi, pj) of a 2 x 2 window through BackwardWindow2, if its taps are
// regular; adds to the box gradient sums (d / d y1, y2, x1, x2).  Returns
// false (nothing touched) if the taps are not regular.
template <typename T, typename A, typename Idx>
inline bool Window2Backward(const BoxTaps<A>& taps, int64_t pi, int64_t pj,
                            const T* fmap, A* gmap, int64_t W, int64_t C,
                            const T* grad, const Idx* arg, A* dy1, A* dy2,
                            A* dx1, A* dx2) {
  const int64_t i = 2 * pi, j = 2 * pj;
  const AxisTaps<A>& ty0 = taps.y[i];
  const AxisTaps<A>& ty1 = taps.y[i + 1];
  const AxisTaps<A>& tx0 = taps.x[j];
  const AxisTaps<A>& tx1 = taps.x[j + 1];
  const int oy = Window2Offset(ty0, ty1), ox = Window2Offset(tx0, tx1);
  if (oy < 0 || ox < 0) return false;
  Window2Axis<A> ay, ax;
  ay.Set(ty0, ty1, oy);
  ax.Set(tx0, tx1, ox);
  const int64_t offset = (ty0.i0 * W + tx0.i0) * C;
  const T* base = fmap + offset;
  A* gbase = gmap + offset;
  const int64_t rs = W * C;
  A sy[2] = {0, 0}, sx[2] = {0, 0};
  switch (oy * 2 + ox) {
    case 0: BackwardWindow2<0, 0>(grad, arg, base, gbase, rs, C, ay, ax, C, sy, sx); break;
    case 1: BackwardWindow2<0, 1>(grad, arg, base, gbase, rs, C, ay, ax, C, sy, sx); break;
    case 2: BackwardWindow2<1, 0>(grad, arg, base, gbase, rs, C, ay, ax, C, sy, sx); break;
    default: BackwardWindow2<1, 1>(grad, arg, base, gbase, rs, C, ay, ax, C, sy, sx); break;
  }
  for (int d = 0; d < 2; ++d) {
    *dy1 += sy[d] * taps.dstart[i + d];
    *dy2 += sy[d] * taps.dend[i + d];
    *dx1 += sx[d] * taps.dstart[j + d];
    *dx2 += sx[d] * taps.dend[j + d];
  }
  return true;
}

// Forward pass.  output: [B, K, n, n, C]; argmax (pooled only, else null):
// same shape, the index di * (S / P) + dj of the chosen sample inside its
// cell's (S / P) x (S / P) window (first maximum wins).  Idx is uint8_t
// (window^2 <= 256) or int32_t.
template <typename T, typename B, typename Idx, typename ParallelFor>
void ForwardCpu(const Dims& d, const T* features, const B* boxes, T* output,
                Idx* argmax, ParallelFor&& parallel_for) {
  using A = typename AccType<T>::type;
  const int64_t C = d.channels, H = d.height, W = d.width;
  const int S = d.output_size;
  const int P = d.pooled_size;
  const int64_t n = d.grid();
  const int window = P > 0 ? S / P : 1;
  const int samples = window * window;
  const int64_t blocks = NumBlocks(C, kForwardChannelBlock);
  const int64_t units = d.batch * d.num_boxes * blocks;
  if (units == 0) return;
  const int64_t cost = S * S * std::min(C, kForwardChannelBlock) * 12;
  parallel_for(units, cost, [&](int64_t begin, int64_t end) {
    BoxTaps<A> taps;
    std::vector<SampleTaps<A>> cell_taps(samples);
    std::vector<A> best(kForwardChannelBlock);
    std::vector<int32_t> best_index(kForwardChannelBlock);
    int64_t last_box = -1;
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t box_index = unit / blocks;  // b * K + k
      const int64_t c0 = (unit % blocks) * kForwardChannelBlock;
      const int64_t nc = std::min(kForwardChannelBlock, C - c0);
      const int64_t b = box_index / d.num_boxes;
      if (box_index != last_box) {
        taps.Compute(d, boxes + box_index * 4);
        last_box = box_index;
      }
      T* out_box = output + box_index * n * n * C + c0;
      Idx* arg_box = P > 0 ? argmax + box_index * n * n * C + c0 : nullptr;
      if (!taps.finite || H == 0 || W == 0) {
        for (int64_t cell = 0; cell < n * n; ++cell) {
          for (int64_t c = 0; c < nc; ++c) {
            out_box[cell * C + c] = T(0);
            if (arg_box) arg_box[cell * C + c] = Idx(0);
          }
        }
        continue;
      }
      const T* fmap = features + b * H * W * C + c0;
      for (int64_t pi = 0; pi < n; ++pi) {
        for (int64_t pj = 0; pj < n; ++pj) {
          if (window == 2 &&
              Window2Forward(taps, pi, pj, fmap, W, C, nc,
                             out_box + (pi * n + pj) * C,
                             arg_box + (pi * n + pj) * C)) {
            continue;  // regular 2 x 2 cell, done in one pass
          }
          for (int di = 0; di < window; ++di) {
            for (int dj = 0; dj < window; ++dj) {
              cell_taps[di * window + dj].Set(taps.y[pi * window + di],
                                              taps.x[pj * window + dj], W, C);
            }
          }
          const int64_t cell = (pi * n + pj) * C;
          Idx* arg_cell = arg_box ? arg_box + cell : nullptr;
          ForwardCell(fmap, cell_taps.data(), samples, nc, best.data(),
                      best_index.data(), out_box + cell, arg_cell);
        }
      }
    }
  });
}

// Backward of one sample for channels [0, nc): scatters g * weight into the
// four taps of grad_features and adds sum_c g * d out / d pos along y and x to
// *dpos_y, *dpos_x.  g = grad[c] for every channel (no pooling), or only where
// select[c] == index (fused max pool: the cell's argmax names this sample).
// The four gradient pointers must not alias: taps that contribute nothing
// (weight and derivative zero, e.g. outside the map, where indices are clipped
// onto a neighbour) must be pointed at distinct scratch buffers by the caller.
// Written with eight coefficients (the separable form of the bilinear
// weights) so that the loop keeps its accumulators in registers.
template <typename T, typename A, typename Idx>
inline void SampleBackward(const T* __restrict__ grad,
                           const Idx* __restrict__ select, Idx index,
                           const T* f00, const T* f01, const T* f10,
                           const T* f11, A* __restrict__ g00,
                           A* __restrict__ g01, A* __restrict__ g10,
                           A* __restrict__ g11, const AxisTaps<A>& ty,
                           const AxisTaps<A>& tx, int64_t nc, A* dpos_y,
                           A* dpos_x) {
  const A wy0 = ty.w0, wy1 = ty.w1, wx0 = tx.w0, wx1 = tx.w1;
  const A dy0 = ty.d0, dy1 = ty.d1, dx0 = tx.d0, dx1 = tx.d1;
  A sy = 0, sx = 0;
  if (select != nullptr) {
    MNC_SIMD_REDUCTION
    for (int64_t c = 0; c < nc; ++c) {
      // A select, not a masked load: g is 0 for channels that chose another
      // sample of the window.
      const A gc = static_cast<A>(grad[c]);
      const A g = select[c] == index ? gc : A(0);
      const A v00 = static_cast<A>(f00[c]), v01 = static_cast<A>(f01[c]);
      const A v10 = static_cast<A>(f10[c]), v11 = static_cast<A>(f11[c]);
      const A gy0 = g * wy0, gy1 = g * wy1;
      g00[c] += gy0 * wx0;
      g01[c] += gy0 * wx1;
      g10[c] += gy1 * wx0;
      g11[c] += gy1 * wx1;
      sy += g * (dy0 * (wx0 * v00 + wx1 * v01) + dy1 * (wx0 * v10 + wx1 * v11));
      sx += g * (wy0 * (dx0 * v00 + dx1 * v01) + wy1 * (dx0 * v10 + dx1 * v11));
    }
  } else {
    MNC_SIMD_REDUCTION
    for (int64_t c = 0; c < nc; ++c) {
      const A g = static_cast<A>(grad[c]);
      const A v00 = static_cast<A>(f00[c]), v01 = static_cast<A>(f01[c]);
      const A v10 = static_cast<A>(f10[c]), v11 = static_cast<A>(f11[c]);
      const A gy0 = g * wy0, gy1 = g * wy1;
      g00[c] += gy0 * wx0;
      g01[c] += gy0 * wx1;
      g10[c] += gy1 * wx0;
      g11[c] += gy1 * wx1;
      sy += g * (dy0 * (wx0 * v00 + wx1 * v01) + dy1 * (wx0 * v10 + wx1 * v11));
      sx += g * (wy0 * (dx0 * v00 + dx1 * v01) + wy1 * (dx0 * v10 + dx1 * v11));
    }
  }
  *dpos_y += sy;
  *dpos_x += sx;
}

// True if a tap contributes nothing (zero weight and zero derivative); its
// index was clipped onto a neighbour and must not be written through.
template <typename A>
inline bool Inert(A w, A d) {
  return w == A(0) && d == A(0);
}

// Backward pass.  The B * K boxes are split into `num_chunks` contiguous
// chunks (fixed by the caller, so results are deterministic for a given
// value); chunk 0 accumulates into grad_features_acc, chunk r > 0 into
// chunk_scratch[(r - 1) * B*H*W*C ...], and the chunks are summed in order.
// Each box's gradient is owned by one chunk (no partial sums across threads).
//
// Pooled: argmax holds the window index of each cell's chosen sample (see
// ForwardCpu).  The backward is routed by it: a sample of a cell is visited
// only if some channel of the cell chose it, and it scatters only those
// channels' gradient; a cell whose channels all chose one sample costs one
// sample, not (S / P)^2.
//
// grad_features_acc: [B, H, W, C] accumulators (overwritten).
// chunk_scratch: (num_chunks - 1) * B * H * W * C accumulators.
// Returns false if argmax holds an index outside [0, (S / P)^2) (those boxes
// get no gradient; argmax is checked before it is used, and then only
// compared with window indices, never used as an address, so a bad value
// cannot reach out of bounds).
template <typename T, typename B, typename Idx, typename ParallelFor>
bool BackwardCpu(const Dims& d, const T* grad, const T* features,
                 const B* boxes, const Idx* argmax,
                 typename AccType<T>::type* grad_features_acc,
                 typename AccType<T>::type* chunk_scratch, int64_t num_chunks,
                 B* grad_boxes, ParallelFor&& parallel_for) {
  using A = typename AccType<T>::type;
  const int64_t C = d.channels, H = d.height, W = d.width, K = d.num_boxes;
  const int S = d.output_size;
  const int P = d.pooled_size;
  const int64_t n = d.grid();
  const int window = P > 0 ? S / P : 1;
  const int samples = window * window;
  const int64_t total_boxes = d.batch * K;
  const int64_t map_elements = d.batch * H * W * C;
  num_chunks = std::max<int64_t>(1, num_chunks);
  std::vector<char> argmax_ok(num_chunks, 1);
  const int64_t cost = (total_boxes * n * n * C * 24) / num_chunks + map_elements;
  parallel_for(num_chunks, cost, [&](int64_t begin, int64_t end) {
    BoxTaps<A> taps;
    // Write targets of inert taps (see SampleBackward), one per corner.
    std::vector<A> sink(4 * std::max<int64_t>(C, 1));
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      A* acc = chunk == 0 ? grad_features_acc
                          : chunk_scratch + (chunk - 1) * map_elements;
      std::fill(acc, acc + map_elements, A(0));
      const int64_t first = total_boxes * chunk / num_chunks;
      const int64_t last = total_boxes * (chunk + 1) / num_chunks;
      for (int64_t box_index = first; box_index < last; ++box_index) {
        B* gb = grad_boxes + box_index * 4;
        gb[0] = gb[1] = gb[2] = gb[3] = B(0);
        taps.Compute(d, boxes + box_index * 4);
        if (!taps.finite || H == 0 || W == 0 || C == 0) continue;
        const int64_t b = box_index / K;
        const T* fmap = features + b * H * W * C;
        A* gmap = acc + b * H * W * C;
        const T* g_box = grad + box_index * n * n * C;
        const Idx* a_box = P > 0 ? argmax + box_index * n * n * C : nullptr;
        if (a_box != nullptr) {
          const uint32_t limit = static_cast<uint32_t>(samples);
          int64_t bad = 0;
          MNC_SIMD_COUNT
          for (int64_t e = 0; e < n * n * C; ++e) {
            bad += static_cast<uint32_t>(a_box[e]) >= limit;
          }
          if (bad != 0) {
            argmax_ok[chunk] = 0;
            continue;
          }
        }
        A dy1 = 0, dy2 = 0, dx1 = 0, dx2 = 0;
        for (int64_t pi = 0; pi < n; ++pi) {
          for (int64_t pj = 0; pj < n; ++pj) {
            const int64_t cell = (pi * n + pj) * C;
            const Idx* a_cell = a_box ? a_box + cell : nullptr;
            if (window == 2 &&
                Window2Backward(taps, pi, pj, fmap, gmap, W, C, g_box + cell,
                                a_cell, &dy1, &dy2, &dx1, &dx2)) {
              continue;  // regular 2 x 2 cell, done in one pass
            }
            // Bit s set: some channel of the cell chose window sample s (all
            // bits for windows of more than 32 samples).
            uint32_t chosen = ~0u;
            if (a_cell != nullptr && samples > 1 && samples <= 32) {
              chosen = 0;
              MNC_SIMD_OR
              for (int64_t c = 0; c < C; ++c) chosen |= 1u << a_cell[c];  // checked above
            }
            for (int di = 0; di < window; ++di) {
              const int i = static_cast<int>(pi) * window + di;
              const AxisTaps<A>& ty = taps.y[i];
              const bool y0 = Inert(ty.w0, ty.d0), y1 = Inert(ty.w1, ty.d1);
              for (int dj = 0; dj < window; ++dj) {
                const int s = di * window + dj;
                if (s < 32 && !((chosen >> s) & 1u)) continue;
                const int j = static_cast<int>(pj) * window + dj;
                const AxisTaps<A>& tx = taps.x[j];
                const bool x0 = Inert(tx.w0, tx.d0), x1 = Inert(tx.w1, tx.d1);
                if ((y0 && y1) || (x0 && x1)) continue;  // sample off the map
                const int64_t o00 = (ty.i0 * W + tx.i0) * C, o01 = (ty.i0 * W + tx.i1) * C;
                const int64_t o10 = (ty.i1 * W + tx.i0) * C, o11 = (ty.i1 * W + tx.i1) * C;
                A sy = 0, sx = 0;
                // Only this sample chosen: every channel's gradient goes to it.
                const bool all = a_cell == nullptr || samples == 1 ||
                                 (samples <= 32 && chosen == (1u << s));
                SampleBackward(g_box + cell, all ? nullptr : a_cell,
                               static_cast<Idx>(s), fmap + o00,
                               fmap + o01, fmap + o10, fmap + o11,
                               (y0 || x0) ? sink.data() : gmap + o00,
                               (y0 || x1) ? sink.data() + C : gmap + o01,
                               (y1 || x0) ? sink.data() + 2 * C : gmap + o10,
                               (y1 || x1) ? sink.data() + 3 * C : gmap + o11,
                               ty, tx, C, &sy, &sx);
                dy1 += sy * taps.dstart[i];
                dy2 += sy * taps.dend[i];
                dx1 += sx * taps.dstart[j];
                dx2 += sx * taps.dend[j];
              }
            }
          }
        }
        gb[0] = static_cast<B>(dy1);
        gb[1] = static_cast<B>(dx1);
        gb[2] = static_cast<B>(dy2);
        gb[3] = static_cast<B>(dx2);
      }
    }
  });
  if (num_chunks > 1 && map_elements > 0) {  // sum the chunks, in order
    constexpr int64_t kSpan = 4096;
    const int64_t spans = (map_elements + kSpan - 1) / kSpan;
    parallel_for(spans, kSpan * num_chunks, [&](int64_t begin, int64_t end) {
      for (int64_t span = begin; span < end; ++span) {
        const int64_t lo = span * kSpan, hi = std::min(map_elements, lo + kSpan);
        for (int64_t r = 1; r < num_chunks; ++r) {
          const A* src = chunk_scratch + (r - 1) * map_elements;
          MNC_SIMD
          for (int64_t e = lo; e < hi; ++e) grad_features_acc[e] += src[e];
        }
      }
    });
  }
  for (char ok : argmax_ok) {
    if (!ok) return false;
  }
  return true;
}

}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CPU_H_
