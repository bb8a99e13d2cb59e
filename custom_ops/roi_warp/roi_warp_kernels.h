// Device functors of the RoI-warp op.  The CPU specialisations live in
// roi_warp_kernels.cc; the GPU ones (GOOGLE_CUDA) in roi_warp_kernels_gpu.cu.cc.
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_KERNELS_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_KERNELS_H_

#include <cstdint>

#include "roi_warp_cpu.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace mnc_tf {
namespace functor {

// output / argmax: [B, K, n, n, C]; argmax is null when pooled_size == 0.
template <typename Device, typename T>
struct RoiWarpForward {
  ::tensorflow::Status operator()(::tensorflow::OpKernelContext* ctx,
                                  const roi_warp::Dims& dims, const T* features,
                                  const T* boxes, T* output, int32_t* argmax);
};

// grad: [B, K, n, n, C]; grad_features [B, H, W, C]; grad_boxes [B, K, 4].
template <typename Device, typename T>
struct RoiWarpBackward {
  ::tensorflow::Status operator()(::tensorflow::OpKernelContext* ctx,
                                  const roi_warp::Dims& dims, const T* grad,
                                  const T* features, const T* boxes,
                                  const int32_t* argmax, T* grad_features,
                                  T* grad_boxes);
};

#if GOOGLE_CUDA
// GPU specialisations (float only), defined in roi_warp_kernels_gpu.cu.cc;
// declared here so every translation unit that instantiates the GPU op sees
// them before use.
template <>
::tensorflow::Status RoiWarpForward<Eigen::GpuDevice, float>::operator()(
    ::tensorflow::OpKernelContext* ctx, const roi_warp::Dims& dims,
    const float* features, const float* boxes, float* output, int32_t* argmax);
template <>
::tensorflow::Status RoiWarpBackward<Eigen::GpuDevice, float>::operator()(
    ::tensorflow::OpKernelContext* ctx, const roi_warp::Dims& dims,
    const float* grad, const float* features, const float* boxes,
    const int32_t* argmax, float* grad_features, float* grad_boxes);
#endif  // GOOGLE_CUDA

}  // namespace functor
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_KERNELS_H_
