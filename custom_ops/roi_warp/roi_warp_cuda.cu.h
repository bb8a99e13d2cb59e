// Host launchers of the RoI-warp CUDA kernels (TensorFlow-free).  Included by
// the TensorFlow GPU functors (roi_warp_kernels_gpu.cu.cc) and by the
// standalone harness (custom_ops/cuda_harness), so both run the same kernels.
//
// All pointers are device pointers; all work is enqueued on `stream` and
// nothing synchronises.  Layouts as in roi_warp_cpu.h: features [B, H, W, C],
// boxes [B, K, 4] (ymin, xmin, ymax, xmax) in input-image pixels, output,
// argmax and grad [B, K, n, n, C] (argmax only when pooled_size > 0).
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_CU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_CU_H_

#if !defined(MNC_ROI_WARP_CUDA_EMULATION)
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <cstdint>

#include "roi_warp_cuda_backward.cu.h"
#include "roi_warp_cuda_common.cu.h"
#include "roi_warp_cuda_forward.cu.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

struct LaunchOptions {
  // Feature gradient without float atomics (gather); bit-reproducible.
  bool deterministic = false;
  // Use 64-bit indexing even where 32-bit would do (to test that path).
  bool force_int64 = false;
  // Optional device flag set to 1 when argmax holds an index outside
  // [0, S*S) (such entries are skipped).  May be null.
  unsigned int* bad_argmax = nullptr;
  // Multiprocessor count used to size grids; <= 0 queries the current device.
  int num_sms = 0;
};

// Scratch layout of the backward pass (byte offsets into one workspace).
struct BackwardWorkspace {
  int64_t chunks = 0;          // tiles per box
  int64_t partials_offset = 0; // float [B*K, chunks, 4]
  int64_t ranges_y_offset = 0; // int2 [B*K, H] (deterministic mode)
  int64_t ranges_x_offset = 0; // int2 [B*K, W] (deterministic mode)
  int64_t bytes = 0;           // total size

  static BackwardWorkspace For(const Dims& d, bool deterministic) {
    BackwardWorkspace w;
    const int64_t boxes = d.batch * d.num_boxes;
    const int64_t per_box = d.grid() * d.grid() * d.channels;
    w.chunks = (per_box + kBoxTileElements - 1) / kBoxTileElements;
    w.partials_offset = 0;
    int64_t end = AlignUp(boxes * w.chunks * 4 * int64_t{sizeof(float)});
    if (deterministic) {
      w.ranges_y_offset = end;
      end += AlignUp(boxes * d.height * int64_t{sizeof(int2)});
      w.ranges_x_offset = end;
      end += AlignUp(boxes * d.width * int64_t{sizeof(int2)});
    }
    w.bytes = std::max<int64_t>(end, 1);
    return w;
  }
};

// Largest element count any kernel indexes for these dims.
inline int64_t LargestIndexedCount(const Dims& d, int64_t chunks) {
  const int64_t boxes = d.batch * d.num_boxes;
  const int64_t n = d.grid();
  const int64_t groups = (d.channels + kGatherChannelsPerWarp - 1) / kGatherChannelsPerWarp;
  int64_t m = boxes * n * n * d.channels;                             // output / grad
  m = std::max(m, d.batch * d.height * d.width * d.channels);         // features
  m = std::max(m, d.batch * d.height * d.width * groups * kWarpSize); // gather threads
  m = std::max(m, boxes * chunks * 4);                                // partials
  m = std::max(m, boxes * std::max(d.height, d.width));               // ranges
  m = std::max(m, boxes * 2 * d.output_size);                         // range samples
  return m;
}

inline bool UseInt32(const Dims& d, int64_t chunks, const LaunchOptions& opt) {
  return !opt.force_int64 && LargestIndexedCount(d, chunks) < kInt32IndexLimit;
}

#define MNC_RETURN_IF_CUDA_ERROR(expr)   \
  do {                                   \
    const cudaError_t err_ = (expr);     \
    if (err_ != cudaSuccess) return err_; \
  } while (0)

template <typename IndexT>
cudaError_t LaunchForwardT(const Dims& dims, int sms, const float* features,
                           const float* boxes, float* output, int32_t* argmax,
                           cudaStream_t stream) {
  const int64_t total = dims.output_elements();
  return LaunchKernel(RoiWarpForwardKernel<IndexT>, GridBlocks(total, kThreads, sms),
                      stream, KernelDims::From(dims), static_cast<IndexT>(total),
                      features, boxes, output,
                      dims.pooled_size > 0 ? argmax : nullptr);
}

// Forward: output (and argmax if pooled) for every element.
inline cudaError_t LaunchForward(const Dims& dims, const float* features,
                                 const float* boxes, float* output,
                                 int32_t* argmax, cudaStream_t stream,
                                 const LaunchOptions& opt = LaunchOptions()) {
  if (dims.output_elements() == 0) return cudaSuccess;
  const int sms = opt.num_sms > 0 ? opt.num_sms : CurrentDeviceSmCount();
  if (UseInt32(dims, 0, opt)) {
    return LaunchForwardT<int32_t>(dims, sms, features, boxes, output, argmax, stream);
  }
  return LaunchForwardT<int64_t>(dims, sms, features, boxes, output, argmax, stream);
}

// Deterministic feature gradient: sample ranges per box row / column, then
// the gather over boxes.  Needs feature elements > 0.
template <typename IndexT>
cudaError_t LaunchGatherT(const Dims& dims, int sms, const BackwardWorkspace& ws,
                          const float* grad, const float* boxes,
                          const int32_t* argmax, float* grad_features,
                          char* workspace, cudaStream_t stream) {
  const KernelDims kd = KernelDims::From(dims);
  const int64_t boxes_total = dims.batch * dims.num_boxes;
  int2* ranges_y = reinterpret_cast<int2*>(workspace + ws.ranges_y_offset);
  int2* ranges_x = reinterpret_cast<int2*>(workspace + ws.ranges_x_offset);
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
                                          static_cast<IndexT>(samples), boxes, ranges_y,
                                          ranges_x));
  }
  const int64_t groups = (dims.channels + kGatherChannelsPerWarp - 1) / kGatherChannelsPerWarp;
  const int64_t threads = dims.batch * dims.height * dims.width * groups * kWarpSize;
  return LaunchKernel(GatherFeatureGradKernel<IndexT>, GridBlocks(threads, kThreads, sms),
                      stream, kd, static_cast<IndexT>(threads), static_cast<IndexT>(groups),
                      ranges_y, ranges_x, grad, boxes, argmax, grad_features);
}

template <typename IndexT>
cudaError_t LaunchBackwardT(const Dims& dims, int sms, const BackwardWorkspace& ws,
                            const float* grad, const float* features,
                            const float* boxes, const int32_t* argmax,
                            float* grad_features, float* grad_boxes,
                            char* workspace, const LaunchOptions& opt,
                            cudaStream_t stream) {
  const KernelDims kd = KernelDims::From(dims);
  const int64_t boxes_total = dims.batch * dims.num_boxes;
  const int64_t feature_elements = dims.batch * dims.height * dims.width * dims.channels;
  const int32_t* arg = dims.pooled_size > 0 ? argmax : nullptr;
  float* partials = reinterpret_cast<float*>(workspace + ws.partials_offset);
  if (!opt.deterministic && feature_elements > 0) {  // atomics accumulate into zeros
    MNC_RETURN_IF_CUDA_ERROR(cudaMemsetAsync(
        grad_features, 0, static_cast<size_t>(feature_elements) * sizeof(float), stream));
  }
  const int64_t tiles = boxes_total * ws.chunks;
  if (tiles > 0) {
    auto* tile_kernel = opt.deterministic ? BoxGradTileKernel<IndexT, false>
                                          : BoxGradTileKernel<IndexT, true>;
    MNC_RETURN_IF_CUDA_ERROR(LaunchKernel(
        tile_kernel, GridBlocks(tiles, 1, sms), stream, kd, static_cast<IndexT>(ws.chunks),
        static_cast<IndexT>(tiles), grad, features, boxes, arg, grad_features, partials,
        opt.bad_argmax));
  }
  if (boxes_total > 0) {
    const int64_t values = boxes_total * 4;
    MNC_RETURN_IF_CUDA_ERROR(LaunchKernel(
        BoxReduceKernel<IndexT>, GridBlocks(values, kThreads, sms), stream,
        static_cast<IndexT>(values), static_cast<IndexT>(ws.chunks), partials, grad_boxes));
  }
  if (opt.deterministic && feature_elements > 0) {
    return LaunchGatherT<IndexT>(dims, sms, ws, grad, boxes, arg, grad_features,
                                 workspace, stream);
  }
  return cudaSuccess;
}

// Backward: grad_features [B, H, W, C] and grad_boxes [B, K, 4], both fully
// overwritten.  `workspace` must hold BackwardWorkspace::For(dims,
// opt.deterministic).bytes bytes, at least 8-byte aligned (cudaMalloc and
// TensorFlow's GPU allocator give 256).
inline cudaError_t LaunchBackward(const Dims& dims, const float* grad,
                                  const float* features, const float* boxes,
                                  const int32_t* argmax, float* grad_features,
                                  float* grad_boxes, void* workspace,
                                  cudaStream_t stream,
                                  const LaunchOptions& opt = LaunchOptions()) {
  const BackwardWorkspace ws = BackwardWorkspace::For(dims, opt.deterministic);
  const int sms = opt.num_sms > 0 ? opt.num_sms : CurrentDeviceSmCount();
  char* base = static_cast<char*>(workspace);
  if (UseInt32(dims, ws.chunks, opt)) {
    return LaunchBackwardT<int32_t>(dims, sms, ws, grad, features, boxes, argmax,
                                    grad_features, grad_boxes, base, opt, stream);
  }
  return LaunchBackwardT<int64_t>(dims, sms, ws, grad, features, boxes, argmax,
                                  grad_features, grad_boxes, base, opt, stream);
}

#undef MNC_RETURN_IF_CUDA_ERROR

}  // namespace cuda
}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_CU_H_
