// RoI-warp op kernels: argument checking, allocation and the CPU functors
// (multithreaded with TensorFlow's intra-op thread pool).
#define EIGEN_USE_THREADS

#include "roi_warp_kernels.h"
#include "roi_warp_memory.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/util/work_sharder.h"

namespace mnc_tf {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Status;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
namespace errors = ::tensorflow::errors;

using CPUDevice = Eigen::ThreadPoolDevice;
using GPUDevice = Eigen::GpuDevice;

namespace {

// Runs fn(begin, end) over [0, units) on TensorFlow's CPU worker threads.
struct CpuParallelFor {
  OpKernelContext* ctx;
  template <typename Fn>
  void operator()(int64_t units, int64_t cost_per_unit, Fn&& fn) const {
    auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
    pool->ParallelFor(units, cost_per_unit,
                      [&fn](int64_t begin, int64_t end) { fn(begin, end); });
  }
};

}  // namespace

namespace functor {

template <typename T, typename Idx>
struct RoiWarpForward<CPUDevice, T, Idx> {
  Status operator()(OpKernelContext* ctx, const roi_warp::Dims& dims,
                    const T* features,
                    const typename roi_warp::BoxType<T>::type* boxes, T* output,
                    Idx* argmax) {
    roi_warp::ForwardCpu(dims, features, boxes, output, argmax,
                         CpuParallelFor{ctx});
    return ::tensorflow::OkStatus();
  }
};

template <typename T, typename Idx>
struct RoiWarpBackward<CPUDevice, T, Idx> {
  Status operator()(OpKernelContext* ctx, const roi_warp::Dims& dims,
                    const T* grad, const T* features,
                    const typename roi_warp::BoxType<T>::type* boxes,
                    const Idx* argmax, T* grad_features,
                    typename roi_warp::BoxType<T>::type* grad_boxes) {
    using A = typename roi_warp::AccType<T>::type;
    constexpr auto kAccType = ::tensorflow::DataTypeToEnum<A>::value;
    const int64_t feature_elements =
        dims.batch * dims.height * dims.width * dims.channels;
    // One accumulation buffer per chunk of boxes; at most kMaxChunks so that
    // memory stays bounded on many-core machines.
    constexpr int64_t kMaxChunks = 8;
    const int64_t threads =
        ctx->device()->tensorflow_cpu_worker_threads()->num_threads;
    const int64_t num_chunks = std::max<int64_t>(
        1, std::min({kMaxChunks, threads, dims.batch * dims.num_boxes}));
    Tensor scratch;
    TF_RETURN_IF_ERROR(ctx->allocate_temp(
        kAccType, TensorShape({(num_chunks - 1) * feature_elements}), &scratch));
    roi_warp::AdviseHugePages(scratch.data(), scratch.TotalBytes());
    A* acc = nullptr;
    Tensor acc_tensor;
    if (std::is_same<T, A>::value) {
      acc = reinterpret_cast<A*>(grad_features);
    } else {  // half / bfloat16: accumulate in float, convert at the end
      TF_RETURN_IF_ERROR(ctx->allocate_temp(
          kAccType, TensorShape({feature_elements}), &acc_tensor));
      roi_warp::AdviseHugePages(acc_tensor.data(), acc_tensor.TotalBytes());
      acc = acc_tensor.flat<A>().data();
    }
    const bool ok = roi_warp::BackwardCpu(
        dims, grad, features, boxes, argmax, acc, scratch.flat<A>().data(),
        num_chunks, grad_boxes, CpuParallelFor{ctx});
    if (!std::is_same<T, A>::value) {
      for (int64_t i = 0; i < feature_elements; ++i) {
        grad_features[i] = static_cast<T>(acc[i]);
      }
    }
    if (!ok) {
      return errors::InvalidArgument(
          "argmax holds an index outside [0, (output_size / pooled_size)^2); "
          "it must be the argmax output of the forward op");
    }
    return ::tensorflow::OkStatus();
  }
};

}  // namespace functor

namespace {

// Reads and checks the attributes shared by both ops.
struct RoiWarpAttrs {
  int output_size = 0;
  int pooled_size = 0;
  float spatial_scale = 0;

  Status Read(OpKernelConstruction* ctx, ::tensorflow::DataType argmax_type) {
    TF_RETURN_IF_ERROR(ctx->GetAttr("output_size", &output_size));
    TF_RETURN_IF_ERROR(ctx->GetAttr("pooled_size", &pooled_size));
    TF_RETURN_IF_ERROR(ctx->GetAttr("spatial_scale", &spatial_scale));
    if (!(spatial_scale > 0.0f) || !std::isfinite(spatial_scale)) {
      return errors::InvalidArgument("spatial_scale must be finite and > 0, got ",
                                     spatial_scale);
    }
    if (output_size < 1 || output_size > 4096) {
      return errors::InvalidArgument("output_size must be in [1, 4096], got ",
                                     output_size);
    }
    if (pooled_size < 0 || (pooled_size > 0 && output_size % pooled_size != 0)) {
      return errors::InvalidArgument("output_size (", output_size,
                                     ") must be divisible by pooled_size (",
                                     pooled_size, ")");
    }
    const int64_t window = pooled_size > 0 ? output_size / pooled_size : 1;
    if (argmax_type == ::tensorflow::DT_UINT8 && window * window > 256) {
      return errors::InvalidArgument(
          "Targmax=uint8 holds window indices < 256 only, but the pooling "
          "window (output_size / pooled_size)^2 = ", window * window,
          "; use Targmax=int32");
    }
    return ::tensorflow::OkStatus();
  }

  // Checks features [B, H, W, C] and boxes [B, K, 4]; fills dims.
  Status Dims(const Tensor& features, const Tensor& boxes,
              roi_warp::Dims* dims) const {
    if (features.dims() != 4) {
      return errors::InvalidArgument("features must be [B, H, W, C], got shape ",
                                     features.shape().DebugString());
    }
    if (boxes.dims() != 3 || boxes.dim_size(2) != 4) {
      return errors::InvalidArgument("boxes must be [B, K, 4], got shape ",
                                     boxes.shape().DebugString());
    }
    if (features.dim_size(0) != boxes.dim_size(0)) {
      return errors::InvalidArgument("features batch (", features.dim_size(0),
                                     ") != boxes batch (", boxes.dim_size(0), ")");
    }
    dims->batch = features.dim_size(0);
    dims->height = features.dim_size(1);
    dims->width = features.dim_size(2);
    dims->channels = features.dim_size(3);
    dims->num_boxes = boxes.dim_size(1);
    dims->output_size = output_size;
    dims->pooled_size = pooled_size;
    dims->spatial_scale = spatial_scale;
    return ::tensorflow::OkStatus();
  }

  TensorShape OutputShape(const roi_warp::Dims& d) const {
    return TensorShape({d.batch, d.num_boxes, d.grid(), d.grid(), d.channels});
  }
};

template <typename Device, typename T, typename Idx>
class RoiWarpOp : public OpKernel {
  using Box = typename roi_warp::BoxType<T>::type;

 public:
  explicit RoiWarpOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, attrs_.Read(ctx, ::tensorflow::DataTypeToEnum<Idx>::value));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& features = ctx->input(0);
    const Tensor& boxes = ctx->input(1);
    roi_warp::Dims dims;
    OP_REQUIRES_OK(ctx, attrs_.Dims(features, boxes, &dims));
    const TensorShape out_shape = attrs_.OutputShape(dims);
    Tensor* output = nullptr;
    Tensor* argmax = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, out_shape, &output));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(
                            1, dims.pooled_size > 0 ? out_shape : TensorShape({0}),
                            &argmax));
    if (out_shape.num_elements() == 0) return;
    if (std::is_same<Device, CPUDevice>::value) {  // see roi_warp_memory.h
      roi_warp::AdviseHugePages(output->data(), output->TotalBytes());
      roi_warp::AdviseHugePages(argmax->data(), argmax->TotalBytes());
    }
    OP_REQUIRES_OK(ctx, functor::RoiWarpForward<Device, T, Idx>()(
                            ctx, dims, features.flat<T>().data(),
                            boxes.flat<Box>().data(), output->flat<T>().data(),
                            dims.pooled_size > 0 ? argmax->flat<Idx>().data()
                                                 : nullptr));
  }

 private:
  RoiWarpAttrs attrs_;
};

template <typename Device, typename T, typename Idx>
class RoiWarpGradOp : public OpKernel {
  using Box = typename roi_warp::BoxType<T>::type;

 public:
  explicit RoiWarpGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, attrs_.Read(ctx, ::tensorflow::DataTypeToEnum<Idx>::value));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& grad = ctx->input(0);
    const Tensor& features = ctx->input(1);
    const Tensor& boxes = ctx->input(2);
    const Tensor& argmax = ctx->input(3);
    roi_warp::Dims dims;
    OP_REQUIRES_OK(ctx, attrs_.Dims(features, boxes, &dims));
    const TensorShape out_shape = attrs_.OutputShape(dims);
    OP_REQUIRES(ctx, grad.shape() == out_shape,
                errors::InvalidArgument("grad must have shape ",
                                        out_shape.DebugString(), ", got ",
                                        grad.shape().DebugString()));
    const TensorShape argmax_shape =
        dims.pooled_size > 0 ? out_shape : TensorShape({0});
    OP_REQUIRES(ctx, argmax.shape() == argmax_shape,
                errors::InvalidArgument("argmax must have shape ",
                                        argmax_shape.DebugString(), ", got ",
                                        argmax.shape().DebugString()));
    Tensor* grad_features = nullptr;
    Tensor* grad_boxes = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, features.shape(), &grad_features));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, boxes.shape(), &grad_boxes));
    if (std::is_same<Device, CPUDevice>::value) {  // see roi_warp_memory.h
      roi_warp::AdviseHugePages(grad_features->data(), grad_features->TotalBytes());
    }
    OP_REQUIRES_OK(ctx, functor::RoiWarpBackward<Device, T, Idx>()(
                            ctx, dims, grad.flat<T>().data(),
                            features.flat<T>().data(), boxes.flat<Box>().data(),
                            dims.pooled_size > 0 ? argmax.flat<Idx>().data()
                                                 : nullptr,
                            grad_features->flat<T>().data(),
                            grad_boxes->flat<Box>().data()));
  }

 private:
  RoiWarpAttrs attrs_;
};

}  // namespace

#define REGISTER_DEVICE(DEVICE, DEVICE_TYPE, T, IDX)                            \
  REGISTER_KERNEL_BUILDER(Name("MncTf>RoiWarp")                               \
                              .Device(DEVICE)                                 \
                              .TypeConstraint<T>("T")                         \
                              .TypeConstraint<IDX>("Targmax")                 \
                              .TypeConstraint<roi_warp::BoxType<T>::type>(    \
                                  "Tboxes"),                                  \
                          RoiWarpOp<DEVICE_TYPE, T, IDX>);                    \
  REGISTER_KERNEL_BUILDER(Name("MncTf>RoiWarpGrad")                           \
                              .Device(DEVICE)                                 \
                              .TypeConstraint<T>("T")                         \
                              .TypeConstraint<IDX>("Targmax")                 \
                              .TypeConstraint<roi_warp::BoxType<T>::type>(    \
                                  "Tboxes"),                                  \
                          RoiWarpGradOp<DEVICE_TYPE, T, IDX>);
#define REGISTER_CPU(T)                                \
  REGISTER_DEVICE(DEVICE_CPU, CPUDevice, T, uint8_t); \
  REGISTER_DEVICE(DEVICE_CPU, CPUDevice, T, int32_t);
REGISTER_CPU(float);
REGISTER_CPU(double);
REGISTER_CPU(Eigen::half);
REGISTER_CPU(Eigen::bfloat16);
#undef REGISTER_CPU

#if GOOGLE_CUDA
#define REGISTER_GPU(T)                                                 \
  REGISTER_DEVICE(::tensorflow::DEVICE_GPU, GPUDevice, T, uint8_t);    \
  REGISTER_DEVICE(::tensorflow::DEVICE_GPU, GPUDevice, T, int32_t);
REGISTER_GPU(float);
REGISTER_GPU(Eigen::half);
REGISTER_GPU(Eigen::bfloat16);
#undef REGISTER_GPU
#endif  // GOOGLE_CUDA
#undef REGISTER_DEVICE

}  // namespace mnc_tf
