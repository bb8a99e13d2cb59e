// Command line of the RoI-warp CUDA harness.
#ifndef MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_ARGS_H_
#define MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_ARGS_H_

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness_data.h"

namespace harness {

constexpr const char* kUsage = R"(usage: roi_warp_harness [options]

Checks the RoI-warp CUDA kernels (forward with fused max pool, feature
gradient in atomic and deterministic modes, box gradient) against the CPU
implementation on random inputs, then times them on the benchmark workloads.
Exit status: 0 all checks passed, 1 a check failed, 2 bad arguments,
3 no CUDA device (use --cpu-only), 4 CUDA error.

options:
  --workloads LIST   comma-separated: vgg16, coco, edge (the small edge
                     cases), all, or single edge cases by name
                     (default: all; with --cpu-only: edge)
  --iters N          timed iterations per measurement (default 50)
  --warmup N         untimed iterations first (default 5)
  --no-timing        correctness checks only
  --seed N           random seed (default 1)
  --threads N        host threads of the CPU reference (default: all cores)
  --dtype NAME       element type: float32 (default), float16, bfloat16; the
                     CPU reference runs in the same type (float accumulation)
  --channels N       override the channel count of every chosen workload
                     (same boxes; e.g. the benchmark geometry with few
                     channels, to count the emulation's atomics quickly)
  --force-int64      run the kernels with 64-bit indexing
  --force-scalar     one channel per vector (no float4) even where C % 4 == 0
  --naive            also check the CPU reference against the naive
                     double-precision evaluation of docs/design.md 4
  --cpu-only         no GPU: only check the CPU reference against the naive one
  --peak-bandwidth-tbs X   DRAM bandwidth for the forward bound (default
                     4.3: device-to-device copy measured on the H200)
  --json PATH        also write the results as JSON (- for stdout)
  --print-boxes NAME N     print the first N boxes of workload NAME and exit
  --help             this text
)";

struct Args {
  std::vector<Workload> workloads;
  int iters = 50;
  int warmup = 5;
  bool timing = true;
  uint64_t seed = 1;
  int threads = 1;
  bool force_int64 = false;
  bool force_scalar = false;
  bool naive = false;
  bool cpu_only = false;
  double peak_tbs = 4.3;
  int64_t channels = -1;  // --channels: override (-1 = the workloads' own)
  std::string dtype = "float32";
  std::string json_path;
  std::string print_boxes;  // workload name
  int64_t print_count = 0;
};

[[noreturn]] inline void UsageError(const std::string& message) {
  std::fprintf(stderr, "roi_warp_harness: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
}

inline int64_t ParseInt(const std::string& flag, const std::string& text, int64_t lo, int64_t hi) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
    UsageError(flag + " needs an integer in [" + std::to_string(lo) + ", " +
               std::to_string(hi) + "], got '" + text + "'");
  }
  return v;
}

inline double ParsePositive(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v <= 0) {
    UsageError(flag + " needs a positive number, got '" + text + "'");
  }
  return v;
}

inline std::vector<Workload> ParseWorkloads(const std::string& list) {
  std::vector<Workload> out;
  std::stringstream ss(list);
  std::string name;
  while (std::getline(ss, name, ',')) {
    if (name == "vgg16" || name == "all") out.push_back(Vgg16Workload());
    if (name == "coco" || name == "all") out.push_back(CocoWorkload());
    if (name == "edge" || name == "all") {
      for (const auto& w : EdgeWorkloads()) out.push_back(w);
    }
    if (name != "vgg16" && name != "coco" && name != "edge" && name != "all") {
      bool found = false;  // a single edge case by name
      for (const auto& w : EdgeWorkloads()) {
        if (w.name == name) {
          out.push_back(w);
          found = true;
        }
      }
      if (!found) {
        UsageError("unknown workload '" + name + "' (known: vgg16, coco, edge, all, " +
                   "or one edge case: edge_pool_oddc, edge_mid_pooled, ...)");
      }
    }
  }
  if (out.empty()) UsageError("--workloads is empty");
  return out;
}

inline Workload FindWorkload(const std::string& name) {
  for (const auto& w : ParseWorkloads("all")) {
    if (w.name == name) return w;
  }
  UsageError("unknown workload '" + name + "'");
}

inline Args ParseArgs(int argc, char** argv) {
  Args a;
  a.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::string workloads;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) UsageError(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::printf("%s", kUsage);
      std::exit(0);
    } else if (flag == "--workloads") {
      workloads = value();
    } else if (flag == "--iters") {
      a.iters = static_cast<int>(ParseInt(flag, value(), 1, 100000));
    } else if (flag == "--warmup") {
      a.warmup = static_cast<int>(ParseInt(flag, value(), 0, 100000));
    } else if (flag == "--no-timing") {
      a.timing = false;
    } else if (flag == "--seed") {
      a.seed = static_cast<uint64_t>(ParseInt(flag, value(), 0, INT64_MAX));
    } else if (flag == "--threads") {
      a.threads = static_cast<int>(ParseInt(flag, value(), 1, 1024));
    } else if (flag == "--dtype") {
      a.dtype = value();
      if (a.dtype != "float32" && a.dtype != "float16" && a.dtype != "bfloat16") {
        UsageError("--dtype must be float32, float16 or bfloat16, got '" + a.dtype + "'");
      }
    } else if (flag == "--channels") {
      a.channels = ParseInt(flag, value(), 0, 1 << 20);
    } else if (flag == "--force-int64") {
      a.force_int64 = true;
    } else if (flag == "--force-scalar") {
      a.force_scalar = true;
    } else if (flag == "--naive") {
      a.naive = true;
    } else if (flag == "--cpu-only") {
      a.cpu_only = true;
    } else if (flag == "--peak-bandwidth-tbs") {
      a.peak_tbs = ParsePositive(flag, value());
    } else if (flag == "--json") {
      a.json_path = value();
    } else if (flag == "--print-boxes") {
      a.print_boxes = value();
      a.print_count = ParseInt(flag, value(), 0, INT64_MAX);
      FindWorkload(a.print_boxes);  // validates the name
    } else {
      UsageError("unknown option '" + flag + "'");
    }
  }
  if (workloads.empty()) workloads = a.cpu_only ? "edge" : "all";
  a.workloads = ParseWorkloads(workloads);
  if (a.channels >= 0) {
    for (auto& w : a.workloads) {
      w.dims.channels = a.channels;
      w.name += "_c" + std::to_string(a.channels);
      w.timed = false;  // not the benchmark workload any more
    }
  }
  return a;
}

}  // namespace harness

#endif  // MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_ARGS_H_
