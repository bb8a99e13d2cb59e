// Every RoI-warp CUDA kernel variant the TensorFlow op can launch, explicitly
// instantiated (element types float / Half / BFloat16, argmax uint8_t /
// int32_t; each launcher instantiates its int32 / int64 index and scalar /
// float4 kernels), so that `nvcc -cubin -Xptxas -v` reports registers, spills
// and stack frames for all of them.  Compiled only by kernel_stats.py; it has
// no main() and is not part of the harness binary.
#include <cstdint>

#include "roi_warp_cuda.cu.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

#define MNC_INVENTORY(T, Idx)                                                           \
  template cudaError_t LaunchForward<T, Idx>(const Dims&, const T*, const float*, T*,    \
                                             Idx*, void*, cudaStream_t,                  \
                                             const LaunchOptions&);                      \
  template cudaError_t LaunchBackward<T, Idx>(const Dims&, const T*, const T*,           \
                                              const float*, const Idx*, T*, float*,      \
                                              void*, cudaStream_t, const LaunchOptions&);
MNC_INVENTORY(float, uint8_t)
MNC_INVENTORY(float, int32_t)
MNC_INVENTORY(Half, uint8_t)
MNC_INVENTORY(Half, int32_t)
MNC_INVENTORY(BFloat16, uint8_t)
MNC_INVENTORY(BFloat16, int32_t)
#undef MNC_INVENTORY

}  // namespace cuda
}  // namespace roi_warp
}  // namespace mnc_tf
