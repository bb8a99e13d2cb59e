// Results of the RoI-warp CUDA harness: the per-workload record, the
// printed tables and the --json document.
#ifndef MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_REPORT_H_
#define MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_REPORT_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "harness_compare.h"
#include "harness_data.h"

namespace harness {

struct Check {
  std::string name;
  bool ok = false;
  double rel_err = NAN;  // NAN for checks without an error value
  std::string detail;
};

struct Timing {
  std::string name;
  double median_ms = 0;
  double min_ms = 0;
  int iters = 0;
};

struct WorkloadReport {
  Workload workload;
  std::vector<Check> checks;
  std::vector<Timing> timings;
  double forward_bytes = 0;     // compulsory DRAM traffic of the forward
  double forward_bound_ms = 0;  // forward_bytes / peak bandwidth
  double tolerance = kRelTolerance;  // of the element type (RelTolerance)
  int element_bytes = 4;
  // Float atomic adds of one atomic-mode backward (fed the CPU argmax),
  // counted by the CPU emulation only (-1: not counted): instructions and
  // float elements updated.
  int64_t atomic_ops = -1;
  int64_t atomic_elements = -1;

  void Add(const std::string& name, const Diff& d, const std::string& detail = "") {
    checks.push_back({name, d.Ok(tolerance), d.Rel(), detail});
  }
  void Add(const std::string& name, bool ok, const std::string& detail = "") {
    checks.push_back({name, ok, NAN, detail});
  }
  bool Ok() const {
    for (const auto& c : checks) {
      if (!c.ok) return false;
    }
    return true;
  }
};

// Bytes a forward pass must move at least: read features and boxes once,
// write the output (elements of `element_bytes`) and, when pooled, the
// compact argmax (one byte per output element: uint8 window indices).
inline double ForwardBytes(const Dims& d, int element_bytes = 4) {
  const double out = static_cast<double>(d.output_elements());
  return element_bytes * (static_cast<double>(d.batch * d.height * d.width * d.channels) + out) +
         4.0 * static_cast<double>(d.batch * d.num_boxes * 4) +  // float boxes
         (d.pooled_size > 0 ? out : 0.0);
}

inline std::string DimsString(const Dims& d) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "B=%lld H=%lld W=%lld C=%lld K=%lld S=%d P=%d s=%g",
                static_cast<long long>(d.batch), static_cast<long long>(d.height),
                static_cast<long long>(d.width), static_cast<long long>(d.channels),
                static_cast<long long>(d.num_boxes), d.output_size, d.pooled_size,
                d.spatial_scale);
  return buf;
}

inline void PrintChecks(const WorkloadReport& r) {
  std::printf("\n== %s (%s)\n", r.workload.name.c_str(), DimsString(r.workload.dims).c_str());
  for (const auto& c : r.checks) {
    char err[32] = "";
    if (!std::isnan(c.rel_err)) std::snprintf(err, sizeof(err), "%.2e", c.rel_err);
    std::printf("  %-56s %-10s %-5s %s\n", c.name.c_str(), err, c.ok ? "ok" : "FAIL",
                c.detail.c_str());
  }
}

inline void PrintTimings(const std::vector<WorkloadReport>& reports, double peak_tbs) {
  bool any = false;
  for (const auto& r : reports) any |= !r.timings.empty();
  if (!any) return;
  std::printf("\nTimings (median of iterations, ms; bound = forward bytes / %.2f TB/s)\n",
              peak_tbs);
  for (const auto& r : reports) {
    if (r.timings.empty()) continue;
    std::printf("  %s: forward bound %.4f ms (%.1f MB)\n", r.workload.name.c_str(),
                r.forward_bound_ms, r.forward_bytes / 1e6);
    for (const auto& t : r.timings) {
      std::printf("    %-28s median %9.4f  min %9.4f", t.name.c_str(), t.median_ms, t.min_ms);
      if (t.name == "forward" && r.forward_bound_ms > 0) {
        std::printf("  (%.2fx bound, %.0f GB/s)", t.median_ms / r.forward_bound_ms,
                    r.forward_bytes / (t.median_ms * 1e-3) / 1e9);
      }
      std::printf("\n");
    }
  }
}

inline std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') o += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    o += ch;
  }
  return o;
}

inline std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

// `meta`: extra top-level string fields (device, mode, ...).
inline std::string ToJson(const std::vector<std::pair<std::string, std::string>>& meta,
                          double peak_tbs, const std::vector<WorkloadReport>& reports) {
  std::string j = "{\n";
  for (const auto& m : meta) {
    j += "  \"" + JsonEscape(m.first) + "\": \"" + JsonEscape(m.second) + "\",\n";
  }
  j += "  \"peak_bandwidth_tbs\": " + JsonNumber(peak_tbs) + ",\n";
  j += "  \"rel_tolerance\": " + JsonNumber(reports.empty() ? kRelTolerance : reports[0].tolerance) + ",\n";
  bool all_ok = true;
  j += "  \"workloads\": [\n";
  for (size_t w = 0; w < reports.size(); ++w) {
    const WorkloadReport& r = reports[w];
    const Dims& d = r.workload.dims;
    all_ok &= r.Ok();
    j += "    {\"name\": \"" + JsonEscape(r.workload.name) + "\", \"dims\": {";
    j += "\"B\": " + std::to_string(d.batch) + ", \"H\": " + std::to_string(d.height) +
         ", \"W\": " + std::to_string(d.width) + ", \"C\": " + std::to_string(d.channels) +
         ", \"K\": " + std::to_string(d.num_boxes) + ", \"S\": " + std::to_string(d.output_size) +
         ", \"P\": " + std::to_string(d.pooled_size) +
         ", \"spatial_scale\": " + JsonNumber(d.spatial_scale) + "},\n";
    j += "     \"ok\": " + std::string(r.Ok() ? "true" : "false") + ",\n";
    if (r.atomic_ops >= 0) {
      const double out = static_cast<double>(std::max<int64_t>(d.output_elements(), 1));
      j += "     \"atomic_ops\": " + std::to_string(r.atomic_ops) +
           ", \"atomic_elements\": " + std::to_string(r.atomic_elements) +
           ", \"atomic_elements_per_output\": " + JsonNumber(r.atomic_elements / out) + ",\n";
    }
    j += "     \"forward_bytes\": " + JsonNumber(r.forward_bytes) +
         ", \"forward_bound_ms\": " + JsonNumber(r.forward_bound_ms) + ",\n";
    j += "     \"checks\": [";
    for (size_t c = 0; c < r.checks.size(); ++c) {
      const Check& ch = r.checks[c];
      j += std::string(c ? ", " : "") + "{\"name\": \"" + JsonEscape(ch.name) +
           "\", \"ok\": " + (ch.ok ? "true" : "false") +
           ", \"rel_err\": " + JsonNumber(ch.rel_err) + ", \"detail\": \"" +
           JsonEscape(ch.detail) + "\"}";
    }
    j += "],\n     \"timings_ms\": {";
    for (size_t t = 0; t < r.timings.size(); ++t) {
      const Timing& tm = r.timings[t];
      j += std::string(t ? ", " : "") + "\"" + JsonEscape(tm.name) + "\": {\"median\": " +
           JsonNumber(tm.median_ms) + ", \"min\": " + JsonNumber(tm.min_ms) +
           ", \"iters\": " + std::to_string(tm.iters) + "}";
    }
    j += "}}" + std::string(w + 1 < reports.size() ? "," : "") + "\n";
  }
  j += "  ],\n  \"all_checks_passed\": " + std::string(all_ok ? "true" : "false") + "\n}\n";
  return j;
}

}  // namespace harness

#endif  // MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_REPORT_H_
