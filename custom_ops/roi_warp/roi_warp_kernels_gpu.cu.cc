// GPU functors of the RoI-warp op (float, half, bfloat16; uint8 or int32
// argmax), compiled by nvcc with
// -DGOOGLE_CUDA=1 (custom_ops/build_op.py --cuda).  They only allocate scratch
// and enqueue the TensorFlow-free kernels of roi_warp_cuda.cu.h on the op's
// CUDA stream; the standalone harness (custom_ops/cuda_harness) checks those
// same kernels against the CPU implementation.
//
// The feature gradient uses float atomics unless op determinism is required
// (tf.config.experimental.enable_op_determinism() or TF_DETERMINISTIC_OPS=1),
// in which case the gather kernel (no float atomics) runs instead.  The box
// gradient is deterministic either way.  Unlike the CPU kernel, an argmax
// entry outside [0, S*S) is skipped rather than reported, since reporting it
// would need a device-to-host synchronisation; the registered gradient always
// feeds the forward op's own argmax.  half / bfloat16 are loaded and stored
// as 16-bit words and computed and accumulated in float (the atomic mode adds
// into a float workspace, converted at the end).
#if GOOGLE_CUDA

#define EIGEN_USE_GPU

#include <cuda_runtime.h>

#include <type_traits>

#include "roi_warp_cuda.cu.h"
#include "roi_warp_kernels.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/util/determinism.h"

namespace mnc_tf {
namespace functor {

using GPUDevice = Eigen::GpuDevice;
namespace errors = ::tensorflow::errors;

namespace {

cudaStream_t OpStream(::tensorflow::OpKernelContext* ctx) {
  return ctx->eigen_device<GPUDevice>().stream();
}

::tensorflow::Status LaunchStatus(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return ::tensorflow::OkStatus();
  return errors::Internal("RoiWarp ", what, ": CUDA launch failed: ",
                          cudaGetErrorString(err));
}

// The kernels' element type for a TensorFlow one (same size and bits).
template <typename T>
struct KernelType {
  using type = T;
};
template <>
struct KernelType<Eigen::half> {
  using type = roi_warp::Half;
};
template <>
struct KernelType<Eigen::bfloat16> {
  using type = roi_warp::BFloat16;
};
template <typename T>
using K = typename KernelType<T>::type;

template <typename T>
const K<T>* Cast(const T* p) {
  static_assert(sizeof(K<T>) == sizeof(T), "same element size");
  return reinterpret_cast<const K<T>*>(p);
}
template <typename T>
K<T>* Cast(T* p) {
  return reinterpret_cast<K<T>*>(p);
}

}  // namespace

template <typename T, typename Idx>
::tensorflow::Status RoiWarpForward<GPUDevice, T, Idx>::operator()(
    ::tensorflow::OpKernelContext* ctx, const roi_warp::Dims& dims,
    const T* features, const typename roi_warp::BoxType<T>::type* boxes, T* output,
    Idx* argmax) {
  static_assert(std::is_same<typename roi_warp::BoxType<T>::type, float>::value,
                "GPU kernels take float boxes");
  roi_warp::cuda::LaunchOptions opt;
  opt.num_sms = ctx->eigen_device<GPUDevice>().getNumGpuMultiProcessors();
  const auto ws = roi_warp::cuda::ForwardWorkspace::For(dims);
  ::tensorflow::Tensor workspace;
  TF_RETURN_IF_ERROR(ctx->allocate_temp(::tensorflow::DT_INT8,
                                        ::tensorflow::TensorShape({ws.bytes}),
                                        &workspace));
  return LaunchStatus(
      roi_warp::cuda::LaunchForward(dims, Cast(features), boxes, Cast(output), argmax,
                                    workspace.flat<int8_t>().data(), OpStream(ctx), opt),
      "forward");
}

template <typename T, typename Idx>
::tensorflow::Status RoiWarpBackward<GPUDevice, T, Idx>::operator()(
    ::tensorflow::OpKernelContext* ctx, const roi_warp::Dims& dims,
    const T* grad, const T* features, const typename roi_warp::BoxType<T>::type* boxes,
    const Idx* argmax, T* grad_features, typename roi_warp::BoxType<T>::type* grad_boxes) {
  roi_warp::cuda::LaunchOptions opt;
  opt.deterministic = ::tensorflow::OpDeterminismRequired();
  opt.num_sms = ctx->eigen_device<GPUDevice>().getNumGpuMultiProcessors();
  const auto ws = roi_warp::cuda::BackwardWorkspace::For(
      dims, opt.deterministic, !std::is_same<T, float>::value);
  ::tensorflow::Tensor workspace;
  TF_RETURN_IF_ERROR(ctx->allocate_temp(::tensorflow::DT_INT8,
                                        ::tensorflow::TensorShape({ws.bytes}),
                                        &workspace));
  return LaunchStatus(
      roi_warp::cuda::LaunchBackward(dims, Cast(grad), Cast(features), boxes, argmax,
                                     Cast(grad_features), grad_boxes,
                                     workspace.flat<int8_t>().data(), OpStream(ctx), opt),
      "backward");
}

#define MNC_INSTANTIATE(T)                                   \
  template struct RoiWarpForward<GPUDevice, T, uint8_t>;     \
  template struct RoiWarpForward<GPUDevice, T, int32_t>;     \
  template struct RoiWarpBackward<GPUDevice, T, uint8_t>;    \
  template struct RoiWarpBackward<GPUDevice, T, int32_t>;
MNC_INSTANTIATE(float);
MNC_INSTANTIATE(Eigen::half);
MNC_INSTANTIATE(Eigen::bfloat16);
#undef MNC_INSTANTIATE

}  // namespace functor
}  // namespace mnc_tf

#endif  // GOOGLE_CUDA
