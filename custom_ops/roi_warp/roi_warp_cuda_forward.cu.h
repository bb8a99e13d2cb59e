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
// num_items = B * K * n * groups, groups = ceil(C / kChannelsPerWarp): a
// warp item is one row of cells (box, pi) and one channel group, walked
// cell by cell (pj = 0 .. n-1), so the item decoding (three integer
// divisions) and the box checks are paid once per n cells instead of once
// per cell.  Inside a cell each lane takes its kR channel vectors one after
// another (r outermost) and keeps only that vector's running maximum and
// window index live: the forward of every type and index width fits the 64
// registers of kMinBlocksPerSm without spilling (the r-innermost order of
// 2026-11-29 kept kR of them and spilled; Nsight Compute counted 235,200
// local-memory requests on the VGG-16 workload).  The taps of a cell are
// reloaded per vector from the read-only cache (warp-uniform addresses).
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
  const int n = d.grid;
  const int S = d.output_size;
  const int window = d.window;
  const int lane = threadIdx.x % kWarpSize;
  const IndexT stride = static_cast<IndexT>(gridDim.x) * kWarpsPerBlock;
  for (IndexT item = static_cast<IndexT>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
       item < num_items; item += stride) {  // warp-uniform
    const IndexT group = item % groups;
    const IndexT row = item / groups;  // box * n + pi
    const int pi = static_cast<int>(row % n);
    const IndexT box = row / n;
    const IndexT b = box / K;
    const bool live = H > 0 && W > 0 && Finite(LoadBox(boxes, box));
    const TapEntry* ty_row = taps + box * 2 * S + pi * window;
    const TapEntry* tx_row = taps + box * 2 * S + S;
    const T* fmap = features + b * H * W * C;
    const IndexT WC = W * C;
    for (int pj = 0; pj < n; ++pj) {
      const IndexT cell_base = (row * n + pj) * C;
      const TapEntry* tx_cell = tx_row + pj * window;
#pragma unroll 1
      for (int r = 0; r < kR; ++r) {
        const IndexT c = ChannelOf<kVec, kR>(group, r, lane);
        if (c >= C) break;  // c grows with r
        float best[kVec];
        int32_t best_index[kVec];
#pragma unroll
        for (int v = 0; v < kVec; ++v) best[v] = 0.0f, best_index[v] = 0;
        if (live) {
          const T* fc = fmap + c;
#pragma unroll 1
          for (int di = 0; di < window; ++di) {
            const TapEntry ty = LoadTap(ty_row + di);
            const T* row0 = fc + static_cast<IndexT>(ty.i0) * WC;
            const T* row1 = fc + static_cast<IndexT>(ty.i1) * WC;
#pragma unroll 1
            for (int dj = 0; dj < window; ++dj) {
              const TapEntry tx = LoadTap(tx_cell + dj);
              const IndexT o0 = static_cast<IndexT>(tx.i0) * C;
              const IndexT o1 = static_cast<IndexT>(tx.i1) * C;
              float f00[kVec], f01[kVec], f10[kVec], f11[kVec];
              V::Load(row0 + o0, f00);
              V::Load(row0 + o1, f01);
              V::Load(row1 + o0, f10);
              V::Load(row1 + o1, f11);
              const float w00 = ty.w0 * tx.w0, w01 = ty.w0 * tx.w1;
              const float w10 = ty.w1 * tx.w0, w11 = ty.w1 * tx.w1;
              const bool first = (di | dj) == 0;
              const int32_t sample = di * window + dj;  // window index
#pragma unroll
              for (int v = 0; v < kVec; ++v) {
                // The CPU's InterpolateSample expression, same order.
                const float value = w00 * f00[v] + w01 * f01[v] + w10 * f10[v] + w11 * f11[v];
                if (first || value > best[v]) {  // first maximum wins
                  best[v] = value;
                  best_index[v] = sample;
                }
              }
            }
          }
        }
        V::Store(output + cell_base + c, best);
        if (argmax != nullptr) V::StoreIndex(argmax + cell_base + c, best_index);
      }
    }
  }
}

}  // namespace cuda
}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_FORWARD_CU_H_
