// Host launchers of the RoI-warp CUDA kernels (TensorFlow-free).  Included by
// the TensorFlow GPU functors (roi_warp_kernels_gpu.cu.cc) and by the
// standalone harness (custom_ops/cuda_harness), so both run the same kernels.
//
// All pointers are device pointers; all work is enqueued on `stream` and
// nothing synchronises.  Layouts as in roi_warp_cpu.h: features [B, H, W, C],
// boxes [B, K, 4] (ymin, xmin, ymax, xmax) in input-image pixels, output,
// argmax and grad [B, K, n, n, C] (argmax only when pooled_size > 0: the
// window index di * (S / P) + dj of the chosen sample, uint8_t or int32_t).
// Element type T: float, Half or BFloat16 (roi_warp_half.h), all arithmetic
// and accumulation in float; boxes and grad_boxes are float in every case.
// Each call needs a scratch `workspace` of ForwardWorkspace / BackwardWorkspace
// ::For(...).bytes bytes, 16-byte aligned (cudaMalloc and TensorFlow's GPU
// allocator give 256).
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_CU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_CU_H_

#if !defined(MNC_ROI_WARP_CUDA_EMULATION)
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "roi_warp_cuda_backward.cu.h"
#include "roi_warp_cuda_common.cu.h"
#include "roi_warp_cuda_forward.cu.h"
#include "roi_warp_cuda_gather.cu.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

struct LaunchOptions {
  // Feature gradient without float atomics (gather); bit-reproducible.
  bool deterministic = false;
  // Use 64-bit indexing even where 32-bit would do (to test that path).
  bool force_int64 = false;
  // Use one channel per vector even where float4 would do (to test / time).
  bool force_scalar = false;
  // Optional device flag set to 1 when argmax holds an index outside
  // [0, S*S) (such entries are skipped).  May be null.
  unsigned int* bad_argmax = nullptr;
  // Multiprocessor count used to size grids; <= 0 queries the current device.
  int num_sms = 0;
};

inline int64_t TapsBytes(const Dims& d) {
  return AlignUp(d.batch * d.num_boxes * 2 * d.output_size * int64_t{sizeof(TapEntry)});
}

struct ForwardWorkspace {
  int64_t bytes = 1;  // the taps table
  static ForwardWorkspace For(const Dims& d) { return {std::max<int64_t>(TapsBytes(d), 1)}; }
};

// Tiles per box of the box-gradient kernels for `row_groups` channel groups
// per row of cells.
inline int64_t RowChunks(const Dims& d, int64_t row_groups) {
  return (d.grid() * row_groups + kWarpsPerBlock - 1) / kWarpsPerBlock;
}

// Scratch layout of the backward pass (byte offsets into one workspace).
struct BackwardWorkspace {
  int64_t groups = 0;           // channel groups of kChannelsPerWarp
  int64_t lane_groups = 0;      // channel groups of kWarpSize (pooled rows)
  int64_t chunks = 0;           // tiles per box, at most (partials are sized for it)
  int64_t partials_offset = 0;  // float [B*K, chunks, 4]
  int64_t ranges_y_offset = 0;  // int2 [B*K, H] (deterministic mode)
  int64_t ranges_x_offset = 0;  // int2 [B*K, W] (deterministic mode)
  int64_t mask_words = 0;       // ceil(K / 32)
  int64_t masks_offset = 0;     // uint32 [B, H + W, mask_words] (deterministic mode)
  int64_t acc_offset = 0;       // float [B, H, W, C] (atomic mode, 16-bit T)
  int64_t bytes = 0;            // total, taps table first

  // float_accumulator: the atomic mode needs a float copy of the feature
  // gradient (element types narrower than float).
  static BackwardWorkspace For(const Dims& d, bool deterministic,
                               bool float_accumulator = false) {
    BackwardWorkspace w;
    const int64_t boxes = d.batch * d.num_boxes;
    w.groups = (d.channels + kChannelsPerWarp - 1) / kChannelsPerWarp;
    w.lane_groups = (d.channels + kWarpSize - 1) / kWarpSize;
    // Tiles of kWarpsPerBlock rows of cells (PooledBoxGradKernel: 32
    // channels per row item; RowBoxGradKernel: 32 * kVec, fewer tiles for
    // kVec = 4).  Sized for the most (kVec = 1); see RowChunks.
    w.chunks = RowChunks(d, w.lane_groups);
    w.partials_offset = TapsBytes(d);
    int64_t end = w.partials_offset + AlignUp(boxes * w.chunks * 4 * int64_t{sizeof(float)});
    if (deterministic) {
      w.ranges_y_offset = end;
      end += AlignUp(boxes * d.height * int64_t{sizeof(int2)});
      w.ranges_x_offset = end;
      end += AlignUp(boxes * d.width * int64_t{sizeof(int2)});
      w.mask_words = (d.num_boxes + 31) / 32;
      w.masks_offset = end;
      end += AlignUp(d.batch * (d.height + d.width) * w.mask_words * int64_t{sizeof(uint32_t)});
    }
    if (!deterministic && float_accumulator) {
      w.acc_offset = end;
      end += AlignUp(d.batch * d.height * d.width * d.channels * int64_t{sizeof(float)});
    }
    w.bytes = std::max<int64_t>(end, 1);
    return w;
  }
};

// Largest count any kernel indexes for these dims (picks int32 vs int64).
inline int64_t LargestIndexedCount(const Dims& d) {
  const int64_t boxes = d.batch * d.num_boxes;
  const int64_t n = d.grid();
  const int64_t groups = (d.channels + kChannelsPerWarp - 1) / kChannelsPerWarp;
  const int64_t padded_c = groups * kChannelsPerWarp;  // channel index bound
  return std::max({boxes * n * n * padded_c,                      // output / grad
                   d.batch * d.height * d.width * padded_c,       // features
                   boxes * 2 * d.output_size,                     // taps
                   boxes * std::max(d.height, d.width),           // ranges
                   d.batch * (d.height + d.width) * (d.num_boxes / 32 + 1),  // box masks
                   boxes * n * n * groups * 4,                    // tile partials
                   boxes * n * (padded_c / kWarpSize + kWarpsPerBlock) * 4});  // pooled
}

// uint8_t window indices need window^2 <= 256.
template <typename Idx>
inline bool ArgmaxTypeFits(const Dims& d) {
  const int64_t window = d.pooled_size > 0 ? d.output_size / d.pooled_size : 1;
  return sizeof(Idx) >= 4 || window * window <= 256;
}

inline bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// float4 channels when C % 4 == 0 and every vector-accessed pointer allows it.
inline bool UseVec4(const Dims& d, const LaunchOptions& opt,
                    std::initializer_list<const void*> pointers) {
  if (opt.force_scalar || d.channels % 4 != 0) return false;
  for (const void* p : pointers) {
    if (p != nullptr && !Aligned16(p)) return false;
  }
  return true;
}

#define MNC_RETURN_IF_CUDA_ERROR(...)     \
  do {                                    \
    const cudaError_t err_ = (__VA_ARGS__); \
    if (err_ != cudaSuccess) return err_; \
  } while (0)

// Taps table for all boxes (needs H, W >= 1).
template <typename IndexT>
cudaError_t LaunchTaps(const Dims& dims, int sms, const float* boxes, TapEntry* taps,
                       cudaStream_t stream) {
  const int64_t total = dims.batch * dims.num_boxes * 2 * dims.output_size;
  if (total == 0) return cudaSuccess;
  return LaunchKernel(TapsKernel<float, IndexT>, GridBlocks(total, kThreads, sms), stream,
                      KernelDims::From(dims), static_cast<IndexT>(total), boxes, taps);
}

template <typename T, typename Idx, typename IndexT, int kVec>
cudaError_t LaunchForwardT(const Dims& dims, int sms, const T* features,
                           const float* boxes, T* output, Idx* argmax,
                           TapEntry* taps, cudaStream_t stream) {
  constexpr int kR = kChannelsPerLane / kVec;
  if (dims.height > 0 && dims.width > 0) {
    MNC_RETURN_IF_CUDA_ERROR(LaunchTaps<IndexT>(dims, sms, boxes, taps, stream));
  }
  const int64_t groups = (dims.channels + kChannelsPerWarp - 1) / kChannelsPerWarp;
  const int64_t items = dims.batch * dims.num_boxes * dims.grid() * groups;  // rows of cells
  return LaunchKernel(RoiWarpForwardKernel<T, Idx, IndexT, kVec, kR>,
                      GridBlocks(items, kWarpsPerBlock, sms), stream, KernelDims::From(dims),
                      static_cast<IndexT>(items), static_cast<IndexT>(groups), features, boxes,
                      taps, output, argmax);
}

// Forward: output (and argmax if pooled) for every element.  An argmax type
// too narrow for the window (uint8_t with window^2 > 256) is rejected.
template <typename T, typename Idx>
cudaError_t LaunchForward(const Dims& dims, const T* features, const float* boxes, T* output,
                          Idx* argmax, void* workspace, cudaStream_t stream,
                          const LaunchOptions& opt = LaunchOptions()) {
  if (dims.output_elements() == 0) return cudaSuccess;
  if (dims.height >= INT32_MAX || dims.width >= INT32_MAX) return cudaErrorInvalidValue;
  if (!ArgmaxTypeFits<Idx>(dims)) return cudaErrorInvalidValue;
  const int sms = opt.num_sms > 0 ? opt.num_sms : CurrentDeviceSmCount();
  Idx* arg = dims.pooled_size > 0 ? argmax : nullptr;
  TapEntry* taps = static_cast<TapEntry*>(workspace);
  const bool int32 = !opt.force_int64 && LargestIndexedCount(dims) < kInt32IndexLimit;
  const bool vec4 = UseVec4(dims, opt, {features, output, arg});
#define MNC_FORWARD(IndexT, kVec) \
  LaunchForwardT<T, Idx, IndexT, kVec>(dims, sms, features, boxes, output, arg, taps, stream)
  if (int32) return vec4 ? MNC_FORWARD(int32_t, 4) : MNC_FORWARD(int32_t, 1);
  return vec4 ? MNC_FORWARD(int64_t, 4) : MNC_FORWARD(int64_t, 1);
#undef MNC_FORWARD
}

// Deterministic feature gradient: sample ranges per box row / column, then
// the gather over boxes.  Needs a non-empty feature map.
template <typename T, typename Idx, typename IndexT, int kVec>
cudaError_t LaunchGatherT(const Dims& dims, int sms, const BackwardWorkspace& ws,
                          const T* grad, const Idx* argmax, T* grad_features,
                          char* workspace, cudaStream_t stream) {
  constexpr int kR = kChannelsPerLane / kVec;
  const KernelDims kd = KernelDims::From(dims);
  const TapEntry* taps = reinterpret_cast<const TapEntry*>(workspace);
  int2* ranges_y = reinterpret_cast<int2*>(workspace + ws.ranges_y_offset);
  int2* ranges_x = reinterpret_cast<int2*>(workspace + ws.ranges_x_offset);
  uint32_t* masks = reinterpret_cast<uint32_t*>(workspace + ws.masks_offset);
  const int64_t boxes_total = dims.batch * dims.num_boxes;
  if (boxes_total > 0) {
    const int64_t count_y = boxes_total * dims.height;
    const int64_t count_x = boxes_total * dims.width;
    const int64_t samples = boxes_total * 2 * dims.output_size;
    MNC_RETURN_IF_CUDA_ERROR(LaunchKernel(ClearRangesKernel<IndexT>,
                                          GridBlocks(count_y, kThreads, sms), stream,
                                          static_cast<IndexT>(count_y), ranges_y));
    MNC_RETURN_IF_CUDA_ERROR(LaunchKernel(ClearRangesKernel<IndexT>,
                                          GridBlocks(count_x, kThreads, sms), stream,
                                          static_cast<IndexT>(count_x), ranges_x));
    MNC_RETURN_IF_CUDA_ERROR(LaunchKernel(SampleRangesKernel<IndexT>,
                                          GridBlocks(samples, kThreads, sms), stream, kd,
                                          static_cast<IndexT>(samples), taps, ranges_y,
                                          ranges_x));
    const int64_t mask_count = dims.batch * (dims.height + dims.width) * ws.mask_words;
    MNC_RETURN_IF_CUDA_ERROR(LaunchKernel(BoxMaskKernel<IndexT>,
                                          GridBlocks(mask_count, kThreads, sms), stream, kd,
                                          static_cast<IndexT>(mask_count),
                                          static_cast<IndexT>(ws.mask_words), ranges_y,
                                          ranges_x, masks));
  }
  const int64_t items = dims.batch * dims.height * dims.width * ws.groups;
  return LaunchKernel(GatherFeatureGradKernel<T, Idx, IndexT, kVec, kR>,
                      GridBlocks(items, kWarpsPerBlock, sms), stream, kd,
                      static_cast<IndexT>(items), static_cast<IndexT>(ws.groups), ranges_y,
                      ranges_x, masks, static_cast<IndexT>(ws.mask_words), taps, grad, argmax,
                      grad_features);
}

template <typename T, typename Idx, typename IndexT, int kVec>
cudaError_t LaunchBackwardT(const Dims& dims, int sms, const BackwardWorkspace& ws,
                            const T* grad, const T* features, const float* boxes,
                            const Idx* argmax, T* grad_features, float* grad_boxes,
                            char* workspace, const LaunchOptions& opt, cudaStream_t stream) {
  constexpr bool kFloat = std::is_same<T, float>::value;
  const KernelDims kd = KernelDims::From(dims);
  const int64_t boxes_total = dims.batch * dims.num_boxes;
  const int64_t feature_elements = dims.batch * dims.height * dims.width * dims.channels;
  TapEntry* taps = reinterpret_cast<TapEntry*>(workspace);
  float* partials = reinterpret_cast<float*>(workspace + ws.partials_offset);
  // Atomic mode accumulates in float: the output itself, or the workspace.
  float* acc = nullptr;
  if (!opt.deterministic) {
    acc = kFloat ? reinterpret_cast<float*>(grad_features)
                 : reinterpret_cast<float*>(workspace + ws.acc_offset);
  }
  const bool map = dims.height > 0 && dims.width > 0;
  if (map) MNC_RETURN_IF_CUDA_ERROR(LaunchTaps<IndexT>(dims, sms, boxes, taps, stream));
  if (!opt.deterministic && feature_elements > 0) {  // atomics accumulate into zeros
    MNC_RETURN_IF_CUDA_ERROR(cudaMemsetAsync(
        acc, 0, static_cast<size_t>(feature_elements) * sizeof(float), stream));
  }
  const bool pooled = argmax != nullptr;
  const int64_t row_groups =
      pooled ? ws.lane_groups : (dims.channels + kWarpSize * kVec - 1) / (kWarpSize * kVec);
  const int64_t chunks = RowChunks(dims, row_groups);  // <= ws.chunks
  const int64_t tiles = boxes_total * chunks;
  if (tiles > 0) {
    if (pooled) {  // one row of cells and 32 channels per warp item
      auto* row_kernel = opt.deterministic ? PooledBoxGradKernel<T, Idx, IndexT, false>
                                           : PooledBoxGradKernel<T, Idx, IndexT, true>;
      MNC_RETURN_IF_CUDA_ERROR(LaunchKernel(
          row_kernel, GridBlocks(tiles, 1, sms), stream, kd, static_cast<IndexT>(row_groups),
          static_cast<IndexT>(chunks), static_cast<IndexT>(tiles), grad, features, boxes, taps,
          argmax, acc, partials, opt.bad_argmax));
    } else {  // one row of samples and 32 * kVec channels per warp item
      auto* row_kernel = opt.deterministic ? RowBoxGradKernel<T, IndexT, kVec, false>
                                           : RowBoxGradKernel<T, IndexT, kVec, true>;
      MNC_RETURN_IF_CUDA_ERROR(LaunchKernel(
          row_kernel, GridBlocks(tiles, 1, sms), stream, kd, static_cast<IndexT>(row_groups),
          static_cast<IndexT>(chunks), static_cast<IndexT>(tiles), grad, features, boxes, taps,
          acc, partials));
    }
  }
  if (boxes_total > 0) {
    const int64_t values = boxes_total * 4;
    MNC_RETURN_IF_CUDA_ERROR(LaunchKernel(
        BoxReduceKernel<float, IndexT>, GridBlocks(values, kThreads, sms), stream,
        static_cast<IndexT>(values), static_cast<IndexT>(chunks), partials, grad_boxes));
  }
  if (opt.deterministic && feature_elements > 0) {
    return LaunchGatherT<T, Idx, IndexT, kVec>(dims, sms, ws, grad, argmax, grad_features,
                                               workspace, stream);
  }
  if (!kFloat && feature_elements > 0) {  // float accumulator -> T
    return LaunchKernel(ConvertKernel<T, IndexT>, GridBlocks(feature_elements, kThreads, sms),
                        stream, static_cast<IndexT>(feature_elements),
                        static_cast<const float*>(acc), grad_features);
  }
  return cudaSuccess;
}

// Backward: grad_features [B, H, W, C] and grad_boxes [B, K, 4], both fully
// overwritten; `argmax` is the forward's (pooled only).  The workspace is
// BackwardWorkspace::For(dims, opt.deterministic, !is_same<T, float>).
template <typename T, typename Idx>
cudaError_t LaunchBackward(const Dims& dims, const T* grad, const T* features, const float* boxes,
                           const Idx* argmax, T* grad_features, float* grad_boxes, void* workspace,
                           cudaStream_t stream, const LaunchOptions& opt = LaunchOptions()) {
  if (dims.height >= INT32_MAX || dims.width >= INT32_MAX) return cudaErrorInvalidValue;
  if (!ArgmaxTypeFits<Idx>(dims)) return cudaErrorInvalidValue;
  const BackwardWorkspace ws =
      BackwardWorkspace::For(dims, opt.deterministic, !std::is_same<T, float>::value);
  const int sms = opt.num_sms > 0 ? opt.num_sms : CurrentDeviceSmCount();
  char* base = static_cast<char*>(workspace);
  const Idx* arg = dims.pooled_size > 0 ? argmax : nullptr;
  const bool int32 = !opt.force_int64 && LargestIndexedCount(dims) < kInt32IndexLimit;
  const bool vec4 = UseVec4(dims, opt, {grad, features, arg, grad_features});
#define MNC_BACKWARD(IndexT, kVec)                                                    \
  LaunchBackwardT<T, Idx, IndexT, kVec>(dims, sms, ws, grad, features, boxes, arg,     \
                                        grad_features, grad_boxes, base, opt, stream)
  if (int32) return vec4 ? MNC_BACKWARD(int32_t, 4) : MNC_BACKWARD(int32_t, 1);
  return vec4 ? MNC_BACKWARD(int64_t, 4) : MNC_BACKWARD(int64_t, 1);
#undef MNC_BACKWARD
}

#undef MNC_RETURN_IF_CUDA_ERROR

}  // namespace cuda
}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_CU_H_
