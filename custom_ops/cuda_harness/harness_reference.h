// References of the RoI-warp CUDA harness.
//
// 1. The project's CPU implementation (roi_warp_cpu.h), run on host threads in
//    the harness's element type (float, Half or BFloat16; --dtype): what the
//    CUDA kernels are checked against.  Results are returned as float.
// 2. A naive double-precision evaluation written straight from docs/design.md §4
//    (kappa(t) = max(0, 1 - |t|) summed over the pixels near each sample,
//    kappa'(t) = -sign(t) for |t| < 1), independent of roi_warp_math.h: used by
//    --cpu-only / --naive to check reference 1 itself.  Sample positions are
//    evaluated in float with the formula's order of operations (the op's
//    definition for float boxes); everything after that in double.
#ifndef MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_REFERENCE_H_
#define MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "harness_data.h"
#include "roi_warp_cpu.h"

namespace harness {

// ParallelFor over host threads, contiguous ranges.
struct ThreadedParallelFor {
  int threads = 1;
  template <typename Fn>
  void operator()(int64_t units, int64_t /*cost_per_unit*/, Fn&& fn) const {
    const int64_t t = std::min<int64_t>(std::max(threads, 1), units);
    if (t <= 1) {
      if (units > 0) fn(0, units);
      return;
    }
    std::vector<std::thread> pool;
    for (int64_t r = 0; r < t; ++r) {
      const int64_t begin = units * r / t, end = units * (r + 1) / t;
      pool.emplace_back([&fn, begin, end] { fn(begin, end); });
    }
    for (auto& th : pool) th.join();
  }
};

struct Result {
  std::vector<float> output;         // [B, K, n, n, C]
  std::vector<uint8_t> argmax;       // same shape when pooled (window indices), else empty
  std::vector<float> grad_features;  // [B, H, W, C]
  std::vector<float> grad_boxes;     // [B, K, 4]
  bool argmax_ok = true;             // BackwardCpu's validity report
};

template <typename T>
std::vector<T> ToType(const std::vector<float>& v) {
  std::vector<T> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<T>(v[i]);
  return out;
}
template <typename T>
std::vector<float> ToFloatVector(const std::vector<T>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return out;
}

// Forward of the CPU implementation in element type T (boxes float).
template <typename T>
void CpuForward(const Dims& d, const Inputs& in, int threads, Result* r) {
  const std::vector<T> features = ToType<T>(in.features);
  std::vector<T> output(static_cast<size_t>(d.output_elements()), T(0.0f));
  r->argmax.assign(d.pooled_size > 0 ? static_cast<size_t>(d.output_elements()) : 0, 0);
  mnc_tf::roi_warp::ForwardCpu(d, features.data(), in.boxes.data(), output.data(),
                               d.pooled_size > 0 ? r->argmax.data() : nullptr,
                               ThreadedParallelFor{threads});
  r->output = ToFloatVector(output);
}

// Backward of the CPU implementation in element type T with the given argmax
// (pooled only): accumulates in float, rounds to T at the end (as the
// TensorFlow CPU kernel does).
template <typename T>
void CpuBackward(const Dims& d, const Inputs& in, const std::vector<uint8_t>& argmax,
                 int threads, Result* r) {
  using A = typename mnc_tf::roi_warp::AccType<T>::type;
  const int64_t map = d.batch * d.height * d.width * d.channels;
  const int64_t chunks =
      std::max<int64_t>(1, std::min<int64_t>({8, threads, d.batch * d.num_boxes}));
  std::vector<A> scratch(static_cast<size_t>((chunks - 1) * map));
  std::vector<A> acc(static_cast<size_t>(map), A(0));
  r->grad_boxes.assign(static_cast<size_t>(d.batch * d.num_boxes * 4), 0.0f);
  const std::vector<T> grad = ToType<T>(in.grad), features = ToType<T>(in.features);
  r->argmax_ok = mnc_tf::roi_warp::BackwardCpu(
      d, grad.data(), features.data(), in.boxes.data(),
      d.pooled_size > 0 ? argmax.data() : nullptr, acc.data(), scratch.data(), chunks,
      r->grad_boxes.data(), ThreadedParallelFor{threads});
  r->grad_features.resize(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    r->grad_features[i] = static_cast<float>(static_cast<T>(static_cast<float>(acc[i])));
  }
}

// ---------------------------------------------------------------------------
// Naive double-precision reference.

struct NaiveResult {
  std::vector<double> output;
  std::vector<uint8_t> argmax;  // window indices
  std::vector<double> grad_features;
  std::vector<double> grad_boxes;
};

// Sample position, docs/design.md §4: start * s - 0.5 + (i + 0.5) * (end - start) * s / S.
inline float NaivePosition(float start, float end, float s, int S, int i) {
  const float offset = (static_cast<float>(i) + 0.5f) / static_cast<float>(S);
  return start * s - 0.5f + offset * ((end - start) * s);
}
inline double Kappa(double t) { return std::max(0.0, 1.0 - std::fabs(t)); }
inline double KappaPrime(double t) {
  if (!(std::fabs(t) < 1.0) || t == 0.0) return 0.0;
  return t > 0 ? -1.0 : 1.0;
}

class Naive {
 public:
  Naive(const Dims& d, const Inputs& in) : d_(d), in_(in) {}

  bool Finite(int64_t box) const {
    const float* p = in_.boxes.data() + box * 4;
    return std::isfinite(p[0]) && std::isfinite(p[1]) && std::isfinite(p[2]) &&
           std::isfinite(p[3]);
  }
  double Y(int64_t box, int i) const { return Pos(box, 0, 2, i); }
  double X(int64_t box, int j) const { return Pos(box, 1, 3, j); }

  // sum_{v,u} ky(y - v) kx(x - u) F[b, v, u, c] over the pixels within one
  // of (y, x); ky / kx are kappa or kappa'.
  template <typename KY, typename KX>
  double Sum(int64_t b, double y, double x, int64_t c, KY ky, KX kx) const {
    double acc = 0;
    for (int64_t v = static_cast<int64_t>(std::floor(y)) - 1; v <= std::floor(y) + 2; ++v) {
      if (v < 0 || v >= d_.height) continue;
      for (int64_t u = static_cast<int64_t>(std::floor(x)) - 1; u <= std::floor(x) + 2; ++u) {
        if (u < 0 || u >= d_.width) continue;
        acc += ky(y - v) * kx(x - u) * F(b, v, u, c);
      }
    }
    return acc;
  }
  double Value(int64_t box, int i, int j, int64_t c) const {
    return Sum(box / d_.num_boxes, Y(box, i), X(box, j), c, Kappa, Kappa);
  }

  NaiveResult Run(const std::vector<uint8_t>& backward_argmax) const;

 private:
  double Pos(int64_t box, int q0, int q1, int i) const {
    const float* p = in_.boxes.data() + box * 4;
    return NaivePosition(p[q0], p[q1], static_cast<float>(d_.spatial_scale),
                         d_.output_size, i);
  }
  double F(int64_t b, int64_t v, int64_t u, int64_t c) const {
    return in_.features[((b * d_.height + v) * d_.width + u) * d_.channels + c];
  }
  const Dims& d_;
  const Inputs& in_;
};

// Forward (first maximum wins) and backward; the backward routes pooled
// gradients through `backward_argmax` (the CPU's), like the GPU check does.
inline NaiveResult Naive::Run(const std::vector<uint8_t>& backward_argmax) const {
  const Dims& d = d_;
  const int S = d.output_size, P = d.pooled_size;
  const int64_t n = d.grid(), C = d.channels, K = d.num_boxes;
  const int w = P > 0 ? S / P : 1;
  const double s = d.spatial_scale;
  NaiveResult r;
  r.output.assign(static_cast<size_t>(d.output_elements()), 0.0);
  r.argmax.assign(P > 0 ? static_cast<size_t>(d.output_elements()) : 0, 0);
  r.grad_features.assign(static_cast<size_t>(d.batch * d.height * d.width * C), 0.0);
  r.grad_boxes.assign(static_cast<size_t>(d.batch * K * 4), 0.0);
  if (d.height == 0 || d.width == 0) return r;
  for (int64_t box = 0; box < d.batch * K; ++box) {
    if (!Finite(box)) continue;
    const int64_t b = box / K;
    double grad_box[4] = {0, 0, 0, 0};
    for (int64_t cell = 0; cell < n * n; ++cell) {
      const int pi = static_cast<int>(cell / n), pj = static_cast<int>(cell % n);
      for (int64_t c = 0; c < C; ++c) {
        const int64_t e = (box * n * n + cell) * C + c;
        double best = 0;
        int32_t best_index = 0;
        for (int di = 0; di < w; ++di) {
          for (int dj = 0; dj < w; ++dj) {
            const int i = pi * w + di, j = pj * w + dj;
            const double v = Value(box, i, j, c);
            if ((di | dj) == 0 || v > best) {
              best = v;
              best_index = di * w + dj;
            }
          }
        }
        r.output[e] = best;
        if (P > 0) r.argmax[e] = static_cast<uint8_t>(best_index);
        // Backward of this element: one sample.
        int i = pi, j = pj;
        if (P > 0) {
          const int32_t a = backward_argmax[e];
          if (a < 0 || a >= w * w) continue;
          i = pi * w + a / w;
          j = pj * w + a % w;
        }
        const double g = in_.grad[e];
        const double y = Y(box, i), x = X(box, j);
        for (int64_t v = static_cast<int64_t>(std::floor(y)) - 1; v <= std::floor(y) + 2; ++v) {
          if (v < 0 || v >= d.height) continue;
          for (int64_t u = static_cast<int64_t>(std::floor(x)) - 1; u <= std::floor(x) + 2; ++u) {
            if (u < 0 || u >= d.width) continue;
            r.grad_features[((b * d.height + v) * d.width + u) * C + c] +=
                Kappa(y - v) * Kappa(x - u) * g;
          }
        }
        const double dy = g * Sum(b, y, x, c, KappaPrime, Kappa);
        const double dx = g * Sum(b, y, x, c, Kappa, KappaPrime);
        grad_box[0] += dy * s * (1.0 - (i + 0.5) / S);
        grad_box[1] += dx * s * (1.0 - (j + 0.5) / S);
        grad_box[2] += dy * s * (i + 0.5) / S;
        grad_box[3] += dx * s * (j + 0.5) / S;
      }
    }
    for (int q = 0; q < 4; ++q) r.grad_boxes[box * 4 + q] = grad_box[q];
  }
  return r;
}

}  // namespace harness

#endif  // MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_REFERENCE_H_
