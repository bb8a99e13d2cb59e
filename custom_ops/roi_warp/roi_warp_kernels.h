// Device functors of the RoI-warp op.  The CPU specialisations live in
// roi_warp_kernels.cc; the GPU ones (GOOGLE_CUDA) in roi_warp_kernels_gpu.cu.cc.
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_KERNELS_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_KERNELS_H_

#include <cstdint>

#include "roi_warp_cpu.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace mnc_tf {
namespace functor {

// output / argmax: [B, K, n, n, C]; argmax (window indices, Idx = uint8_t or
// int32_t) is null when pooled_size == 0.
template <typename Device, typename T, typename Idx>
struct RoiWarpForward {
  ::tensorflow::Status operator()(::tensorflow::OpKernelContext* ctx,
                                  const roi_warp::Dims& dims, const T* features,
                                  const typename roi_warp::BoxType<T>::type* boxes, T* output,
                                  Idx* argmax);
};

// grad: [B, K, n, n, C]; grad_features [B, H, W, C]; boxes, grad_boxes
// [B, K, 4] of BoxType<T> (float; double for double features).
template <typename Device, typename T, typename Idx>
struct RoiWarpBackward {
  ::tensorflow::Status operator()(::tensorflow::OpKernelContext* ctx,
                                  const roi_warp::Dims& dims, const T* grad,
                                  const T* features,
                                  const typename roi_warp::BoxType<T>::type* boxes,
                                  const Idx* argmax, T* grad_features,
                                  typename roi_warp::BoxType<T>::type* grad_boxes);
};

#if GOOGLE_CUDA
// GPU specialisations (float, half, bfloat16 with uint8 / int32 argmax),
// defined and explicitly instantiated in roi_warp_kernels_gpu.cu.cc.
template <typename T, typename Idx>
struct RoiWarpForward<Eigen::GpuDevice, T, Idx> {
  ::tensorflow::Status operator()(::tensorflow::OpKernelContext* ctx,
                                  const roi_warp::Dims& dims, const T* features,
                                  const typename roi_warp::BoxType<T>::type* boxes, T* output,
                                  Idx* argmax);
};
template <typename T, typename Idx>
struct RoiWarpBackward<Eigen::GpuDevice, T, Idx> {
  ::tensorflow::Status operator()(::tensorflow::OpKernelContext* ctx,
                                  const roi_warp::Dims& dims, const T* grad,
                                  const T* features,
                                  const typename roi_warp::BoxType<T>::type* boxes,
                                  const Idx* argmax, T* grad_features,
                                  typename roi_warp::BoxType<T>::type* grad_boxes);
};
#endif  // GOOGLE_CUDA

}  // namespace functor
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_KERNELS_H_
