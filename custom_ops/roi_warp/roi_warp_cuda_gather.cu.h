// RoI-warp deterministic feature gradient (TensorFlow-free): a gather, no
// float atomics, bit-for-bit reproducible.
//
// SampleRangesKernel records, for every box and feature row v (column u), the
// first and last sample index whose taps reach v (u) with a non-zero weight
// (integer atomicMin / atomicMax: exact and order-independent).
// BoxMaskKernel condenses them into one bit per box for every map row and
// column of an image (words of 32 boxes, no atomics).  Then each warp of
// GatherFeatureGradKernel takes one feature pixel and a group of channels,
// walks the boxes whose row AND column masks are set (in increasing box
// order: the same boxes and order as scanning all K, without reading the
// ranges of the boxes that miss the pixel) and, for the samples inside both
// ranges, adds weight * g (routed through the argmax when pooled) in a fixed
// order.  Its cost against the atomic scatter is measured by the CUDA
// harness (backward_deterministic vs backward_atomic).
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_GATHER_CU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_GATHER_CU_H_

#include <climits>
#include <cstdint>

#include "roi_warp_cuda_common.cu.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

// ranges[i] = (INT_MAX, -1), the empty range, for i < count.
template <typename IndexT>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    ClearRangesKernel(IndexT count, int2* __restrict__ ranges) {
  const IndexT stride = static_cast<IndexT>(gridDim.x) * kThreads;
  for (IndexT v = static_cast<IndexT>(blockIdx.x) * kThreads + threadIdx.x; v < count;
       v += stride) {
    ranges[v] = make_int2(INT_MAX, -1);
  }
}

// For each taps entry (box, axis, sample i), total = B * K * 2 * S: widens
// ranges_y[box * H + row] (ranges_x[box * W + col]) to include i for each tap
// of non-zero weight.  Boxes with a non-finite coordinate have zero weights.
template <typename IndexT>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    SampleRangesKernel(KernelDims d, IndexT total, const TapEntry* __restrict__ taps,
                       int2* __restrict__ ranges_y, int2* __restrict__ ranges_x) {
  const int S = d.output_size;
  const IndexT stride = static_cast<IndexT>(gridDim.x) * kThreads;
  for (IndexT idx = static_cast<IndexT>(blockIdx.x) * kThreads + threadIdx.x; idx < total;
       idx += stride) {
    const int i = static_cast<int>(idx % S);
    const IndexT rest = idx / S;
    const bool x_axis = (rest % 2) != 0;
    const IndexT box = rest / 2;
    const TapEntry t = LoadTap(taps + idx);
    const int64_t size = x_axis ? d.width : d.height;
    int* r = reinterpret_cast<int*>((x_axis ? ranges_x : ranges_y) +
                                    static_cast<int64_t>(box) * size);
    if (t.w0 != 0.0f) {
      atomicMin(r + 2 * t.i0, i);
      atomicMax(r + 2 * t.i0 + 1, i);
    }
    if (t.w1 != 0.0f) {
      atomicMin(r + 2 * t.i1, i);
      atomicMax(r + 2 * t.i1 + 1, i);
    }
  }
}

// masks[(b * (H + W) + line) * words + w], line < H a map row, else column
// line - H: bit t set when box b * K + w * 32 + t has a non-empty sample
// range on that line.  total = B * (H + W) * words, words = ceil(K / 32).
template <typename IndexT>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    BoxMaskKernel(KernelDims d, IndexT total, IndexT words, const int2* __restrict__ ranges_y,
                  const int2* __restrict__ ranges_x, uint32_t* __restrict__ masks) {
  const IndexT H = static_cast<IndexT>(d.height);
  const IndexT W = static_cast<IndexT>(d.width);
  const IndexT K = static_cast<IndexT>(d.num_boxes);
  const IndexT stride = static_cast<IndexT>(gridDim.x) * kThreads;
  for (IndexT idx = static_cast<IndexT>(blockIdx.x) * kThreads + threadIdx.x; idx < total;
       idx += stride) {
    const IndexT w = idx % words;
    const IndexT rest = idx / words;
    const IndexT line = rest % (H + W);
    const IndexT b = rest / (H + W);
    uint32_t bits = 0u;
#pragma unroll 4
    for (int t = 0; t < 32; ++t) {
      const IndexT k = w * 32 + t;
      if (k >= K) break;
      const IndexT box = b * K + k;
      const int2 r = line < H ? ranges_y[box * H + line] : ranges_x[box * W + (line - H)];
      if (r.x <= r.y) bits |= 1u << t;
    }
    masks[idx] = bits;
  }
}

// grad_features[b, v, u, c] = sum over boxes k of image b, rows i in
// ranges_y[b*K+k, v], columns j in ranges_x[b*K+k, u] of wy * wx * g, where
// g = grad[b, k, i, j, c] (no pooling) or grad[b, k, i/w, j/w, c] if its
// argmax is the window index (i % w) * w + j % w (pooled).  Sums in float,
// stores T.  num_items = B * H * W * groups.
template <typename T, typename Idx, typename IndexT, int kVec, int kR>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    GatherFeatureGradKernel(KernelDims d, IndexT num_items, IndexT groups,
                            const int2* __restrict__ ranges_y,
                            const int2* __restrict__ ranges_x,
                            const uint32_t* __restrict__ masks, IndexT words,
                            const TapEntry* __restrict__ taps,
                            const T* __restrict__ grad,
                            const Idx* __restrict__ argmax,
                            T* __restrict__ grad_features) {
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
    const IndexT pixel = item / groups;  // (b * H + v) * W + u
    const IndexT u = pixel % W;
    const IndexT v = (pixel / W) % H;
    const IndexT b = pixel / (W * H);
    float acc[kR][kVec];
#pragma unroll
    for (int r = 0; r < kR; ++r) {
#pragma unroll
      for (int k = 0; k < kVec; ++k) acc[r][k] = 0.0f;
    }
    const uint32_t* mask_y = masks + (b * (H + W) + v) * words;
    const uint32_t* mask_x = masks + (b * (H + W) + H + u) * words;
    IndexT word = 0;
    uint32_t hits = words > 0 ? mask_y[0] & mask_x[0] : 0u;  // boxes reaching (v, u)
    for (;;) {
      while (hits == 0u && ++word < words) hits = mask_y[word] & mask_x[word];
      if (hits == 0u) break;
      const IndexT k = word * 32 + (__ffs(static_cast<int>(hits)) - 1);  // increasing k
      hits &= hits - 1u;
      const IndexT box = b * K + k;
      const int2 ry = ranges_y[box * H + v];
      const int2 rx = ranges_x[box * W + u];
      const TapEntry* ty_row = taps + box * 2 * S;
      const TapEntry* tx_row = ty_row + S;
      const T* g_box = grad + box * n * n * C;
      const Idx* a_box = argmax != nullptr ? argmax + box * n * n * C : nullptr;
      for (int i = ry.x; i <= ry.y; ++i) {
        const float wy = TapWeightAt(LoadTap(ty_row + i), v);
        if (wy == 0.0f) continue;
        for (int j = rx.x; j <= rx.y; ++j) {
          const float wx = TapWeightAt(LoadTap(tx_row + j), u);
          if (wx == 0.0f) continue;
          const float w = wy * wx;
          const IndexT cell_base = (static_cast<IndexT>(i / window) * n + j / window) * C;
          const int32_t sample = (i % window) * window + j % window;  // window index
#pragma unroll
          for (int r = 0; r < kR; ++r) {
            const IndexT c = ChannelOf<kVec, kR>(group, r, lane);
            if (c >= C) continue;
            float g[kVec];
            V::Load(g_box + cell_base + c, g);
            if (a_box != nullptr) {
              int32_t a[kVec];
              V::LoadIndex(a_box + cell_base + c, a);
#pragma unroll
              for (int q = 0; q < kVec; ++q) g[q] = a[q] == sample ? g[q] : 0.0f;
            }
#pragma unroll
            for (int q = 0; q < kVec; ++q) acc[r][q] += w * g[q];
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kR; ++r) {
      const IndexT c = ChannelOf<kVec, kR>(group, r, lane);
      if (c < C) V::Store(grad_features + pixel * C + c, acc[r]);
    }
  }
}

}  // namespace cuda
}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_GATHER_CU_H_
