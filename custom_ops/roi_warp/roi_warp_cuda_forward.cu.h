// RoI-warp forward CUDA kernel (TensorFlow-free), fused max pool included.
//
// One thread per output element (b, k, pi, pj, c) with c fastest, so a warp
// reads 32 consecutive channels of the same feature pixels (coalesced NHWC
// reads) and writes 32 consecutive outputs.  The thread evaluates the
// window x window samples of its cell with the shared per-sample math of
// roi_warp_math.h in the CPU kernel's order (rows outer, columns inner; the
// first maximum wins), so results and argmax match roi_warp_cpu.h.
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_FORWARD_CU_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_FORWARD_CU_H_

#include <cstdint>

#include "roi_warp_cuda_common.cu.h"

namespace mnc_tf {
namespace roi_warp {
namespace cuda {

// output / argmax: [B, K, n, n, C]; argmax may be null (no pooling).
// total = B * K * n * n * C.
template <typename IndexT>
__global__ void __launch_bounds__(kThreads)
    RoiWarpForwardKernel(KernelDims d, IndexT total,
                         const float* __restrict__ features,
                         const float* __restrict__ boxes,
                         float* __restrict__ output,
                         int32_t* __restrict__ argmax) {
  const IndexT C = static_cast<IndexT>(d.channels);
  const IndexT H = static_cast<IndexT>(d.height);
  const IndexT W = static_cast<IndexT>(d.width);
  const IndexT K = static_cast<IndexT>(d.num_boxes);
  const IndexT n = static_cast<IndexT>(d.grid);
  const int S = d.output_size;
  const int window = d.window;
  const IndexT stride = static_cast<IndexT>(blockDim.x) * gridDim.x;
  for (IndexT idx = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x;
       idx < total; idx += stride) {
    const IndexT c = idx % C;
    IndexT rest = idx / C;
    const int pj = static_cast<int>(rest % n);
    rest /= n;
    const int pi = static_cast<int>(rest % n);
    const IndexT box = rest / n;
    const IndexT b = box / K;
    const Box bx = LoadBox(boxes, box);
    float best = 0.0f;
    int32_t best_index = 0;
    if (IsFiniteBox(bx.y1, bx.x1, bx.y2, bx.x2) && H > 0 && W > 0) {
      const float* fmap = features + b * H * W * C + c;
      for (int di = 0; di < window; ++di) {
        const int i = pi * window + di;
        const AxisTaps<float> ty = ComputeTaps(
            SamplePosition(bx.y1, bx.y2, d.scale, S, i), d.height);
        const float* row0 = fmap + static_cast<IndexT>(ty.i0) * W * C;
        const float* row1 = fmap + static_cast<IndexT>(ty.i1) * W * C;
        for (int dj = 0; dj < window; ++dj) {
          const int j = pj * window + dj;
          const AxisTaps<float> tx = ComputeTaps(
              SamplePosition(bx.x1, bx.x2, d.scale, S, j), d.width);
          const IndexT o0 = static_cast<IndexT>(tx.i0) * C;
          const IndexT o1 = static_cast<IndexT>(tx.i1) * C;
          // Same weights and order of terms as InterpolateSample (CPU).
          const float value = (ty.w0 * tx.w0) * __ldg(row0 + o0) +
                              (ty.w0 * tx.w1) * __ldg(row0 + o1) +
                              (ty.w1 * tx.w0) * __ldg(row1 + o0) +
                              (ty.w1 * tx.w1) * __ldg(row1 + o1);
          if ((di | dj) == 0 || value > best) {  // first maximum wins
            best = value;
            best_index = i * S + j;
          }
        }
      }
    }
    output[idx] = best;
    if (argmax != nullptr) argmax[idx] = best_index;
  }
}

}  // namespace cuda
}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CUDA_FORWARD_CU_H_
