// CPU implementation of the RoI-warp forward and backward passes
// (DESIGN.md §4), TensorFlow-free so that the standalone CUDA harness can use
// it as its reference.  Work is split into independent units and handed to a
// caller-supplied ParallelFor(num_units, cost_per_unit, fn(begin, end)).
//
// Layouts (row-major): features [B, H, W, C]; boxes [B, K, 4] as
// (ymin, xmin, ymax, xmax) in input-image pixels; output and argmax
// [B, K, n, n, C] with n = pooled_size if > 0, else output_size.  argmax holds
// the index i * S + j of the chosen sample of the S x S grid (first maximum).
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CPU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CPU_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "roi_warp_math.h"

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
constexpr int64_t kForwardChannelBlock = 64;
constexpr int64_t kBackwardChannelBlock = 32;

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

// Bilinear value of one sample for channels [0, nc): out[c] for the 4 taps.
template <typename T, typename A>
inline void InterpolateSample(const T* f00, const T* f01, const T* f10,
                              const T* f11, A w00, A w01, A w10, A w11,
                              int64_t nc, A* out) {
  for (int64_t c = 0; c < nc; ++c) {
    out[c] = w00 * static_cast<A>(f00[c]) + w01 * static_cast<A>(f01[c]) +
             w10 * static_cast<A>(f10[c]) + w11 * static_cast<A>(f11[c]);
  }
}

template <typename T, typename ParallelFor>
void ForwardCpu(const Dims& d, const T* features, const T* boxes, T* output,
                int32_t* argmax, ParallelFor&& parallel_for) {
  using A = typename AccType<T>::type;
  const int64_t C = d.channels, H = d.height, W = d.width;
  const int S = d.output_size;
  const int P = d.pooled_size;
  const int64_t n = d.grid();
  const int window = P > 0 ? S / P : 1;
  const int64_t blocks = NumBlocks(C, kForwardChannelBlock);
  const int64_t units = d.batch * d.num_boxes * blocks;
  if (units == 0) return;
  const int64_t cost = S * S * std::min(C, kForwardChannelBlock) * 12;
  parallel_for(units, cost, [&](int64_t begin, int64_t end) {
    BoxTaps<A> taps;
    A value[kForwardChannelBlock];
    A best[kForwardChannelBlock];
    int32_t best_index[kForwardChannelBlock];
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
      int32_t* arg_box = P > 0 ? argmax + box_index * n * n * C + c0 : nullptr;
      if (!taps.finite || H == 0 || W == 0) {
        for (int64_t cell = 0; cell < n * n; ++cell) {
          for (int64_t c = 0; c < nc; ++c) {
            out_box[cell * C + c] = T(0);
            if (arg_box) arg_box[cell * C + c] = 0;
          }
        }
        continue;
      }
      const T* fmap = features + b * H * W * C + c0;
      for (int64_t pi = 0; pi < n; ++pi) {
        for (int64_t pj = 0; pj < n; ++pj) {
          for (int di = 0; di < window; ++di) {
            const int i = static_cast<int>(pi) * window + di;
            const AxisTaps<A>& ty = taps.y[i];
            const T* row0 = fmap + ty.i0 * W * C;
            const T* row1 = fmap + ty.i1 * W * C;
            for (int dj = 0; dj < window; ++dj) {
              const int j = static_cast<int>(pj) * window + dj;
              const AxisTaps<A>& tx = taps.x[j];
              A* dst = (P > 0 && (di | dj)) ? value : best;
              InterpolateSample(row0 + tx.i0 * C, row0 + tx.i1 * C,
                                row1 + tx.i0 * C, row1 + tx.i1 * C,
                                ty.w0 * tx.w0, ty.w0 * tx.w1, ty.w1 * tx.w0,
                                ty.w1 * tx.w1, nc, dst);
              if (P > 0) {
                const int32_t idx = i * S + j;
                if ((di | dj) == 0) {
                  for (int64_t c = 0; c < nc; ++c) best_index[c] = idx;
                } else {
                  for (int64_t c = 0; c < nc; ++c) {
                    const bool better = value[c] > best[c];
                    best[c] = better ? value[c] : best[c];
                    best_index[c] = better ? idx : best_index[c];
                  }
                }
              }
            }
          }
          T* out_cell = out_box + (pi * n + pj) * C;
          for (int64_t c = 0; c < nc; ++c) out_cell[c] = static_cast<T>(best[c]);
          if (arg_box) {
            int32_t* arg_cell = arg_box + (pi * n + pj) * C;
            for (int64_t c = 0; c < nc; ++c) arg_cell[c] = best_index[c];
          }
        }
      }
    }
  });
}

// Backward of one sample for channels [0, nc): scatters g * weight into the
// four taps of grad_features and returns sum_c g * d out / d pos along y and x.
// If `select` is non-null, only channels with select[c] == index take part.
template <typename T, typename A>
inline void SampleBackward(const T* grad, const int32_t* select, int32_t index,
                           const T* f00, const T* f01, const T* f10,
                           const T* f11, A* g00, A* g01, A* g10, A* g11,
                           const AxisTaps<A>& ty, const AxisTaps<A>& tx,
                           int64_t nc, A* dpos_y, A* dpos_x) {
  const A w00 = ty.w0 * tx.w0, w01 = ty.w0 * tx.w1;
  const A w10 = ty.w1 * tx.w0, w11 = ty.w1 * tx.w1;
  A sy = 0, sx = 0;
  for (int64_t c = 0; c < nc; ++c) {
    A g = static_cast<A>(grad[c]);
    if (select != nullptr) g = select[c] == index ? g : A(0);
    const A v00 = static_cast<A>(f00[c]), v01 = static_cast<A>(f01[c]);
    const A v10 = static_cast<A>(f10[c]), v11 = static_cast<A>(f11[c]);
    g00[c] += w00 * g;
    g01[c] += w01 * g;
    g10[c] += w10 * g;
    g11[c] += w11 * g;
    sy += g * (ty.d0 * (tx.w0 * v00 + tx.w1 * v01) +
               ty.d1 * (tx.w0 * v10 + tx.w1 * v11));
    sx += g * (ty.w0 * (tx.d0 * v00 + tx.d1 * v01) +
               ty.w1 * (tx.d0 * v10 + tx.d1 * v11));
  }
  *dpos_y += sy;
  *dpos_x += sx;
}

// grad_features_acc: [B, H, W, C] accumulators (overwritten).
// box_partials: [NumBlocks(C, kBackwardChannelBlock), B * K * 4] scratch.
// Returns false if argmax holds an index outside [0, S * S) (those entries
// are skipped; nothing is read or written out of bounds).
template <typename T, typename ParallelFor>
bool BackwardCpu(const Dims& d, const T* grad, const T* features,
                 const T* boxes, const int32_t* argmax,
                 typename AccType<T>::type* grad_features_acc,
                 typename AccType<T>::type* box_partials, T* grad_boxes,
                 ParallelFor&& parallel_for) {
  using A = typename AccType<T>::type;
  const int64_t C = d.channels, H = d.height, W = d.width, K = d.num_boxes;
  const int S = d.output_size;
  const int P = d.pooled_size;
  const int64_t n = d.grid();
  const int window = P > 0 ? S / P : 1;
  const int64_t blocks = NumBlocks(C, kBackwardChannelBlock);
  const int64_t box_values = d.batch * K * 4;
  std::vector<char> argmax_ok(std::max<int64_t>(blocks, 1), 1);
  if (blocks > 0) {
    const int64_t cost =
        (d.batch * K * S * S + d.batch * H * W) * std::min(C, kBackwardChannelBlock) * 20;
    parallel_for(blocks, cost, [&](int64_t begin, int64_t end) {
      BoxTaps<A> taps;
      for (int64_t blk = begin; blk < end; ++blk) {
        const int64_t c0 = blk * kBackwardChannelBlock;
        const int64_t nc = std::min(kBackwardChannelBlock, C - c0);
        A* partial = box_partials + blk * box_values;
        std::fill(partial, partial + box_values, A(0));
        for (int64_t p = 0; p < d.batch * H * W; ++p) {
          std::fill(grad_features_acc + p * C + c0,
                    grad_features_acc + p * C + c0 + nc, A(0));
        }
        if (H == 0 || W == 0) continue;
        for (int64_t box_index = 0; box_index < d.batch * K; ++box_index) {
          taps.Compute(d, boxes + box_index * 4);
          if (!taps.finite) continue;
          const int64_t b = box_index / K;
          const T* fmap = features + b * H * W * C + c0;
          A* gmap = grad_features_acc + b * H * W * C + c0;
          const T* g_box = grad + box_index * n * n * C + c0;
          const int32_t* a_box = P > 0 ? argmax + box_index * n * n * C + c0 : nullptr;
          if (a_box != nullptr) {  // validate before any use of the indices
            for (int64_t cell = 0; cell < n * n; ++cell) {
              for (int64_t c = 0; c < nc; ++c) {
                const int32_t a = a_box[cell * C + c];
                if (a < 0 || a >= S * S) argmax_ok[blk] = 0;
              }
            }
            if (!argmax_ok[blk]) break;
          }
          A dy1 = 0, dy2 = 0, dx1 = 0, dx2 = 0;
          for (int64_t pi = 0; pi < n; ++pi) {
            for (int64_t pj = 0; pj < n; ++pj) {
              const int64_t cell = (pi * n + pj) * C;
              for (int di = 0; di < window; ++di) {
                const int i = static_cast<int>(pi) * window + di;
                const AxisTaps<A>& ty = taps.y[i];
                for (int dj = 0; dj < window; ++dj) {
                  const int j = static_cast<int>(pj) * window + dj;
                  const AxisTaps<A>& tx = taps.x[j];
                  const int64_t o00 = (ty.i0 * W + tx.i0) * C, o01 = (ty.i0 * W + tx.i1) * C;
                  const int64_t o10 = (ty.i1 * W + tx.i0) * C, o11 = (ty.i1 * W + tx.i1) * C;
                  A sy = 0, sx = 0;
                  SampleBackward(g_box + cell, a_box ? a_box + cell : nullptr,
                                 static_cast<int32_t>(i * S + j), fmap + o00,
                                 fmap + o01, fmap + o10, fmap + o11, gmap + o00,
                                 gmap + o01, gmap + o10, gmap + o11, ty, tx, nc,
                                 &sy, &sx);
                  dy1 += sy * taps.dstart[i];
                  dy2 += sy * taps.dend[i];
                  dx1 += sx * taps.dstart[j];
                  dx2 += sx * taps.dend[j];
                }
              }
            }
          }
          A* pb = partial + box_index * 4;
          pb[0] += dy1;
          pb[1] += dx1;
          pb[2] += dy2;
          pb[3] += dx2;
        }
      }
    });
  } else {
    std::fill(grad_features_acc, grad_features_acc + d.batch * H * W * C, A(0));
  }
  for (int64_t v = 0; v < box_values; ++v) {  // fixed order: deterministic
    A sum = 0;
    for (int64_t blk = 0; blk < blocks; ++blk) sum += box_partials[blk * box_values + v];
    grad_boxes[v] = static_cast<T>(sum);
  }
  for (char ok : argmax_ok) {
    if (!ok) return false;
  }
  return true;
}

}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CPU_H_
