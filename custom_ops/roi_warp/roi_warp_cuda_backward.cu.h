// RoI-warp backward CUDA kernels (TensorFlow-free): box gradient, and the
// feature gradient by float atomics (fast mode).  The deterministic feature
// gradient (gather) is in roi_warp_cuda_gather.cu.h.
//
// Box gradient (both modes, deterministic): the warp items (cell, channel
// group) of a box are cut into tiles of kWarpsPerBlock * kItemsPerWarp items.
// A block takes one tile at a time; warp w takes items w * kItemsPerWarp ...
// of the tile in order, each lane sums d/d(y1, x1, y2, x2) over its channels
// in a fixed order, the block reduces the four sums with warp shuffles and
// then across warps in a fixed order, and writes them to the tile's own slot
// of `partials` [B*K, chunks, 4].  BoxReduceKernel sums the chunks of each
// box in order.  No float atomics: bit-for-bit reproducible.
//
// Feature gradient, fast mode: the same kernel adds g * weight into the four
// taps with atomicAdd (float4 atomics on sm_90 when channels are vectorised).
//
// Pooled: argmax holds the window index of each cell's chosen sample, so
// each (cell, channel) visits exactly that one sample.  Entries outside
// [0, window^2) are skipped (never used as an address) and raise the
// optional `bad_argmax` flag.  Taps of zero weight are skipped by the atomics
// (the CPU adds 0 * g there; this differs only for non-finite g).
//
// T (grad, features) is float, Half or BFloat16, boxes and their gradient
// float; the feature gradient
// is accumulated in float (`grad_features_acc`: the output itself for float,
// a float workspace converted afterwards for 16-bit types).
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_BACKWARD_CU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_BACKWARD_CU_H_

#include <cstdint>

#include "roi_warp_cuda_common.cu.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

constexpr int kItemsPerWarp = 4;
constexpr int kItemsPerTile = kWarpsPerBlock * kItemsPerWarp;

// sum_c g * d value / d pos along y (sy) and x (sx) for one sample and one
// channel, and the atomic scatter of g * weight when kAtomic.
struct SampleGrad {
  float sy = 0.0f, sx = 0.0f;
  __device__ void Add(const TapEntry& ty, const TapEntry& tx, float g, float v00, float v01,
                      float v10, float v11) {
    sy += g * (ty.d0 * (tx.w0 * v00 + tx.w1 * v01) + ty.d1 * (tx.w0 * v10 + tx.w1 * v11));
    sx += g * (ty.w0 * (tx.d0 * v00 + tx.d1 * v01) + ty.w1 * (tx.d0 * v10 + tx.d1 * v11));
  }
};

// grad_features[p .. p + kVec) += w * g, skipped when the weight is zero.
template <int kVec>
__device__ __forceinline__ void Scatter(float* p, float w, const float (&g)[kVec]) {
  if (w == 0.0f) return;
  float add[kVec];
#pragma unroll
  for (int v = 0; v < kVec; ++v) add[v] = w * g[v];
  Vec<kVec>::AtomicAdd(p, add);
}

// One tile of the box gradient (and, if kAtomic, the scatter of the feature
// gradient).  items_per_box = n * n * groups; num_tiles = B * K * chunks,
// chunks = ceil(items_per_box / kItemsPerTile).
template <typename T, typename Idx, typename IndexT, int kVec, int kR, bool kAtomic>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    BoxGradTileKernel(KernelDims d, IndexT groups, IndexT chunks, IndexT num_tiles,
                      const T* __restrict__ grad, const T* __restrict__ features,
                      const float* __restrict__ boxes, const TapEntry* __restrict__ taps,
                      const Idx* __restrict__ argmax, float* __restrict__ grad_features,
                      float* __restrict__ partials, unsigned int* __restrict__ bad_argmax) {
  using V = Vec<kVec>;
  __shared__ float warp_sums[kWarpsPerBlock][4];
  const IndexT C = static_cast<IndexT>(d.channels);
  const IndexT H = static_cast<IndexT>(d.height);
  const IndexT W = static_cast<IndexT>(d.width);
  const IndexT K = static_cast<IndexT>(d.num_boxes);
  const IndexT n = static_cast<IndexT>(d.grid);
  const IndexT items_per_box = n * n * groups;
  const int S = d.output_size;
  const int window = d.window;
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  // Tiles are block-uniform, so every thread reaches the __syncthreads().
  for (IndexT tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
    const IndexT box = tile / chunks;
    const IndexT chunk = tile - box * chunks;
    const IndexT b = box / K;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};  // d/d y1, x1, y2, x2
    if (H > 0 && W > 0 && Finite(LoadBox(boxes, box))) {
      const TapEntry* ty_row = taps + box * 2 * S;
      const TapEntry* tx_row = ty_row + S;
      const T* fmap = features + b * H * W * C;
      float* gmap = kAtomic ? grad_features + b * H * W * C : nullptr;
      for (int s = 0; s < kItemsPerWarp; ++s) {
        const IndexT item = (chunk * kWarpsPerBlock + warp) * kItemsPerWarp + s;
        if (item >= items_per_box) break;  // warp-uniform
        const IndexT group = item % groups;
        const IndexT cell = item / groups;
        const int pi = static_cast<int>(cell / n);
        const int pj = static_cast<int>(cell % n);
        const IndexT cell_base = (box * n * n + cell) * C;
        if (argmax == nullptr) {  // one sample (pi, pj) for the whole item
          const TapEntry ty = LoadTap(ty_row + pi);
          const TapEntry tx = LoadTap(tx_row + pj);
          const IndexT o00 = (static_cast<IndexT>(ty.i0) * W + tx.i0) * C;
          const IndexT o01 = (static_cast<IndexT>(ty.i0) * W + tx.i1) * C;
          const IndexT o10 = (static_cast<IndexT>(ty.i1) * W + tx.i0) * C;
          const IndexT o11 = (static_cast<IndexT>(ty.i1) * W + tx.i1) * C;
          const float w00 = ty.w0 * tx.w0, w01 = ty.w0 * tx.w1;
          const float w10 = ty.w1 * tx.w0, w11 = ty.w1 * tx.w1;
          SampleGrad sg;
#pragma unroll
          for (int r = 0; r < kR; ++r) {
            const IndexT c = ChannelOf<kVec, kR>(group, r, lane);
            if (c >= C) continue;
            float g[kVec], f00[kVec], f01[kVec], f10[kVec], f11[kVec];
            V::Load(grad + cell_base + c, g);
            V::Load(fmap + o00 + c, f00);
            V::Load(fmap + o01 + c, f01);
            V::Load(fmap + o10 + c, f10);
            V::Load(fmap + o11 + c, f11);
#pragma unroll
            for (int v = 0; v < kVec; ++v) sg.Add(ty, tx, g[v], f00[v], f01[v], f10[v], f11[v]);
            if (kAtomic) {
              Scatter<kVec>(gmap + o00 + c, w00, g);
              Scatter<kVec>(gmap + o01 + c, w01, g);
              Scatter<kVec>(gmap + o10 + c, w10, g);
              Scatter<kVec>(gmap + o11 + c, w11, g);
            }
          }
          acc[0] += sg.sy * ty.dstart;
          acc[1] += sg.sx * tx.dstart;
          acc[2] += sg.sy * ty.dend;
          acc[3] += sg.sx * tx.dend;
        } else {  // pooled: each channel has its own sample, from argmax
#pragma unroll
          for (int r = 0; r < kR; ++r) {
            const IndexT c = ChannelOf<kVec, kR>(group, r, lane);
            if (c >= C) continue;
            float g[kVec];
            int32_t a[kVec];
            V::Load(grad + cell_base + c, g);
            V::LoadIndex(argmax + cell_base + c, a);
#pragma unroll
            for (int v = 0; v < kVec; ++v) {
              if (a[v] < 0 || a[v] >= window * window) {
                if (bad_argmax != nullptr) atomicOr(bad_argmax, 1u);
                continue;
              }
              const int di = a[v] / window;
              const int i = pi * window + di;
              const int j = pj * window + (a[v] - di * window);
              const TapEntry ty = LoadTap(ty_row + i);
              const TapEntry tx = LoadTap(tx_row + j);
              const IndexT cv = c + v;
              const IndexT o00 = (static_cast<IndexT>(ty.i0) * W + tx.i0) * C + cv;
              const IndexT o01 = (static_cast<IndexT>(ty.i0) * W + tx.i1) * C + cv;
              const IndexT o10 = (static_cast<IndexT>(ty.i1) * W + tx.i0) * C + cv;
              const IndexT o11 = (static_cast<IndexT>(ty.i1) * W + tx.i1) * C + cv;
              SampleGrad sg;
              sg.Add(ty, tx, g[v], LoadOne(fmap + o00), LoadOne(fmap + o01),
                     LoadOne(fmap + o10), LoadOne(fmap + o11));
              acc[0] += sg.sy * ty.dstart;
              acc[1] += sg.sx * tx.dstart;
              acc[2] += sg.sy * ty.dend;
              acc[3] += sg.sx * tx.dend;
              if (kAtomic) {
                const float w00 = ty.w0 * tx.w0, w01 = ty.w0 * tx.w1;
                const float w10 = ty.w1 * tx.w0, w11 = ty.w1 * tx.w1;
                if (w00 != 0.0f) atomicAdd(gmap + o00, w00 * g[v]);
                if (w01 != 0.0f) atomicAdd(gmap + o01, w01 * g[v]);
                if (w10 != 0.0f) atomicAdd(gmap + o10, w10 * g[v]);
                if (w11 != 0.0f) atomicAdd(gmap + o11, w11 * g[v]);
              }
            }
          }
        }
      }
    }
    // Fixed-order block reduction of the four sums.
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      float v = acc[q];
#pragma unroll
      for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
        v += __shfl_down_sync(0xffffffffu, v, offset);
      }
      if (lane == 0) warp_sums[warp][q] = v;
    }
    __syncthreads();
    if (threadIdx.x < 4) {
      float sum = 0.0f;
      for (int w = 0; w < kWarpsPerBlock; ++w) sum += warp_sums[w][threadIdx.x];
      partials[static_cast<int64_t>(tile) * 4 + threadIdx.x] = sum;
    }
    __syncthreads();  // warp_sums is reused by the next tile
  }
}

// grad_boxes[box * 4 + q] = sum over chunks, in order, of the tile partials.
// num_values = B * K * 4.
template <typename T, typename IndexT>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    BoxReduceKernel(IndexT num_values, IndexT chunks, const float* __restrict__ partials,
                    T* __restrict__ grad_boxes) {
  const IndexT stride = static_cast<IndexT>(gridDim.x) * kThreads;
  for (IndexT v = static_cast<IndexT>(blockIdx.x) * kThreads + threadIdx.x; v < num_values;
       v += stride) {
    const IndexT box = v / 4;
    const IndexT q = v - box * 4;
    const float* p = partials + static_cast<int64_t>(box) * chunks * 4 + q;
    float sum = 0.0f;
    for (IndexT ch = 0; ch < chunks; ++ch) sum += p[static_cast<int64_t>(ch) * 4];
    grad_boxes[v] = FromFloat<T>::Convert(sum);
  }
}

// out[e] = acc[e] converted to T, e < count (16-bit feature gradients).
template <typename T, typename IndexT>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    ConvertKernel(IndexT count, const float* __restrict__ acc, T* __restrict__ out) {
  const IndexT stride = static_cast<IndexT>(gridDim.x) * kThreads;
  for (IndexT e = static_cast<IndexT>(blockIdx.x) * kThreads + threadIdx.x; e < count;
       e += stride) {
    out[e] = FromFloat<T>::Convert(acc[e]);
  }
}

}  // namespace cuda
}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_BACKWARD_CU_H_
