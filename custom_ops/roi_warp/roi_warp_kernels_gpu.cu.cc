// GPU functors of the RoI-warp op (float), compiled by nvcc with
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
// feeds the forward op's own argmax.
#if GOOGLE_CUDA

#define EIGEN_USE_GPU

#include <cuda_runtime.h>

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

}  // namespace

template <>
::tensorflow::Status RoiWarpForward<GPUDevice, float>::operator()(
    ::tensorflow::OpKernelContext* ctx, const roi_warp::Dims& dims,
    const float* features, const float* boxes, float* output, int32_t* argmax) {
  roi_warp::cuda::LaunchOptions opt;
  opt.num_sms = ctx->eigen_device<GPUDevice>().getNumGpuMultiProcessors();
  const auto ws = roi_warp::cuda::ForwardWorkspace::For(dims);
  ::tensorflow::Tensor workspace;
  TF_RETURN_IF_ERROR(ctx->allocate_temp(::tensorflow::DT_INT8,
                                        ::tensorflow::TensorShape({ws.bytes}),
                                        &workspace));
  return LaunchStatus(
      roi_warp::cuda::LaunchForward(dims, features, boxes, output, argmax,
                                    workspace.flat<int8_t>().data(),
                                    OpStream(ctx), opt),
      "forward");
}

template <>
::tensorflow::Status RoiWarpBackward<GPUDevice, float>::operator()(
    ::tensorflow::OpKernelContext* ctx, const roi_warp::Dims& dims,
    const float* grad, const float* features, const float* boxes,
    const int32_t* argmax, float* grad_features, float* grad_boxes) {
  roi_warp::cuda::LaunchOptions opt;
  opt.deterministic = ::tensorflow::OpDeterminismRequired();
  opt.num_sms = ctx->eigen_device<GPUDevice>().getNumGpuMultiProcessors();
  const auto ws = roi_warp::cuda::BackwardWorkspace::For(dims, opt.deterministic);
  ::tensorflow::Tensor workspace;
  TF_RETURN_IF_ERROR(ctx->allocate_temp(::tensorflow::DT_INT8,
                                        ::tensorflow::TensorShape({ws.bytes}),
                                        &workspace));
  return LaunchStatus(
      roi_warp::cuda::LaunchBackward(dims, grad, features, boxes, argmax,
                                     grad_features, grad_boxes,
                                     workspace.flat<int8_t>().data(),
                                     OpStream(ctx), opt),
      "backward");
}

}  // namespace functor
}  // namespace mnc_tf

#endif  // GOOGLE_CUDA
