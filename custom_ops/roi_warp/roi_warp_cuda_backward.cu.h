// RoI-warp backward CUDA kernels (TensorFlow-free): box gradient, and the
// feature gradient by float atomics (fast mode).  The deterministic feature
// gradient (gather) is in roi_warp_cuda_gather.cu.h.
//
// Box gradient (both modes, deterministic): the warp items of a box are cut
// into tiles, one per block at a time; each lane sums d/d(y1, x1, y2, x2)
// over its channels and cells in a fixed order, the block reduces the four
// sums with warp shuffles and then across warps in a fixed order, and writes
// them to the tile's own slot of `partials` [B*K, chunks, 4].
// BoxReduceKernel sums the chunks of each box in order.  No float atomics:
// bit-for-bit reproducible.
//
// Not pooled (BoxGradTileKernel): a warp item is one cell and a channel group
// (kChannelsPerLane channels per lane); in fast mode the same kernel adds
// g * weight into the four taps with atomicAdd (float4 atomics on sm_90 when
// channels are vectorised).
//
// Pooled (PooledBoxGradKernel): argmax holds the window index of each cell's
// chosen sample, so each (cell, channel) visits exactly that one sample; a
// lane walks a row of cells for one channel and merges the atomic
// contributions to the same pixel in registers.  Entries outside
// [0, window^2) are skipped (never used as an address) and raise the
// optional `bad_argmax` flag.  Taps of zero weight are skipped by the atomics
// (the CPU adds 0 * g there; this differs only for non-finite g).
//
// T (grad, features) is float, Half or BFloat16, boxes and their gradient
// float; the feature gradient is accumulated in float (`grad_features`: the
// output itself for float, a float workspace converted afterwards for 16-bit
// types).
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_BACKWARD_CU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_BACKWARD_CU_H_

#include <cstdint>

#include "roi_warp_cuda_common.cu.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

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

// __launch_bounds__ minimum of resident blocks of the merging (atomic)
// backward kernels: 3 caps registers at 80 (37.5 % theoretical occupancy on
// sm_90): the register window of merged contributions does not fit 64
// registers beside the box-gradient loads without spilling (ptxas -v, CUDA
// 13: 12 B pooled, 60 B float4 rows at 64 registers; none at 80).  Whether
// the lower occupancy costs more than the spills did is for a GPU to say.
constexpr int kMergeMinBlocksPerSm = 3;

// Fixed-order reduction of a block's four box-gradient sums (one per lane in
// `acc`) into partials[tile * 4 .. + 4): warp shuffles, then the warps in
// order.  Every thread of the block must call it.
__device__ __forceinline__ void ReduceBoxGradTile(const float (&acc)[4], float* warp_sums,
                                                  float* __restrict__ partials,
                                                  int64_t tile) {
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    float v = acc[q];
#pragma unroll
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
      v += __shfl_down_sync(0xffffffffu, v, offset);
    }
    if (lane == 0) warp_sums[warp * 4 + q] = v;
  }
  __syncthreads();
  if (threadIdx.x < 4) {
    float sum = 0.0f;
    for (int w = 0; w < kWarpsPerBlock; ++w) sum += warp_sums[w * 4 + threadIdx.x];
    partials[tile * 4 + threadIdx.x] = sum;
  }
  __syncthreads();  // warp_sums is reused by the next tile
}

// Not pooled.  A warp item is one row of samples (box, pi) and a group of
// kWarpSize * kVec channels (kVec per lane: float4 loads and, on sm_90,
// float4 atomics); a block takes tiles of kWarpsPerBlock items of one box.
// The row's two feature rows (ty.i0, ty.i1) are fixed, so with kAtomic a
// lane merges the contributions of consecutive samples that share a pixel
// in a 2 x 2 (rows x columns) register window of kVec-vectors that slides
// along the columns, one atomicAdd per pixel and vector.  chunks =
// ceil(n * groups / kWarpsPerBlock), groups = ceil(C / (kWarpSize * kVec)).
template <typename T, typename IndexT, int kVec, bool kAtomic>
__global__ void __launch_bounds__(kThreads, kAtomic ? kMergeMinBlocksPerSm : kMinBlocksPerSm)
    RowBoxGradKernel(KernelDims d, IndexT groups, IndexT chunks, IndexT num_tiles,
                     const T* __restrict__ grad, const T* __restrict__ features,
                     const float* __restrict__ boxes, const TapEntry* __restrict__ taps,
                     float* __restrict__ grad_features, float* __restrict__ partials) {
  using V = Vec<kVec>;
  __shared__ float warp_sums[kWarpsPerBlock * 4];
  const IndexT C = static_cast<IndexT>(d.channels);
  const IndexT H = static_cast<IndexT>(d.height);
  const IndexT W = static_cast<IndexT>(d.width);
  const IndexT K = static_cast<IndexT>(d.num_boxes);
  const int n = d.grid;
  const IndexT items_per_box = static_cast<IndexT>(n) * groups;
  const int S = d.output_size;
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  // Tiles are block-uniform, so every thread reaches the __syncthreads().
  for (IndexT tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
    const IndexT box = tile / chunks;
    const IndexT item = (tile - box * chunks) * kWarpsPerBlock + warp;
    const IndexT b = box / K;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};  // d/d y1, x1, y2, x2
    const IndexT group = item % groups;
    const int pi = static_cast<int>(item / groups);
    const IndexT c = (group * kWarpSize + lane) * kVec;
    if (item < items_per_box && c < C && H > 0 && W > 0 && Finite(LoadBox(boxes, box))) {
      const TapEntry ty = LoadTap(taps + box * 2 * S + pi);
      const TapEntry* tx_row = taps + box * 2 * S + S;
      const T* fmap = features + b * H * W * C + c;
      float* gmap = kAtomic ? grad_features + b * H * W * C + c : nullptr;
      const IndexT r0 = static_cast<IndexT>(ty.i0) * W, r1 = static_cast<IndexT>(ty.i1) * W;
      const IndexT row_cells = ((box * n + pi) * n) * C + c;  // cell pj at + pj * C
      int col_base = -2;  // no column yet
      float m[2][2][kVec];  // [tap row][column slot][channel]
#pragma unroll
      for (int t = 0; t < 2; ++t) {
#pragma unroll
        for (int v = 0; v < kVec; ++v) m[t][0][v] = m[t][1][v] = 0.0f;
      }
      // atomicAdd of the non-zero window vectors of column slot 0 (or all).
      auto flush = [&](bool only_first_column) {
#pragma unroll
        for (int t = 0; t < 2; ++t) {
#pragma unroll
          for (int cc = 0; cc < 2; ++cc) {
            if (cc == 1 && only_first_column) continue;
            bool any = false;
#pragma unroll
            for (int v = 0; v < kVec; ++v) any |= m[t][cc][v] != 0.0f;
            if (any) V::AtomicAdd(gmap + ((t ? r1 : r0) + col_base + cc) * C, m[t][cc]);
#pragma unroll
            for (int v = 0; v < kVec; ++v) m[t][cc][v] = 0.0f;
          }
        }
      };
#pragma unroll 1
      for (int pj = 0; pj < n; ++pj) {
        const TapEntry tx = LoadTap(tx_row + pj);
        const IndexT o00 = (r0 + tx.i0) * C, o01 = (r0 + tx.i1) * C;
        const IndexT o10 = (r1 + tx.i0) * C, o11 = (r1 + tx.i1) * C;
        float g[kVec], f00[kVec], f01[kVec], f10[kVec], f11[kVec];
        V::Load(grad + row_cells + static_cast<IndexT>(pj) * C, g);
        V::Load(fmap + o00, f00);
        V::Load(fmap + o01, f01);
        V::Load(fmap + o10, f10);
        V::Load(fmap + o11, f11);
        SampleGrad sg;
#pragma unroll
        for (int v = 0; v < kVec; ++v) sg.Add(ty, tx, g[v], f00[v], f01[v], f10[v], f11[v]);
        acc[0] += sg.sy * ty.dstart;
        acc[1] += sg.sx * tx.dstart;
        acc[2] += sg.sy * ty.dend;
        acc[3] += sg.sx * tx.dend;
        if (kAtomic) {
          if (tx.i0 != col_base) {  // slide the window to columns tx.i0, tx.i0 + 1
            if (tx.i0 == col_base + 1) {
              flush(true);
#pragma unroll
              for (int t = 0; t < 2; ++t) {
#pragma unroll
                for (int v = 0; v < kVec; ++v) m[t][0][v] = m[t][1][v], m[t][1][v] = 0.0f;
              }
            } else {
              flush(false);
            }
            col_base = tx.i0;
          }
          const bool second_in_slot0 = tx.i1 == tx.i0;  // clipped second tap
          const float wy[2] = {ty.w0, ty.w1};
#pragma unroll
          for (int t = 0; t < 2; ++t) {
            const float v0 = wy[t] * tx.w0, v1 = wy[t] * tx.w1;  // weights, as unmerged
#pragma unroll
            for (int v = 0; v < kVec; ++v) {
              if (v0 != 0.0f) m[t][0][v] += v0 * g[v];
              if (v1 != 0.0f) {
                if (second_in_slot0) {
                  m[t][0][v] += v1 * g[v];
                } else {
                  m[t][1][v] += v1 * g[v];
                }
              }
            }
          }
        }
      }
      if (kAtomic) flush(false);
    }
    ReduceBoxGradTile(acc, warp_sums, partials, static_cast<int64_t>(tile));
  }
}

// Pooled backward.  A warp item is one row of cells (box, pi) and 32
// channels, one per lane; a block takes tiles of kWarpsPerBlock items (one
// per warp) of one box, and the box gradient is reduced exactly as in
// BoxGradTileKernel (fixed order: bit-for-bit reproducible).  Each lane
// walks its row cell by cell (pj = 0 .. n-1) and visits only the sample its
// argmax names.  With kAtomic it also scatters the feature gradient, merging
// in registers the contributions that land on the same feature pixel: the
// lane keeps a window of kMergeRows x 2 pixels (rows row_base .. row_base +
// kMergeRows - 1 of this row of cells, the two columns col, col + 1 of the
// current sample's taps) and issues one atomicAdd per pixel when the window
// slides past it (columns only grow along a row of cells for boxes with
// y1 <= y2, x1 <= x2; any other order just flushes early).  Contributions
// outside the window's rows go straight to atomicAdd.  On the VGG-16
// workload of the harness this cuts the float atomics per output element
// (see the emulated harness's count) well below the four of the unmerged
// scatter, at the price of more register arithmetic; the L2 atomics were
// the backward's limit (Nsight Compute, 2026-11-29).
constexpr int kMergeRows = 4;

template <typename T, typename Idx, typename IndexT, bool kAtomic>
__global__ void __launch_bounds__(kThreads, kAtomic ? kMergeMinBlocksPerSm : kMinBlocksPerSm)
    PooledBoxGradKernel(KernelDims d, IndexT lane_groups, IndexT chunks, IndexT num_tiles,
                        const T* __restrict__ grad, const T* __restrict__ features,
                        const float* __restrict__ boxes, const TapEntry* __restrict__ taps,
                        const Idx* __restrict__ argmax, float* __restrict__ grad_features,
                        float* __restrict__ partials, unsigned int* __restrict__ bad_argmax) {
  __shared__ float warp_sums[kWarpsPerBlock * 4];
  const IndexT C = static_cast<IndexT>(d.channels);
  const IndexT H = static_cast<IndexT>(d.height);
  const IndexT W = static_cast<IndexT>(d.width);
  const IndexT K = static_cast<IndexT>(d.num_boxes);
  const int n = d.grid;
  const IndexT items_per_box = static_cast<IndexT>(n) * lane_groups;
  const int S = d.output_size;
  const int window = d.window;
  const int samples = window * window;
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  // Tiles are block-uniform, so every thread reaches the __syncthreads().
  for (IndexT tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
    const IndexT box = tile / chunks;
    const IndexT item = (tile - box * chunks) * kWarpsPerBlock + warp;
    const IndexT b = box / K;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};  // d/d y1, x1, y2, x2
    const IndexT group = item % lane_groups;
    const int pi = static_cast<int>(item / lane_groups);
    const IndexT c = group * kWarpSize + lane;
    if (item < items_per_box && c < C && H > 0 && W > 0 && Finite(LoadBox(boxes, box))) {
      const TapEntry* ty_row = taps + box * 2 * S + pi * window;
      const TapEntry* tx_row = taps + box * 2 * S + S;
      const T* fmap = features + b * H * W * C + c;
      float* gmap = kAtomic ? grad_features + b * H * W * C + c : nullptr;
      const IndexT row_cells = ((box * n + pi) * n) * C + c;  // cell pj at + pj * C
      const int row_base = LoadTap(ty_row).i0;
      int col_base = -2;  // no column yet
      float m[kMergeRows][2];
#pragma unroll
      for (int rr = 0; rr < kMergeRows; ++rr) m[rr][0] = m[rr][1] = 0.0f;
      // atomicAdd of the non-zero window entries of column slot cc (or all).
      auto flush = [&](bool only_first_column) {
#pragma unroll
        for (int rr = 0; rr < kMergeRows; ++rr) {
#pragma unroll
          for (int cc = 0; cc < 2; ++cc) {
            if (cc == 1 && only_first_column) continue;
            if (m[rr][cc] != 0.0f) {
              atomicAdd(gmap + (static_cast<IndexT>(row_base + rr) * W + (col_base + cc)) * C,
                        m[rr][cc]);
            }
            m[rr][cc] = 0.0f;
          }
        }
      };
#pragma unroll 1
      for (int pj = 0; pj < n; ++pj) {
        const IndexT cell = row_cells + static_cast<IndexT>(pj) * C;
        const int32_t a = static_cast<int32_t>(__ldg(argmax + cell));
        if (a < 0 || a >= samples) {
          if (bad_argmax != nullptr) atomicOr(bad_argmax, 1u);
          continue;
        }
        const float g = LoadOne(grad + cell);
        const int di = a / window;
        const TapEntry ty = LoadTap(ty_row + di);
        const TapEntry tx = LoadTap(tx_row + pj * window + (a - di * window));
        const IndexT r0 = static_cast<IndexT>(ty.i0) * W, r1 = static_cast<IndexT>(ty.i1) * W;
        const IndexT o00 = (r0 + tx.i0) * C, o01 = (r0 + tx.i1) * C;
        const IndexT o10 = (r1 + tx.i0) * C, o11 = (r1 + tx.i1) * C;
        SampleGrad sg;
        sg.Add(ty, tx, g, LoadOne(fmap + o00), LoadOne(fmap + o01), LoadOne(fmap + o10),
               LoadOne(fmap + o11));
        acc[0] += sg.sy * ty.dstart;
        acc[1] += sg.sx * tx.dstart;
        acc[2] += sg.sy * ty.dend;
        acc[3] += sg.sx * tx.dend;
        if (kAtomic) {
          if (tx.i0 != col_base) {  // slide the window to columns tx.i0, tx.i0 + 1
            if (tx.i0 == col_base + 1) {
              flush(true);
#pragma unroll
              for (int rr = 0; rr < kMergeRows; ++rr) m[rr][0] = m[rr][1], m[rr][1] = 0.0f;
            } else {
              flush(false);
            }
            col_base = tx.i0;
          }
          const bool second_in_slot0 = tx.i1 == tx.i0;  // clipped second tap
          // Taps row t (ty.i0 or ty.i1, weight wy) of this sample: into the
          // window, or straight to atomicAdd outside its rows.
          auto add_row = [&](int row, float wy, IndexT off0, IndexT off1) {
            const float v0 = wy * tx.w0, v1 = wy * tx.w1;  // weights, as unmerged
            const int rs = row - row_base;
            if (rs >= 0 && rs < kMergeRows) {
#pragma unroll
              for (int rr = 0; rr < kMergeRows; ++rr) {
                if (rr != rs) continue;
                if (v0 != 0.0f) m[rr][0] += v0 * g;
                if (v1 != 0.0f) {  // constant slots: no local-memory indexing
                  if (second_in_slot0) {
                    m[rr][0] += v1 * g;
                  } else {
                    m[rr][1] += v1 * g;
                  }
                }
              }
            } else {  // outside the window's rows: no merging
              if (v0 != 0.0f) atomicAdd(gmap + off0, v0 * g);
              if (v1 != 0.0f) atomicAdd(gmap + off1, v1 * g);
            }
          };
          add_row(ty.i0, ty.w0, o00, o01);
          add_row(ty.i1, ty.w1, o10, o11);
        }
      }
      if (kAtomic) flush(false);
    }
    ReduceBoxGradTile(acc, warp_sums, partials, static_cast<int64_t>(tile));
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
