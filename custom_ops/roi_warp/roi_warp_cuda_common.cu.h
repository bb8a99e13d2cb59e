// Shared pieces of the RoI-warp CUDA kernels (TensorFlow-free): the dimensions
// passed to kernels by value, launch geometry and the box loader.
//
// Indexing: every kernel is templated on its index type.  The launchers pick
// int32 when every element count the kernel touches (and every grid-stride
// step past it) fits comfortably below 2^31, int64 otherwise, so big tensors
// never overflow and small ones avoid slow 64-bit division.
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_COMMON_CU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_COMMON_CU_H_

// MNC_ROI_WARP_CUDA_EMULATION: compiled by a host compiler against the CPU
// emulation of custom_ops/cuda_harness/cuda_emulation.h (harness tests on
// machines without a GPU), which then stands in for the CUDA runtime.
#if !defined(MNC_ROI_WARP_CUDA_EMULATION)
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <cstdint>
#include <utility>

#include "roi_warp_cpu.h"  // Dims
#include "roi_warp_math.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

// Threads per block of every kernel (a multiple of the warp size).
constexpr int kThreads = 256;
constexpr int kWarpSize = 32;
constexpr int kWarpsPerBlock = kThreads / kWarpSize;
// Grid-stride kernels launch at most this many blocks per multiprocessor.
constexpr int kMaxBlocksPerSm = 16;
// Element counts below this use int32 indexing (leaves room for the
// grid-stride step, which is at most kMaxBlocksPerSm * kThreads * #SMs).
constexpr int64_t kInt32IndexLimit = int64_t{1} << 30;

// Plain-old-data copy of Dims for kernels.
struct KernelDims {
  int64_t batch;
  int64_t height;
  int64_t width;
  int64_t channels;
  int64_t num_boxes;
  int output_size;  // S
  int pooled_size;  // P, 0 = no pooling
  int grid;         // n = P if P > 0 else S
  int window;       // S / P if P > 0 else 1
  float scale;      // spatial_scale as the kernels' float

  static KernelDims From(const Dims& d) {
    KernelDims k;
    k.batch = d.batch;
    k.height = d.height;
    k.width = d.width;
    k.channels = d.channels;
    k.num_boxes = d.num_boxes;
    k.output_size = d.output_size;
    k.pooled_size = d.pooled_size;
    k.grid = static_cast<int>(d.grid());
    k.window = d.pooled_size > 0 ? d.output_size / d.pooled_size : 1;
    k.scale = static_cast<float>(d.spatial_scale);
    return k;
  }
};

// Box (y1, x1, y2, x2) of flat box index `box` (= b * K + k).
struct Box {
  float y1, x1, y2, x2;
};

template <typename IndexT>
__device__ __forceinline__ Box LoadBox(const float* __restrict__ boxes,
                                       IndexT box) {
  const float* p = boxes + static_cast<int64_t>(box) * 4;
  return Box{__ldg(p), __ldg(p + 1), __ldg(p + 2), __ldg(p + 3)};
}

// Blocks for a grid-stride kernel over `work` items, `per_block` per block.
inline int GridBlocks(int64_t work, int64_t per_block, int num_sms) {
  const int64_t wanted = (work + per_block - 1) / per_block;
  const int64_t cap = static_cast<int64_t>(std::max(num_sms, 1)) * kMaxBlocksPerSm;
  return static_cast<int>(std::max<int64_t>(1, std::min(wanted, cap)));
}

// Multiprocessor count of the current device (1 if it cannot be queried).
inline int CurrentDeviceSmCount() {
  int device = 0;
  int sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 1;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) !=
      cudaSuccess) {
    return 1;
  }
  return std::max(sms, 1);
}

// Enqueues kernel<<<blocks, kThreads, 0, stream>>>(args...) and returns the
// launch error.  A function rather than a bare <<<>>> so that the CPU
// emulation can stand in for the launch.
template <typename... Params, typename... Args>
cudaError_t LaunchKernel(void (*kernel)(Params...), int blocks,
                         cudaStream_t stream, Args&&... args) {
#if defined(MNC_ROI_WARP_CUDA_EMULATION)
  return ::cuda_emulation::Launch(kernel, blocks, kThreads, stream,
                                  static_cast<Params>(std::forward<Args>(args))...);
#else
  kernel<<<blocks, kThreads, 0, stream>>>(
      static_cast<Params>(std::forward<Args>(args))...);
  return cudaGetLastError();
#endif
}

// Byte offset rounded up so sub-buffers of one workspace stay aligned.
inline int64_t AlignUp(int64_t bytes, int64_t alignment = 256) {
  return (bytes + alignment - 1) / alignment * alignment;
}

}  // namespace cuda
}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_COMMON_CU_H_
