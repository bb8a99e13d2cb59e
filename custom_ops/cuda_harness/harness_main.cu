// RoI-warp CUDA harness: checks the CUDA kernels that the TensorFlow op runs
// (custom_ops/roi_warp/roi_warp_cuda.cu.h) against the CPU implementation
// (roi_warp_cpu.h) on random inputs and times them.  Needs nvcc only (no
// TensorFlow).  Build: `make cuda-harness`; run with --help for the options.
#if !defined(MNC_ROI_WARP_CUDA_EMULATION)
#include <cuda_runtime.h>
#endif

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "harness_args.h"
#include "harness_compare.h"
#include "harness_data.h"
#include "harness_gpu.cuh"
#include "harness_reference.h"
#include "harness_report.h"

namespace harness {
namespace {

// Argmax of the CPU (float) against the naive (double) evaluation: they may
// differ only where the two chosen samples are within rounding of each other.
void CheckArgmaxAgainstNaive(const Dims& d, const Naive& naive, const Result& cpu,
                             const NaiveResult& ref, WorkloadReport* r) {
  const int64_t n = d.grid(), C = d.channels;
  const int S = d.output_size;
  double scale = 1;
  for (double v : ref.output) scale = std::max(scale, std::fabs(v));
  const int w = S / d.pooled_size;
  int64_t differ = 0, unexplained = 0;
  for (size_t e = 0; e < cpu.argmax.size(); ++e) {
    if (cpu.argmax[e] == ref.argmax[e]) continue;
    ++differ;
    const int64_t box = static_cast<int64_t>(e) / (n * n * C);
    const int64_t cell = (static_cast<int64_t>(e) / C) % (n * n);
    const int pi = static_cast<int>(cell / n), pj = static_cast<int>(cell % n);
    const int64_t c = static_cast<int64_t>(e) % C;
    const int32_t a = cpu.argmax[e], b = ref.argmax[e];
    const bool valid = a >= 0 && a < w * w;
    if (!valid || std::fabs(naive.Value(box, pi * w + a / w, pj * w + a % w, c) -
                            naive.Value(box, pi * w + b / w, pj * w + b % w, c)) >
                      1e-6 * scale) {
      ++unexplained;
    }
  }
  r->Add("cpu argmax vs naive (ties allowed)", unexplained == 0,
         std::to_string(differ) + " differ, " + std::to_string(unexplained) + " not near-ties");
}

void NaiveChecks(const Workload& w, const Inputs& in, const Result& cpu, WorkloadReport* r) {
  const Naive naive(w.dims, in);
  const NaiveResult ref = naive.Run(cpu.argmax);
  r->Add("cpu forward vs naive double", Compare(cpu.output, ref.output));
  if (w.dims.pooled_size > 0) CheckArgmaxAgainstNaive(w.dims, naive, cpu, ref, r);
  r->Add("cpu grad_features vs naive double", Compare(cpu.grad_features, ref.grad_features));
  r->Add("cpu grad_boxes vs naive double", Compare(cpu.grad_boxes, ref.grad_boxes));
}

int PrintBoxes(const Args& a) {
  const Workload w = FindWorkload(a.print_boxes);
  SplitMix64 rng(a.seed);
  const std::vector<float> boxes = MakeBoxes(w.dims, rng, w.special_boxes);
  const int64_t count = std::min<int64_t>(a.print_count, static_cast<int64_t>(boxes.size() / 4));
  for (int64_t i = 0; i < count; ++i) {
    std::printf("%.9g %.9g %.9g %.9g\n", boxes[i * 4], boxes[i * 4 + 1], boxes[i * 4 + 2],
                boxes[i * 4 + 3]);
  }
  return 0;
}

// Opens the device; returns false (after explaining) when there is none.
bool OpenDevice(std::vector<std::pair<std::string, std::string>>* meta) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    std::fprintf(stderr,
                 "roi_warp_harness: no CUDA device available (cudaGetDeviceCount: %s; "
                 "%d device(s)).\nThe GPU checks and timings need a CUDA GPU and driver; "
                 "run with --cpu-only to check only the CPU reference here.\n",
                 cudaGetErrorString(err), count);
    return false;
  }
  cudaDeviceProp prop;
  HARNESS_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  meta->push_back({"device", prop.name});
  meta->push_back({"compute_capability", std::to_string(prop.major) + "." + std::to_string(prop.minor)});
  meta->push_back({"multiprocessors", std::to_string(prop.multiProcessorCount)});
  meta->push_back({"cuda_runtime", std::to_string(runtime)});
  meta->push_back({"cuda_driver", std::to_string(driver)});
  std::printf("device: %s (sm_%d%d, %d SMs), CUDA runtime %d, driver %d\n", prop.name,
              prop.major, prop.minor, prop.multiProcessorCount, runtime, driver);
  return true;
}

// Rounds the features and the incoming gradient to T, so that the naive
// reference and both implementations see the same values (boxes stay float).
template <typename T>
void RoundInputs(Inputs* in) {
  for (auto* v : {&in->features, &in->grad}) {
    for (float& x : *v) x = static_cast<float>(static_cast<T>(x));
  }
}

template <typename T>
int RunTyped(const Args& a) {
  std::vector<std::pair<std::string, std::string>> meta;
  meta.push_back({"dtype", a.dtype});
  cudaStream_t stream = nullptr;
  if (a.cpu_only) {
    meta.push_back({"device", "none (--cpu-only)"});
  } else {
    if (!OpenDevice(&meta)) return 3;
    HARNESS_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  }
  meta.push_back({"indexing", a.force_int64 ? "int64 (forced)" : "auto"});
  meta.push_back({"vectors", a.force_scalar ? "scalar (forced)" : "auto"});
  meta.push_back({"seed", std::to_string(a.seed)});
  GpuOptions gopt;
  gopt.warmup = a.warmup;
  gopt.iters = a.iters;
  gopt.timing = a.timing;
#if defined(MNC_ROI_WARP_CUDA_EMULATION)
  gopt.timing = false;  // emulated kernels: correctness only
  meta.push_back({"emulation", "kernels run on the CPU through cuda_emulation.h; no timings"});
  std::printf("CPU emulation of the CUDA kernels: checks only, no timings.\n");
#endif
  gopt.force_int64 = a.force_int64;
  gopt.force_scalar = a.force_scalar;
  gopt.cpu_threads = a.threads;
  std::vector<WorkloadReport> reports;
  for (const Workload& w : a.workloads) {
    Inputs in = MakeInputs(w, a.seed);
    RoundInputs<T>(&in);
    WorkloadReport r;
    r.workload = w;
    r.tolerance = RelTolerance(a.dtype);
    r.element_bytes = sizeof(T);
    r.forward_bytes = ForwardBytes(w.dims, sizeof(T));
    r.forward_bound_ms = r.forward_bytes / (a.peak_tbs * 1e12) * 1e3;
    Result cpu;
    CpuForward<T>(w.dims, in, a.threads, &cpu);
    CpuBackward<T>(w.dims, in, cpu.argmax, a.threads, &cpu);
    r.Add("cpu backward accepted the cpu argmax", cpu.argmax_ok);
    if (a.naive || a.cpu_only) NaiveChecks(w, in, cpu, &r);
    if (!a.cpu_only) RunGpuWorkload<T>(w, in, cpu, gopt, stream, &r);
    PrintChecks(r);
    if (w.timed) {
      std::printf("  forward memory bound: %.1f MB / %.2f TB/s = %.4f ms\n",
                  r.forward_bytes / 1e6, a.peak_tbs, r.forward_bound_ms);
    }
    std::fflush(stdout);
    reports.push_back(r);
  }
  PrintTimings(reports, a.peak_tbs);
  bool ok = true;
  for (const auto& r : reports) ok &= r.Ok();
  if (!a.json_path.empty()) {
    const std::string json = ToJson(meta, a.peak_tbs, reports);
    if (a.json_path == "-") {
      std::printf("%s", json.c_str());
    } else {  // write to a temporary name, then rename
      const std::string tmp = a.json_path + ".partial";
      std::ofstream f(tmp);
      f << json;
      f.close();
      if (!f || std::rename(tmp.c_str(), a.json_path.c_str()) != 0) {
        std::fprintf(stderr, "roi_warp_harness: cannot write %s\n", a.json_path.c_str());
        return 1;
      }
    }
  }
  if (stream != nullptr) cudaStreamDestroy(stream);
  std::printf("\n%s\n", ok ? "ALL CHECKS PASSED" : "SOME CHECKS FAILED");
  return ok ? 0 : 1;
}

int Run(const Args& a) {
  if (a.dtype == "float16") return RunTyped<mnc_tf::roi_warp::Half>(a);
  if (a.dtype == "bfloat16") return RunTyped<mnc_tf::roi_warp::BFloat16>(a);
  return RunTyped<float>(a);
}

}  // namespace
}  // namespace harness

int main(int argc, char** argv) {
  const harness::Args args = harness::ParseArgs(argc, argv);
  if (!args.print_boxes.empty()) return harness::PrintBoxes(args);
  return harness::Run(args);
}
