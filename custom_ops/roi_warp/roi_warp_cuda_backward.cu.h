// RoI-warp backward CUDA kernels (TensorFlow-free).
//
// Box gradient (both modes, deterministic): the n*n*C gradient elements of a
// box are cut into tiles of kBoxTileElements.  A block takes one tile at a
// time; each thread handles kBoxItemsPerThread elements in a fixed order,
// the four sums d/d(y1, x1, y2, x2) are reduced with warp shuffles and then
// across warps in a fixed order, and the tile's partial sums go to their own
// slot of `partials` [B*K, chunks, 4].  BoxReduceKernel then sums the
// chunks of each box in order.  No float atomics, so the box gradient is
// bit-for-bit reproducible whatever the launch geometry.
//
// Feature gradient, fast mode: the same tile kernel scatters g * weight into
// the four taps with atomicAdd (float atomics: summation order varies).
// Feature gradient, deterministic mode: a gather.  SampleRangesKernel records,
// for every box and feature row v (column u), the first and last sample index
// whose bilinear taps reach v (u) with a non-zero weight (integer atomicMin /
// atomicMax: order-independent, exact).  GatherFeatureGradKernel then gives
// each warp one feature pixel and 128 channels; it walks the boxes of the
// image in order and, for the samples in both ranges, recomputes the taps and
// adds weight * g (routed through the argmax when pooled) in a fixed order.
//
// Argmax entries outside [0, S*S) are skipped (never used as an address) and
// reported through the optional `bad_argmax` flag; entries naming a sample
// outside their own cell's window contribute nothing, as in the CPU kernel.
// Zero-weight taps are skipped (the CPU adds 0 * g there, which only differs
// when g is not finite).
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_BACKWARD_CU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_BACKWARD_CU_H_

#include <climits>
#include <cstdint>

#include "roi_warp_cuda_common.cu.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

constexpr int kBoxItemsPerThread = 4;
constexpr int64_t kBoxTileElements = int64_t{kThreads} * kBoxItemsPerThread;
// Channels per lane in the gather kernel; a warp covers 32 * this channels.
constexpr int kGatherChannelsPerLane = 4;
constexpr int64_t kGatherChannelsPerWarp = int64_t{kWarpSize} * kGatherChannelsPerLane;

// Weight with which axis taps `t` reach pixel `v` (0 if they do not).
// Clipped taps carry weight 0, so adding both matches is exact.
__device__ __forceinline__ float TapWeightAt(const AxisTaps<float>& t, int64_t v) {
  return (t.i0 == v ? t.w0 : 0.0f) + (t.i1 == v ? t.w1 : 0.0f);
}

// One tile of the box gradient (and, if kAtomicFeatures, the scatter of the
// feature gradient).  num_tiles = B * K * chunks,
// chunks = ceil(n * n * C / kBoxTileElements).
template <typename IndexT, bool kAtomicFeatures>
__global__ void __launch_bounds__(kThreads)
    BoxGradTileKernel(KernelDims d, IndexT chunks, IndexT num_tiles,
                      const float* __restrict__ grad,
                      const float* __restrict__ features,
                      const float* __restrict__ boxes,
                      const int32_t* __restrict__ argmax,
                      float* __restrict__ grad_features,
                      float* __restrict__ partials,
                      unsigned int* __restrict__ bad_argmax) {
  __shared__ float warp_sums[kWarpsPerBlock][4];
  const IndexT C = static_cast<IndexT>(d.channels);
  const IndexT H = static_cast<IndexT>(d.height);
  const IndexT W = static_cast<IndexT>(d.width);
  const IndexT K = static_cast<IndexT>(d.num_boxes);
  const IndexT n = static_cast<IndexT>(d.grid);
  const IndexT elems_per_box = n * n * C;
  const int S = d.output_size;
  const int window = d.window;
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  // Tiles are block-uniform, so the __syncthreads() below are reached by all.
  for (IndexT tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
    const IndexT box = tile / chunks;
    const IndexT chunk = tile - box * chunks;
    const IndexT b = box / K;
    const Box bx = LoadBox(boxes, box);
    // d/d y1, x1, y2, x2 in the order of grad_boxes.
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (IsFiniteBox(bx.y1, bx.x1, bx.y2, bx.x2) && H > 0 && W > 0) {
      const float* fmap = features + b * H * W * C;
      float* gmap = kAtomicFeatures ? grad_features + b * H * W * C : nullptr;
      for (int r = 0; r < kBoxItemsPerThread; ++r) {
        const IndexT e = chunk * static_cast<IndexT>(kBoxTileElements) +
                         static_cast<IndexT>(r) * kThreads + threadIdx.x;
        if (e >= elems_per_box) break;
        const IndexT c = e % C;
        const IndexT cell = e / C;
        const int pi = static_cast<int>(cell / n);
        const int pj = static_cast<int>(cell % n);
        const IndexT g_index = box * elems_per_box + e;
        int i = pi;
        int j = pj;
        if (argmax != nullptr) {
          const int32_t a = argmax[g_index];
          if (a < 0 || a >= S * S) {
            if (bad_argmax != nullptr) atomicOr(bad_argmax, 1u);
            continue;
          }
          i = a / S;
          j = a - i * S;
          if (i / window != pi || j / window != pj) continue;
        }
        const float g = grad[g_index];
        const AxisTaps<float> ty =
            ComputeTaps(SamplePosition(bx.y1, bx.y2, d.scale, S, i), d.height);
        const AxisTaps<float> tx =
            ComputeTaps(SamplePosition(bx.x1, bx.x2, d.scale, S, j), d.width);
        const IndexT o00 = (static_cast<IndexT>(ty.i0) * W + static_cast<IndexT>(tx.i0)) * C + c;
        const IndexT o01 = (static_cast<IndexT>(ty.i0) * W + static_cast<IndexT>(tx.i1)) * C + c;
        const IndexT o10 = (static_cast<IndexT>(ty.i1) * W + static_cast<IndexT>(tx.i0)) * C + c;
        const IndexT o11 = (static_cast<IndexT>(ty.i1) * W + static_cast<IndexT>(tx.i1)) * C + c;
        const float v00 = __ldg(fmap + o00), v01 = __ldg(fmap + o01);
        const float v10 = __ldg(fmap + o10), v11 = __ldg(fmap + o11);
        // Same expressions as SampleBackward (CPU).
        const float sy = g * (ty.d0 * (tx.w0 * v00 + tx.w1 * v01) +
                              ty.d1 * (tx.w0 * v10 + tx.w1 * v11));
        const float sx = g * (ty.w0 * (tx.d0 * v00 + tx.d1 * v01) +
                              ty.w1 * (tx.d0 * v10 + tx.d1 * v11));
        acc[0] += sy * DPosDStart(d.scale, S, i);
        acc[1] += sx * DPosDStart(d.scale, S, j);
        acc[2] += sy * DPosDEnd(d.scale, S, i);
        acc[3] += sx * DPosDEnd(d.scale, S, j);
        if (kAtomicFeatures) {
          const float w00 = ty.w0 * tx.w0, w01 = ty.w0 * tx.w1;
          const float w10 = ty.w1 * tx.w0, w11 = ty.w1 * tx.w1;
          if (w00 != 0.0f) atomicAdd(gmap + o00, w00 * g);
          if (w01 != 0.0f) atomicAdd(gmap + o01, w01 * g);
          if (w10 != 0.0f) atomicAdd(gmap + o10, w10 * g);
          if (w11 != 0.0f) atomicAdd(gmap + o11, w11 * g);
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
template <typename IndexT>
__global__ void __launch_bounds__(kThreads)
    BoxReduceKernel(IndexT num_values, IndexT chunks,
                    const float* __restrict__ partials,
                    float* __restrict__ grad_boxes) {
  const IndexT stride = static_cast<IndexT>(blockDim.x) * gridDim.x;
  for (IndexT v = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x;
       v < num_values; v += stride) {
    const IndexT box = v / 4;
    const IndexT q = v - box * 4;
    const float* p = partials + static_cast<int64_t>(box) * chunks * 4 + q;
    float sum = 0.0f;
    for (IndexT ch = 0; ch < chunks; ++ch) sum += p[static_cast<int64_t>(ch) * 4];
    grad_boxes[v] = sum;
  }
}

// ranges[i] = (INT_MAX, -1), the empty range, for i < count.
template <typename IndexT>
__global__ void __launch_bounds__(kThreads)
    ClearRangesKernel(IndexT count, int2* __restrict__ ranges) {
  const IndexT stride = static_cast<IndexT>(blockDim.x) * gridDim.x;
  for (IndexT v = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x;
       v < count; v += stride) {
    ranges[v] = make_int2(INT_MAX, -1);
  }
}

// For each (box, axis, sample i): widens ranges_y[box * H + row] (or
// ranges_x[box * W + col]) to include i for each tap with non-zero weight.
// total = B * K * 2 * S; samples of non-finite boxes are skipped.
template <typename IndexT>
__global__ void __launch_bounds__(kThreads)
    SampleRangesKernel(KernelDims d, IndexT total,
                       const float* __restrict__ boxes,
                       int2* __restrict__ ranges_y, int2* __restrict__ ranges_x) {
  const int S = d.output_size;
  const IndexT stride = static_cast<IndexT>(blockDim.x) * gridDim.x;
  for (IndexT idx = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x;
       idx < total; idx += stride) {
    const int i = static_cast<int>(idx % S);
    const IndexT rest = idx / S;
    const bool x_axis = (rest % 2) != 0;
    const IndexT box = rest / 2;
    const Box bx = LoadBox(boxes, box);
    if (!IsFiniteBox(bx.y1, bx.x1, bx.y2, bx.x2)) continue;
    const int64_t size = x_axis ? d.width : d.height;
    const AxisTaps<float> t = x_axis
        ? ComputeTaps(SamplePosition(bx.x1, bx.x2, d.scale, S, i), size)
        : ComputeTaps(SamplePosition(bx.y1, bx.y2, d.scale, S, i), size);
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

// grad_features[b, v, u, c] = sum over boxes k of image b, sample rows i in
// ranges_y[b*K+k, v], sample columns j in ranges_x[b*K+k, u] of
// wy(i, v) * wx(j, u) * g, where g is grad[b, k, i, j, c] (no pooling) or
// grad[b, k, i/w, j/w, c] if its argmax is i * S + j (pooled).
// total_threads = B * H * W * channel_groups * 32, where a warp (32 lanes)
// takes one pixel and kGatherChannelsPerWarp channels; lane l handles
// channels group * kGatherChannelsPerWarp + l + 32 * r for r < 4.
template <typename IndexT>
__global__ void __launch_bounds__(kThreads)
    GatherFeatureGradKernel(KernelDims d, IndexT total_threads,
                            IndexT channel_groups,
                            const int2* __restrict__ ranges_y,
                            const int2* __restrict__ ranges_x,
                            const float* __restrict__ grad,
                            const float* __restrict__ boxes,
                            const int32_t* __restrict__ argmax,
                            float* __restrict__ grad_features) {
  const IndexT C = static_cast<IndexT>(d.channels);
  const IndexT H = static_cast<IndexT>(d.height);
  const IndexT W = static_cast<IndexT>(d.width);
  const IndexT K = static_cast<IndexT>(d.num_boxes);
  const IndexT n = static_cast<IndexT>(d.grid);
  const int S = d.output_size;
  const int window = d.window;
  // The stride is a multiple of 32 and every warp starts at a multiple of 32,
  // so (pixel, group) and all control flow below are warp-uniform.
  const IndexT stride = static_cast<IndexT>(blockDim.x) * gridDim.x;
  for (IndexT t = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x;
       t < total_threads; t += stride) {
    const int lane = static_cast<int>(t % kWarpSize);
    const IndexT warp_item = t / kWarpSize;
    const IndexT group = warp_item % channel_groups;
    const IndexT pixel = warp_item / channel_groups;  // (b * H + v) * W + u
    const IndexT u = pixel % W;
    const IndexT v = (pixel / W) % H;
    const IndexT b = pixel / (W * H);
    const IndexT c0 = group * static_cast<IndexT>(kGatherChannelsPerWarp) + lane;
    float acc[kGatherChannelsPerLane];
#pragma unroll
    for (int r = 0; r < kGatherChannelsPerLane; ++r) acc[r] = 0.0f;
    for (IndexT k = 0; k < K; ++k) {
      const IndexT box = b * K + k;
      const int2 ry = ranges_y[box * H + v];
      if (ry.x > ry.y) continue;
      const int2 rx = ranges_x[box * W + u];
      if (rx.x > rx.y) continue;
      const Box bx = LoadBox(boxes, box);
      const float* g_box = grad + box * n * n * C;
      const int32_t* a_box = argmax != nullptr ? argmax + box * n * n * C : nullptr;
      for (int i = ry.x; i <= ry.y; ++i) {
        const AxisTaps<float> ty =
            ComputeTaps(SamplePosition(bx.y1, bx.y2, d.scale, S, i), d.height);
        const float wy = TapWeightAt(ty, v);
        if (wy == 0.0f) continue;
        for (int j = rx.x; j <= rx.y; ++j) {
          const AxisTaps<float> tx =
              ComputeTaps(SamplePosition(bx.x1, bx.x2, d.scale, S, j), d.width);
          const float wx = TapWeightAt(tx, u);
          if (wx == 0.0f) continue;
          const float w = wy * wx;
          const IndexT cell = static_cast<IndexT>(i / window) * n + j / window;
          const int32_t sample = i * S + j;
#pragma unroll
          for (int r = 0; r < kGatherChannelsPerLane; ++r) {
            const IndexT c = c0 + static_cast<IndexT>(r) * kWarpSize;
            if (c >= C) break;
            const IndexT o = cell * C + c;
            if (a_box != nullptr && a_box[o] != sample) continue;
            acc[r] += w * g_box[o];
          }
        }
      }
    }
    float* out = grad_features + ((b * H + v) * W + u) * C;
#pragma unroll
    for (int r = 0; r < kGatherChannelsPerLane; ++r) {
      const IndexT c = c0 + static_cast<IndexT>(r) * kWarpSize;
      if (c < C) out[c] = acc[r];
    }
  }
}

}  // namespace cuda
}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_BACKWARD_CU_H_
