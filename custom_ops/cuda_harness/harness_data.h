// Workloads and random inputs of the RoI-warp CUDA harness.
//
// The generator (SplitMix64) and the box recipe are mirrored exactly by
// bench_torchvision.py, so both programs time the same boxes: for a workload
// with map H x W and spatial scale s (image (H/s) x (W/s) pixels), box after
// box: centre cy = U * img_h, cx = U * img_w; sides h, w log-uniform between
// one feature pixel (1/s) and the image side; clipped to the image.  Features
// and the incoming gradient are uniform in [-1, 1), drawn after the boxes.
#ifndef MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_DATA_H_
#define MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_DATA_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "roi_warp_cpu.h"

namespace harness {

using mnc_tf::roi_warp::Dims;

struct SplitMix64 {
  uint64_t state;
  explicit SplitMix64(uint64_t seed) : state(seed) {}
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
};

struct Workload {
  std::string name;
  Dims dims;
  bool timed = false;          // a benchmark workload (else correctness only)
  bool special_boxes = false;  // first boxes are edge cases (see MakeBoxes)
};

inline Dims MakeDims(int64_t b, int64_t h, int64_t w, int64_t c, int64_t k,
                     int s, int p, double scale) {
  Dims d;
  d.batch = b;
  d.height = h;
  d.width = w;
  d.channels = c;
  d.num_boxes = k;
  d.output_size = s;
  d.pooled_size = p;
  d.spatial_scale = scale;
  return d;
}

// The two benchmark workloads (VGG-16 and COCO, docs/benchmarks.md).
inline Workload Vgg16Workload() {
  return {"vgg16", MakeDims(1, 38, 63, 512, 300, 28, 14, 1.0 / 16), true, false};
}
inline Workload CocoWorkload() {
  return {"coco", MakeDims(2, 50, 84, 1024, 512, 14, 0, 1.0 / 16), true, false};
}

// Small correctness cases covering the edges: channel counts that take the
// scalar path (C % 4 != 0) and the float4 path, more than one channel group
// (256 channels) in each, global pooling, 1x1 and empty maps, no boxes, no
// channels, an empty batch, heavy overlap on one channel, and a mid-size map
// with many tiles per box.
inline std::vector<Workload> EdgeWorkloads() {
  return {
      {"edge_pool_oddc", MakeDims(2, 7, 9, 37, 11, 6, 3, 0.25), false, true},
      {"edge_pool_vec4", MakeDims(2, 9, 8, 40, 12, 6, 3, 0.25), false, true},
      {"edge_global_pool", MakeDims(1, 5, 4, 3, 9, 7, 1, 0.5), false, true},
      {"edge_1x1_map_c261", MakeDims(3, 1, 1, 261, 9, 4, 0, 1.0), false, true},
      {"edge_c264", MakeDims(1, 12, 10, 264, 9, 5, 0, 1.0 / 16), false, true},
      {"edge_overlap_c1", MakeDims(1, 9, 11, 1, 40, 8, 4, 1.0), false, true},
      {"edge_mid_pooled", MakeDims(2, 20, 24, 256, 64, 28, 14, 1.0 / 16), false, true},
      {"edge_no_boxes", MakeDims(1, 16, 16, 64, 0, 4, 2, 1.0 / 16), false, true},
      {"edge_no_channels", MakeDims(1, 4, 4, 0, 3, 4, 2, 0.25), false, true},
      {"edge_empty_map", MakeDims(2, 0, 5, 8, 3, 4, 0, 0.25), false, true},
      {"edge_empty_batch", MakeDims(0, 3, 3, 4, 2, 2, 0, 1.0), false, true},
  };
}

inline std::vector<float> UniformValues(int64_t n, SplitMix64& rng) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(2.0 * rng.Uniform() - 1.0);
  return v;
}

// Boxes [B, K, 4] (ymin, xmin, ymax, xmax) in image pixels.  With `special`,
// the first boxes of each image are: a NaN and an inf coordinate (all-zero
// output), an inverted box, a point box (exact argmax ties), a box far
// outside, one partly outside, one whose samples land exactly on pixel
// centres (kink of the bilinear kernel) and one smaller than a pixel.
inline std::vector<float> MakeBoxes(const Dims& d, SplitMix64& rng, bool special) {
  const double s = d.spatial_scale;
  const double img_h = d.height / s, img_w = d.width / s;
  const double min_side = 1.0 / s;
  const double log_min = std::log(min_side);
  const double log_h = std::log(std::max(img_h, min_side));
  const double log_w = std::log(std::max(img_w, min_side));
  std::vector<float> boxes(static_cast<size_t>(d.batch * d.num_boxes * 4));
  for (int64_t b = 0; b < d.batch; ++b) {
    for (int64_t k = 0; k < d.num_boxes; ++k) {
      const double cy = rng.Uniform() * img_h;
      const double cx = rng.Uniform() * img_w;
      const double h = std::exp(log_min + rng.Uniform() * (log_h - log_min));
      const double w = std::exp(log_min + rng.Uniform() * (log_w - log_min));
      double box[4] = {std::max(0.0, cy - h / 2), std::max(0.0, cx - w / 2),
                       std::min(img_h, cy + h / 2), std::min(img_w, cx + w / 2)};
      if (special) {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        const double inf = std::numeric_limits<double>::infinity();
        const double grid = d.output_size / s;  // samples at integer positions
        switch (k) {
          case 0: box[0] = nan; break;
          case 1: box[3] = inf; break;
          case 2: std::swap(box[0], box[2]); std::swap(box[1], box[3]); break;
          case 3: box[2] = box[0]; box[3] = box[1]; break;
          case 4: box[0] = box[1] = -1000 / s; box[2] = box[3] = -500 / s; break;
          case 5: box[0] = -0.3 * img_h; box[1] = -0.2 * img_w;
                  box[2] = 0.5 * img_h; box[3] = 1.4 * img_w; break;
          case 6: box[0] = box[1] = 0; box[2] = box[3] = grid; break;
          case 7: box[2] = box[0] + 0.3 * min_side; box[3] = box[1] + 0.3 * min_side; break;
          default: break;
        }
      }
      float* out = boxes.data() + (b * d.num_boxes + k) * 4;
      for (int q = 0; q < 4; ++q) out[q] = static_cast<float>(box[q]);
    }
  }
  return boxes;
}

struct Inputs {
  std::vector<float> features;  // [B, H, W, C]
  std::vector<float> boxes;     // [B, K, 4]
  std::vector<float> grad;      // [B, K, n, n, C]
};

inline Inputs MakeInputs(const Workload& w, uint64_t seed) {
  SplitMix64 rng(seed);
  const Dims& d = w.dims;
  Inputs in;
  in.boxes = MakeBoxes(d, rng, w.special_boxes);
  in.features = UniformValues(d.batch * d.height * d.width * d.channels, rng);
  in.grad = UniformValues(d.output_elements(), rng);
  return in;
}

}  // namespace harness

#endif  // MNC_TF_CUSTOM_OPS_CUDA_HARNESS_HARNESS_DATA_H_
