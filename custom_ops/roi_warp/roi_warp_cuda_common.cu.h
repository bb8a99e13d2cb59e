// Shared pieces of the RoI-warp CUDA kernels (TensorFlow-free): dimensions
// passed to kernels by value, the per-box taps table, the channel layout of a
// warp, vector loads / stores / atomics, launch geometry.
//
// Work layout.  Every main kernel hands out "warp items": one warp takes one
// (box, cell) or one feature pixel together with a group of channels, and each
// lane owns kR vectors of kVec consecutive channels (kVec = 4 when C % 4 == 0
// and the pointers are 16-byte aligned: float4 loads and stores; else 1).  So
// index decoding and tap lookups are paid once per 8 channels, and reads and
// writes along C (NHWC) are coalesced.
//
// Indexing: kernels are templated on their index type.  The launchers pick
// int32 when every count a kernel indexes fits comfortably below 2^31, int64
// otherwise.
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
#include "roi_warp_half.h"
#include "roi_warp_math.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

// Threads per block of every kernel (a multiple of the warp size).
constexpr int kThreads = 256;
constexpr int kWarpSize = 32;
constexpr int kWarpsPerBlock = kThreads / kWarpSize;
// __launch_bounds__ minimum of resident blocks per multiprocessor: caps
// registers at 64 per thread, i.e. at least half occupancy on sm_80 / sm_90
// for these memory-bound kernels.  ptxas -v (CUDA 13): no spills on the main
// int32 / float4 paths (4 bytes in the sm_90 forward); the int64 and scalar
// fallbacks spill up to ~200 bytes.
constexpr int kMinBlocksPerSm = 4;
// Channels per lane of a warp item (kR * kVec).
constexpr int kChannelsPerLane = 8;
constexpr int kChannelsPerWarp = kWarpSize * kChannelsPerLane;
// Grid-stride kernels launch at most this many blocks per multiprocessor.
constexpr int kMaxBlocksPerSm = 16;
// Counts below this use int32 indexing (room left for the grid stride).
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

// Taps of one sample along one axis (ComputeTaps of roi_warp_math.h) and
// d pos / d (start, end).  Table layout: taps[(box * 2 + axis) * S + i],
// axis 0 = rows (y), 1 = columns (x).  32 bytes, loaded as two 16-byte loads.
struct alignas(16) TapEntry {
  float w0, w1, d0, d1;
  int32_t i0, i1;
  float dstart, dend;
};

// Box (y1, x1, y2, x2) of flat box index `box` (= b * K + k).
struct Box {
  float y1, x1, y2, x2;
};

// One element converted to float (scalar loads outside the vector layout).
__device__ __forceinline__ float LoadOne(const float* p) { return __ldg(p); }
template <typename T>
__device__ __forceinline__ float LoadOne(const T* p) {
  T t;
  t.bits = __ldg(reinterpret_cast<const unsigned short*>(p));
  return ToFloat(t);
}

template <typename T, typename IndexT>
__device__ __forceinline__ Box LoadBox(const T* __restrict__ boxes, IndexT box) {
  const T* p = boxes + static_cast<int64_t>(box) * 4;
  return Box{LoadOne(p), LoadOne(p + 1), LoadOne(p + 2), LoadOne(p + 3)};
}

__device__ __forceinline__ bool Finite(const Box& b) {
  return IsFiniteBox(b.y1, b.x1, b.y2, b.x2);
}

__device__ __forceinline__ TapEntry LoadTap(const TapEntry* p) {
  const float4 w = __ldg(reinterpret_cast<const float4*>(p));
  const int4 m = __ldg(reinterpret_cast<const int4*>(p) + 1);
  return TapEntry{w.x, w.y, w.z, w.w, m.x, m.y, __int_as_float(m.z), __int_as_float(m.w)};
}

// Weight with which taps `t` reach pixel `v` (0 if they do not).  Clipped taps
// carry weight 0, so adding both matches is exact.
__device__ __forceinline__ float TapWeightAt(const TapEntry& t, int64_t v) {
  return (t.i0 == v ? t.w0 : 0.0f) + (t.i1 == v ? t.w1 : 0.0f);
}

// First channel of vector r (of kR) of `lane` in channel group `group`, in
// the kernel's index type (int32 on the 32-bit path: every count is below
// 2^30 there, so group * kChannelsPerWarp + 255 cannot overflow).  It was
// int64 on both paths; the forward spends its issue slots on integer index
// arithmetic (Nsight Compute, 2026-11-29), and a 64-bit multiply-add is two
// or more 32-bit instructions.
template <int kVec, int kR, typename IndexT>
__device__ __forceinline__ IndexT ChannelOf(IndexT group, int r, int lane) {
  static_assert(kVec * kR == kChannelsPerLane, "lane owns kChannelsPerLane channels");
  return group * kChannelsPerWarp + static_cast<IndexT>((r * kWarpSize + lane) * kVec);
}

// kVec consecutive elements: loads (read-only cache) converted to float,
// stores converted from float, float atomic adds.  Element types: float,
// Half and BFloat16 (roi_warp_half.h; 16-bit loads, float arithmetic);
// argmax types: uint8_t and int32_t.  kVec = 4 needs kVec * sizeof(element)
// alignment (see UseVec4).
template <int kVec>
struct Vec;

template <>
struct Vec<1> {
  __device__ static void Load(const float* p, float (&v)[1]) { v[0] = __ldg(p); }
  template <typename T>
  __device__ static void Load(const T* p, float (&v)[1]) {
    T t;
    t.bits = __ldg(reinterpret_cast<const unsigned short*>(p));
    v[0] = ToFloat(t);
  }
  template <typename Idx>
  __device__ static void LoadIndex(const Idx* p, int32_t (&v)[1]) {
    v[0] = static_cast<int32_t>(__ldg(p));
  }
  template <typename T>
  __device__ static void Store(T* p, const float (&v)[1]) { p[0] = FromFloat<T>::Convert(v[0]); }
  template <typename Idx>
  __device__ static void StoreIndex(Idx* p, const int32_t (&v)[1]) { p[0] = static_cast<Idx>(v[0]); }
  __device__ static void AtomicAdd(float* p, const float (&v)[1]) { atomicAdd(p, v[0]); }
};

template <>
struct Vec<4> {
  __device__ static void Load(const float* p, float (&v)[4]) {
    const float4 t = __ldg(reinterpret_cast<const float4*>(p));
    v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
  }
  template <typename T>  // Half / BFloat16: one 8-byte load
  __device__ static void Load(const T* p, float (&v)[4]) {
    const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
    T t[4];
    t[0].bits = static_cast<uint16_t>(u.x & 0xffffu);
    t[1].bits = static_cast<uint16_t>(u.x >> 16);
    t[2].bits = static_cast<uint16_t>(u.y & 0xffffu);
    t[3].bits = static_cast<uint16_t>(u.y >> 16);
    for (int k = 0; k < 4; ++k) v[k] = ToFloat(t[k]);
  }
  __device__ static void LoadIndex(const int32_t* p, int32_t (&v)[4]) {
    const int4 t = __ldg(reinterpret_cast<const int4*>(p));
    v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
  }
  __device__ static void LoadIndex(const uint8_t* p, int32_t (&v)[4]) {  // one 4-byte load
    const unsigned int u = __ldg(reinterpret_cast<const unsigned int*>(p));
    for (int k = 0; k < 4; ++k) v[k] = static_cast<int32_t>((u >> (8 * k)) & 0xffu);
  }
  __device__ static void Store(float* p, const float (&v)[4]) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  }
  template <typename T>
  __device__ static void Store(T* p, const float (&v)[4]) {
    unsigned int w[2];
    for (int k = 0; k < 2; ++k) {
      w[k] = static_cast<unsigned int>(FromFloat<T>::Convert(v[2 * k]).bits) |
             (static_cast<unsigned int>(FromFloat<T>::Convert(v[2 * k + 1]).bits) << 16);
    }
    *reinterpret_cast<uint2*>(p) = make_uint2(w[0], w[1]);
  }
  __device__ static void StoreIndex(int32_t* p, const int32_t (&v)[4]) {
    *reinterpret_cast<int4*>(p) = make_int4(v[0], v[1], v[2], v[3]);
  }
  __device__ static void StoreIndex(uint8_t* p, const int32_t (&v)[4]) {
    unsigned int u = 0;
    for (int k = 0; k < 4; ++k) u |= (static_cast<unsigned int>(v[k]) & 0xffu) << (8 * k);
    *reinterpret_cast<unsigned int*>(p) = u;
  }
  __device__ static void AtomicAdd(float* p, const float (&v)[4]) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(MNC_ROI_WARP_CUDA_EMULATION)
    atomicAdd(reinterpret_cast<float4*>(p), make_float4(v[0], v[1], v[2], v[3]));  // sm_90+
#else
    for (int k = 0; k < 4; ++k) atomicAdd(p + k, v[k]);
#endif
  }
};

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
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    return 1;
  }
  return std::max(sms, 1);
}

// Enqueues kernel<<<blocks, kThreads, 0, stream>>>(args...) and returns the
// launch error.  A function rather than a bare <<<>>> so that the CPU
// emulation can stand in for the launch.
template <typename... Params, typename... Args>
cudaError_t LaunchKernel(void (*kernel)(Params...), int blocks, cudaStream_t stream,
                         Args&&... args) {
#if defined(MNC_ROI_WARP_CUDA_EMULATION)
  return ::cuda_emulation::Launch(kernel, blocks, kThreads, stream,
                                  static_cast<Params>(std::forward<Args>(args))...);
#else
  kernel<<<blocks, kThreads, 0, stream>>>(static_cast<Params>(std::forward<Args>(args))...);
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
