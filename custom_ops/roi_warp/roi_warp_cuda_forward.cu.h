// RoI-warp CUDA kernels (TensorFlow-free): the taps table and the forward
// pass with the fused max pool.
//
// TapsKernel evaluates, once per box, axis and sample, the shared per-sample
// math of roi_warp_math.h exactly as the CPU kernel does (BoxTaps), so every
// later kernel reads identical taps.  The forward kernel gives each warp one
// output cell (b, k, pi, pj) and a group of channels; a lane evaluates the
// window x window samples of its cell in the CPU kernel's order (rows outer,
// columns inner, first maximum wins) with the CPU's expression for the
// bilinear value, so outputs and argmax equal the CPU's bit for bit when
// both are compiled without FMA contraction.
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_FORWARD_CU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_FORWARD_CU_H_

#include <cstdint>

#include "roi_warp_cuda_common.cu.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

// taps[(box * 2 + axis) * S + i] for total = B * K * 2 * S entries.  A box
// with a non-finite coordinate gets the taps of position -2 (all weights 0),
// like the CPU's BoxTaps.  Needs H, W >= 1.
template <typename T, typename IndexT>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    TapsKernel(KernelDims d, IndexT total, const T* __restrict__ boxes,
               TapEntry* __restrict__ taps) {
  const int S = d.output_size;
  const IndexT stride = static_cast<IndexT>(gridDim.x) * kThreads;
  for (IndexT idx = static_cast<IndexT>(blockIdx.x) * kThreads + threadIdx.x; idx < total;
       idx += stride) {
    const int i = static_cast<int>(idx % S);
    const IndexT rest = idx / S;
    const bool x_axis = (rest % 2) != 0;
    const Box bx = LoadBox(boxes, rest / 2);
    const float start = x_axis ? bx.x1 : bx.y1;
    const float end = x_axis ? bx.x2 : bx.y2;
    const float pos = Finite(bx) ? SamplePosition(start, end, d.scale, S, i) : -2.0f;
    const AxisTaps<float> t = ComputeTaps(pos, x_axis ? d.width : d.height);
    TapEntry e;
    e.w0 = t.w0;
    e.w1 = t.w1;
    e.d0 = t.d0;
    e.d1 = t.d1;
    e.i0 = static_cast<int32_t>(t.i0);
    e.i1 = static_cast<int32_t>(t.i1);
    e.dstart = DPosDStart(d.scale, S, i);
    e.dend = DPosDEnd(d.scale, S, i);
    taps[idx] = e;
  }
}

// output / argmax: [B, K, n, n, C]; argmax (window index di * window + dj of
// the chosen sample, Idx = uint8_t or int32_t) null when not pooled.
// num_items = B * K * n * n * groups, groups = ceil(C / kChannelsPerWarp).
// T = float, Half or BFloat16 (loads and stores only; float arithmetic);
// boxes are float in every case.
template <typename T, typename Idx, typename IndexT, int kVec, int kR>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    RoiWarpForwardKernel(KernelDims d, IndexT num_items, IndexT groups,
                         const T* __restrict__ features,
                         const float* __restrict__ boxes,
                         const TapEntry* __restrict__ taps,
                         T* __restrict__ output, Idx* __restrict__ argmax) {
  using V = Vec<kVec>;
  const IndexT C = static_cast<IndexT>(d.channels);
  const IndexT H = static_cast<IndexT>(d.height);
  const IndexT W = static_cast<IndexT>(d.width);
  const IndexT K = static_cast<IndexT>(d.num_boxes);
  const IndexT n = static_cast<IndexT>(d.grid);
  const int S = d.output_size;
  const int window = d.window;
  const int lane = threadIdx.x % kWarpSize;
  const IndexT stride = static_cast<IndexT>(gridDim.x) * kWarpsPerBlock;
  for (IndexT item = static_cast<IndexT>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
       item < num_items; item += stride) {  // warp-uniform
    const IndexT group = item % groups;
    IndexT rest = item / groups;
    const int pj = static_cast<int>(rest % n);
    rest /= n;
    const int pi = static_cast<int>(rest % n);
    const IndexT box = rest / n;
    const IndexT b = box / K;
    const IndexT cell_base = ((box * n + pi) * n + pj) * C;
    float best[kR][kVec];
    int32_t best_index[kR][kVec];
#pragma unroll
    for (int r = 0; r < kR; ++r) {
#pragma unroll
      for (int v = 0; v < kVec; ++v) best[r][v] = 0.0f, best_index[r][v] = 0;
    }
    if (H > 0 && W > 0 && Finite(LoadBox(boxes, box))) {
      const TapEntry* ty_row = taps + box * 2 * S;
      const TapEntry* tx_row = ty_row + S;
      const T* fmap = features + b * H * W * C;
      for (int di = 0; di < window; ++di) {
        const int i = pi * window + di;
        const TapEntry ty = LoadTap(ty_row + i);
        const T* row0 = fmap + static_cast<IndexT>(ty.i0) * W * C;
        const T* row1 = fmap + static_cast<IndexT>(ty.i1) * W * C;
        for (int dj = 0; dj < window; ++dj) {
          const int j = pj * window + dj;
          const TapEntry tx = LoadTap(tx_row + j);
          const IndexT o0 = static_cast<IndexT>(tx.i0) * C;
          const IndexT o1 = static_cast<IndexT>(tx.i1) * C;
          const float w00 = ty.w0 * tx.w0, w01 = ty.w0 * tx.w1;
          const float w10 = ty.w1 * tx.w0, w11 = ty.w1 * tx.w1;
          const bool first = (di | dj) == 0;
          const int32_t sample = di * window + dj;  // window index
#pragma unroll
          for (int r = 0; r < kR; ++r) {
            const IndexT c = ChannelOf<kVec, kR>(group, r, lane);
            if (c >= C) continue;
            float f00[kVec], f01[kVec], f10[kVec], f11[kVec];
            V::Load(row0 + o0 + c, f00);
            V::Load(row0 + o1 + c, f01);
            V::Load(row1 + o0 + c, f10);
            V::Load(row1 + o1 + c, f11);
#pragma unroll
            for (int v = 0; v < kVec; ++v) {
              // The CPU's InterpolateSample expression, same order.
              const float value = w00 * f00[v] + w01 * f01[v] + w10 * f10[v] + w11 * f11[v];
              if (first || value > best[r][v]) {  // first maximum wins
                best[r][v] = value;
                best_index[r][v] = sample;
              }
            }
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kR; ++r) {
      const IndexT c = ChannelOf<kVec, kR>(group, r, lane);
      if (c >= C) continue;
      V::Store(output + cell_base + c, best[r]);
      if (argmax != nullptr) V::StoreIndex(argmax + cell_base + c, best_index[r]);
    }
  }
}

}  // namespace cuda
}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_FORWARD_CU_H_
