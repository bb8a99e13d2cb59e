// GPU side of the RoI-warp CUDA harness: runs the kernels of
// custom_ops/roi_warp/roi_warp_cuda.cu.h (the ones TensorFlow runs) on a
// workload, checks them against the CPU reference and times them.
#ifndef MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_GPU_CUH_
#define MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_GPU_CUH_

#if !defined(MNC_ROI_WARP_CUDA_EMULATION)
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "harness_compare.h"
#include "harness_reference.h"
#include "harness_report.h"
#include "roi_warp_cuda.cu.h"

#define HARNESS_CUDA_CHECK(expr)                                                \
  do {                                                                          \
    const cudaError_t err_ = (expr);                                            \
    if (err_ != cudaSuccess) {                                                  \
      std::fprintf(stderr, "roi_warp_harness: CUDA error at %s:%d: %s: %s\n",   \
                   __FILE__, __LINE__, #expr, cudaGetErrorString(err_));        \
      std::exit(4);                                                             \
    }                                                                           \
  } while (0)

namespace harness {

namespace rw = mnc_tf::roi_warp::cuda;

// Device array of n elements (at least one is allocated, so pointers are
// never null even for empty tensors).
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    HARNESS_CUDA_CHECK(cudaMalloc(&ptr_, std::max<size_t>(n, 1) * sizeof(T)));
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { Upload(host); }
  ~DeviceArray() { cudaFree(ptr_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return ptr_; }
  void Upload(const std::vector<T>& host) {
    if (n_) HARNESS_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> Download() const {
    std::vector<T> host(n_);
    if (n_) HARNESS_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  // Poison with a byte pattern (0xFF bytes = NaN floats / -1 ints) so that
  // elements a kernel fails to write show up in the comparison.
  void Poison() { HARNESS_CUDA_CHECK(cudaMemset(ptr_, 0xFF, std::max<size_t>(n_, 1) * sizeof(T))); }

 private:
  T* ptr_ = nullptr;
  size_t n_;
};

struct GpuOptions {
  int warmup = 5;
  int iters = 50;
  bool timing = true;
  bool force_int64 = false;
  bool force_scalar = false;
  int cpu_threads = 1;
};

template <typename Fn>
Timing TimeIt(const std::string& name, Fn&& fn, const GpuOptions& opt, cudaStream_t stream) {
  for (int i = 0; i < opt.warmup; ++i) fn();
  HARNESS_CUDA_CHECK(cudaStreamSynchronize(stream));
  cudaEvent_t start, stop;
  HARNESS_CUDA_CHECK(cudaEventCreate(&start));
  HARNESS_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> ms;
  for (int i = 0; i < opt.iters; ++i) {
    HARNESS_CUDA_CHECK(cudaEventRecord(start, stream));
    fn();
    HARNESS_CUDA_CHECK(cudaEventRecord(stop, stream));
    HARNESS_CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0;
    HARNESS_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(ms.begin(), ms.end());
  Timing timing;
  timing.name = name;
  timing.iters = opt.iters;
  timing.median_ms = ms.empty() ? 0 : ms[ms.size() / 2];
  timing.min_ms = ms.empty() ? 0 : ms.front();
  return timing;
}

// Checks (and, for timed workloads, times) the CUDA kernels on one workload
// against `cpu` (the CPU forward, and the CPU backward fed the CPU argmax),
// both in element type T (inputs already rounded to T).
template <typename T>
void RunGpuWorkload(const Workload& w, const Inputs& in, const Result& cpu,
                    const GpuOptions& opt, cudaStream_t stream, WorkloadReport* report) {
  const Dims& d = w.dims;
  const bool pooled = d.pooled_size > 0;
  const size_t out_n = static_cast<size_t>(d.output_elements());
  const size_t map_n = in.features.size();
  const size_t box_n = in.boxes.size();
  constexpr bool kNarrow = !std::is_same<T, float>::value;
  DeviceArray<T> features(ToType<T>(in.features)), grad(ToType<T>(in.grad));
  DeviceArray<float> boxes(in.boxes);
  DeviceArray<T> output(out_n), grad_features(map_n);
  DeviceArray<float> grad_boxes(box_n);
  DeviceArray<uint8_t> argmax(pooled ? out_n : 0);
  DeviceArray<uint8_t> cpu_argmax(cpu.argmax);
  DeviceArray<unsigned int> bad(1);
  const int64_t ws_bytes = std::max({rw::ForwardWorkspace::For(d).bytes,
                                     rw::BackwardWorkspace::For(d, false, kNarrow).bytes,
                                     rw::BackwardWorkspace::For(d, true, kNarrow).bytes});
  DeviceArray<char> workspace(static_cast<size_t>(ws_bytes));

  rw::LaunchOptions lo;
  lo.force_int64 = opt.force_int64;
  lo.force_scalar = opt.force_scalar;
  lo.bad_argmax = bad.get();
  auto forward = [&] {
    HARNESS_CUDA_CHECK(rw::LaunchForward(d, features.get(), boxes.get(), output.get(),
                                         argmax.get(), workspace.get(), stream, lo));
  };
  auto backward = [&](bool deterministic, const uint8_t* arg) {
    rw::LaunchOptions o = lo;
    o.deterministic = deterministic;
    HARNESS_CUDA_CHECK(rw::LaunchBackward(d, grad.get(), features.get(), boxes.get(), arg,
                                          grad_features.get(), grad_boxes.get(),
                                          workspace.get(), stream, o));
  };
  auto download = [](const DeviceArray<T>& a) { return ToFloatVector(a.Download()); };

  // Forward.
  output.Poison();
  argmax.Poison();
  forward();
  HARNESS_CUDA_CHECK(cudaStreamSynchronize(stream));
  const std::vector<float> out = download(output);
  report->Add("gpu forward vs cpu", Compare(out, cpu.output),
              BitwiseEqual(out, cpu.output) ? "bitwise equal" : "");
  if (pooled) {
    const int64_t mism = CountMismatches(argmax.Download(), cpu.argmax);
    report->Add("gpu argmax == cpu argmax", mism == 0,
                std::to_string(mism) + " of " + std::to_string(out_n) + " differ");
  }

  // Backward, both modes, each twice (repeatability), fed the CPU argmax.
  for (const bool det : {false, true}) {
    const std::string mode = det ? "deterministic" : "atomic";
    std::vector<float> gf[2], gb[2];
    for (int rep = 0; rep < 2; ++rep) {
      grad_features.Poison();
      grad_boxes.Poison();
      HARNESS_CUDA_CHECK(cudaMemset(bad.get(), 0, sizeof(unsigned int)));
#if defined(MNC_ROI_WARP_CUDA_EMULATION)
      const auto before = cuda_emulation::FloatAtomics();
#endif
      backward(det, cpu_argmax.get());
      HARNESS_CUDA_CHECK(cudaStreamSynchronize(stream));
#if defined(MNC_ROI_WARP_CUDA_EMULATION)
      if (!det && rep == 0) {  // float atomics of one atomic-mode backward
        report->atomic_ops = static_cast<int64_t>(cuda_emulation::FloatAtomics().ops - before.ops);
        report->atomic_elements =
            static_cast<int64_t>(cuda_emulation::FloatAtomics().elements - before.elements);
        char detail[128];
        std::snprintf(detail, sizeof(detail), "%lld ops, %lld floats, %.3f per output element",
                      static_cast<long long>(report->atomic_ops),
                      static_cast<long long>(report->atomic_elements),
                      static_cast<double>(report->atomic_elements) /
                          static_cast<double>(std::max<size_t>(out_n, 1)));
        report->checks.push_back({"float atomics of the atomic backward [info]", true, NAN,
                                  detail});
      }
#endif
      gf[rep] = download(grad_features);
      gb[rep] = grad_boxes.Download();
    }
    report->Add("gpu grad_features (" + mode + ") vs cpu", Compare(gf[0], cpu.grad_features));
    report->Add("gpu grad_boxes (" + mode + ") vs cpu", Compare(gb[0], cpu.grad_boxes));
    report->Add("grad_boxes (" + mode + ") bitwise repeatable", BitwiseEqual(gb[0], gb[1]));
    if (det) {
      report->Add("grad_features (deterministic) bitwise repeatable",
                  BitwiseEqual(gf[0], gf[1]));
    } else {  // informational: float atomics may reorder sums
      report->checks.push_back({"grad_features (atomic) repeatable [info]", true, NAN,
                                BitwiseEqual(gf[0], gf[1]) ? "yes" : "no (atomics)"});
    }
    report->Add("bad-argmax flag clear (" + mode + ")", bad.Download()[0] == 0u);
  }

  // Corrupted argmax: window indices >= window^2 must be skipped and flagged,
  // with no out-of-bounds access (run under compute-sanitizer memcheck).
  const int window = pooled ? d.output_size / d.pooled_size : 1;
  const int samples = window * window;
  if (pooled && out_n > 0 && samples < 256) {
    std::vector<uint8_t> broken = cpu.argmax;
    const uint8_t bad_values[] = {static_cast<uint8_t>(samples),
                                  static_cast<uint8_t>(std::min(samples + 5, 255)), 255};
    for (size_t i = 0; i < broken.size(); i += std::max<size_t>(1, broken.size() / 64)) {
      broken[i] = bad_values[i % 3];
    }
    DeviceArray<uint8_t> broken_dev(broken);
    for (const bool det : {false, true}) {
      HARNESS_CUDA_CHECK(cudaMemset(bad.get(), 0, sizeof(unsigned int)));
      backward(det, broken_dev.get());
      HARNESS_CUDA_CHECK(cudaStreamSynchronize(stream));
      report->Add(std::string("corrupt argmax flagged (") + (det ? "deterministic" : "atomic") + ")",
                  bad.Download()[0] == 1u);
    }
  }

  // Rerouted argmax: valid window indices other than the forward's choice;
  // the GPU must route each cell's gradient to the named sample like the CPU.
  if (pooled && out_n > 0 && samples > 1) {
    std::vector<uint8_t> rerouted = cpu.argmax;
    for (size_t i = 0; i < rerouted.size(); i += 3) {
      rerouted[i] = static_cast<uint8_t>((rerouted[i] + 1 + i % (samples - 1)) % samples);
    }
    Result cpu_re;
    CpuBackward<T>(d, in, rerouted, opt.cpu_threads, &cpu_re);
    DeviceArray<uint8_t> rerouted_dev(rerouted);
    for (const bool det : {false, true}) {
      HARNESS_CUDA_CHECK(cudaMemset(bad.get(), 0, sizeof(unsigned int)));
      backward(det, rerouted_dev.get());
      HARNESS_CUDA_CHECK(cudaStreamSynchronize(stream));
      const std::string mode = det ? "deterministic" : "atomic";
      report->Add("rerouted argmax: grad_features (" + mode + ") vs cpu",
                  Compare(download(grad_features), cpu_re.grad_features));
      report->Add("rerouted argmax: grad_boxes (" + mode + ") vs cpu",
                  Compare(grad_boxes.Download(), cpu_re.grad_boxes));
    }
  }

  // The int32 argmax type (the op's choice when window^2 > 256, allowed for
  // any window): the same window indices from the forward, and the same
  // gradients when the backward reads them.
  if (pooled && out_n > 0) {
    const std::vector<int32_t> cpu_arg32(cpu.argmax.begin(), cpu.argmax.end());
    DeviceArray<int32_t> arg32(out_n);
    arg32.Poison();
    HARNESS_CUDA_CHECK(rw::LaunchForward(d, features.get(), boxes.get(), output.get(),
                                         arg32.get(), workspace.get(), stream, lo));
    HARNESS_CUDA_CHECK(cudaStreamSynchronize(stream));
    const std::vector<int32_t> got = arg32.Download();
    int64_t mism = 0;
    for (size_t e = 0; e < out_n; ++e) mism += got[e] != cpu_arg32[e];
    report->Add("int32 argmax: gpu argmax == cpu argmax", mism == 0,
                std::to_string(mism) + " of " + std::to_string(out_n) + " differ");
    arg32.Upload(cpu_arg32);
    for (const bool det : {false, true}) {
      rw::LaunchOptions o = lo;
      o.deterministic = det;
      grad_features.Poison();
      grad_boxes.Poison();
      HARNESS_CUDA_CHECK(rw::LaunchBackward(d, grad.get(), features.get(), boxes.get(),
                                            static_cast<const int32_t*>(arg32.get()),
                                            grad_features.get(), grad_boxes.get(),
                                            workspace.get(), stream, o));
      HARNESS_CUDA_CHECK(cudaStreamSynchronize(stream));
      const std::string mode = det ? "deterministic" : "atomic";
      report->Add("int32 argmax: grad_features (" + mode + ") vs cpu",
                  Compare(download(grad_features), cpu.grad_features));
      report->Add("int32 argmax: grad_boxes (" + mode + ") vs cpu",
                  Compare(grad_boxes.Download(), cpu.grad_boxes));
    }
  }

  if (!w.timed || !opt.timing) return;
  report->timings.push_back(TimeIt("forward", forward, opt, stream));
  report->timings.push_back(TimeIt("backward_atomic", [&] { backward(false, cpu_argmax.get()); },
                                   opt, stream));
  report->timings.push_back(TimeIt("backward_deterministic",
                                   [&] { backward(true, cpu_argmax.get()); }, opt, stream));
  report->timings.push_back(TimeIt("fwd_bwd_atomic", [&] {
    forward();
    backward(false, argmax.get());
  }, opt, stream));
  report->timings.push_back(TimeIt("fwd_bwd_deterministic", [&] {
    forward();
    backward(true, argmax.get());
  }, opt, stream));
}

}  // namespace harness

#endif  // MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_GPU_CUH_
