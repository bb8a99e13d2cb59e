// Comparison metrics of the RoI-warp CUDA harness.
//
// Pass criterion for a tensor: normwise relative error in the max norm,
//     max_i |test_i - ref_i| / max_i |ref_i|  <=  1e-4
// (an all-zero reference requires an all-zero result).  Elementwise relative
// error is not used: box gradients are sums of ~1e5 terms of both signs, so a
// small coordinate can carry an absolute rounding error that is tiny against
// the tensor but large against itself.  Non-finite values always fail.
#ifndef MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_COMPARE_H_
#define MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_COMPARE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace harness {

constexpr double kRelTolerance = 1e-4;

// Tolerance by element type: float 1e-4; float16 / bfloat16 results are
// rounded to 11 / 8 significant bits after float accumulation, so two
// float sums that differ in their last bits may round one unit apart
// (2^-11 ~ 4.9e-4, 2^-8 ~ 3.9e-3 of the value).
inline double RelTolerance(const std::string& dtype) {
  if (dtype == "float16") return 2e-3;
  if (dtype == "bfloat16") return 1.6e-2;
  return kRelTolerance;
}

struct Diff {
  double max_abs_err = 0;
  double max_abs_ref = 0;
  int64_t worst_index = -1;
  int64_t non_finite = 0;  // elements where exactly one side is not finite
  int64_t count = 0;

  double Rel() const {
    if (max_abs_ref > 0) return max_abs_err / max_abs_ref;
    return max_abs_err > 0 ? INFINITY : 0.0;
  }
  bool Ok(double tol = kRelTolerance) const { return non_finite == 0 && Rel() <= tol; }
};

template <typename TestT, typename RefT>
Diff Compare(const std::vector<TestT>& test, const std::vector<RefT>& ref) {
  Diff d;
  d.count = static_cast<int64_t>(ref.size());
  if (test.size() != ref.size()) {
    d.non_finite = 1;  // shape mismatch: report as a failure
    return d;
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    const double t = static_cast<double>(test[i]), r = static_cast<double>(ref[i]);
    if (!std::isfinite(t) || !std::isfinite(r)) {
      const bool same = (std::isnan(t) && std::isnan(r)) || t == r;
      if (!same) ++d.non_finite;
      continue;
    }
    d.max_abs_ref = std::max(d.max_abs_ref, std::fabs(r));
    const double e = std::fabs(t - r);
    if (e > d.max_abs_err) {
      d.max_abs_err = e;
      d.worst_index = static_cast<int64_t>(i);
    }
  }
  return d;
}

template <typename T>
bool BitwiseEqual(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

template <typename I>
int64_t CountMismatches(const std::vector<I>& a, const std::vector<I>& b) {
  if (a.size() != b.size()) return static_cast<int64_t>(std::max(a.size(), b.size()));
  int64_t m = 0;
  for (size_t i = 0; i < a.size(); ++i) m += a[i] != b[i];
  return m;
}

}  // namespace harness

#endif  // MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_COMPARE_H_
