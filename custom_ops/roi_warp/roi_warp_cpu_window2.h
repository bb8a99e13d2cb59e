// Single-pass CPU kernels for one pooled cell whose window is 2 x 2 samples
// (output_size = 2 * pooled_size: MNC's 28 -> 14), used by ForwardCpu and
// BackwardCpu in roi_warp_cpu.h when the cell's taps are "regular" (below).
//
// The four samples of such a window read at most 3 x 3 distinct map pixels:
// along each axis the two samples' taps are (i, i + 1) and (i + o, i + o + 1)
// with o in {0, 1}.  Each kernel is instantiated for the four (oy, ox)
// geometries, so the pixels of a channel are loaded once into registers
// (4, 6 or 9 loads instead of 16), and
//   * the forward computes the four samples, their maximum and its window
//     index in one pass over the channels (no running-maximum buffers);
//   * the backward reads each channel's argmax once, selects the chosen
//     sample's weights per channel, and does one read-modify-write per
//     distinct pixel (instead of a pass over the channels per sample, four
//     read-modify-writes each, and a pass to find which samples were chosen).
// The forward's arithmetic is that of Bilinear() in roi_warp_cpu.h, so the
// output and argmax are those of the general path; the backward's sums are
// the same terms in another order.
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CPU_WINDOW2_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CPU_WINDOW2_H_

#include <algorithm>
#include <cstdint>

#include "roi_warp_math.h"

#if defined(__GNUC__)
#define MNC_NOINLINE __attribute__((noinline))
#else
#define MNC_NOINLINE
#endif

namespace mnc_tf {
namespace roi_warp {

// Offset o in {0, 1} of the second sample's taps relative to the first's
// along one axis, or -1 if the taps are not regular: each sample must have
// two unclipped taps (i1 == i0 + 1, so both are inside the map) and the two
// samples' first taps must be 0 or 1 pixel apart.  Irregular cells (near or
// beyond the map's border, or samples more than a pixel apart) take the
// general path.
template <typename A>
inline int Window2Offset(const AxisTaps<A>& t0, const AxisTaps<A>& t1) {
  if (t0.i1 != t0.i0 + 1 || t1.i1 != t1.i0 + 1) return -1;
  const int64_t o = t1.i0 - t0.i0;
  return (o == 0 || o == 1) ? static_cast<int>(o) : -1;
}

// Weights of the two samples of a regular axis on its 2 + o pixel slots.
template <typename A>
struct Window2Axis {
  A w[2][3];  // w[d][k]: bilinear weight of sample d on slot k
  A dw[2][3]; // dw[d][k]: kappa' of sample d on slot k

  void Set(const AxisTaps<A>& t0, const AxisTaps<A>& t1, int o) {
    for (int k = 0; k < 3; ++k) w[0][k] = w[1][k] = dw[0][k] = dw[1][k] = A(0);
    w[0][0] = t0.w0;
    w[0][1] = t0.w1;
    dw[0][0] = t0.d0;
    dw[0][1] = t0.d1;
    w[1][o] = t1.w0;
    w[1][o + 1] = t1.w1;
    dw[1][o] = t1.d0;
    dw[1][o + 1] = t1.d1;
  }
};

// Forward of a regular 2 x 2 cell for channels [0, nc).  `base` points at
// pixel (row of the first y tap, column of the first x tap), channel 0;
// rows are `row_stride` elements apart, columns `C`.  Window index
// s = di * 2 + dj; the first maximum wins, as in ForwardCell.
template <int OY, int OX, typename T, typename A, typename Idx>
inline void ForwardWindow2(const T* __restrict__ base, int64_t row_stride,
                           int64_t C, const Window2Axis<A>& ay,
                           const Window2Axis<A>& ax, int64_t nc,
                           T* __restrict__ out, Idx* __restrict__ arg) {
  // Bilinear weights of sample (di, dj), as SampleTaps::Set computes them.
  const A w00[4] = {ay.w[0][0] * ax.w[0][0], ay.w[0][0] * ax.w[1][OX],
                    ay.w[1][OY] * ax.w[0][0], ay.w[1][OY] * ax.w[1][OX]};
  const A w01[4] = {ay.w[0][0] * ax.w[0][1], ay.w[0][0] * ax.w[1][OX + 1],
                    ay.w[1][OY] * ax.w[0][1], ay.w[1][OY] * ax.w[1][OX + 1]};
  const A w10[4] = {ay.w[0][1] * ax.w[0][0], ay.w[0][1] * ax.w[1][OX],
                    ay.w[1][OY + 1] * ax.w[0][0], ay.w[1][OY + 1] * ax.w[1][OX]};
  const A w11[4] = {ay.w[0][1] * ax.w[0][1], ay.w[0][1] * ax.w[1][OX + 1],
                    ay.w[1][OY + 1] * ax.w[0][1],
                    ay.w[1][OY + 1] * ax.w[1][OX + 1]};
  const T* r0 = base;
  const T* r1 = base + row_stride;
  const T* r2 = base + (OY ? 2 * row_stride : row_stride);  // row 2 iff OY
  MNC_SIMD
  for (int64_t c = 0; c < nc; ++c) {
    const A p00 = static_cast<A>(r0[c]), p01 = static_cast<A>(r0[C + c]);
    const A p10 = static_cast<A>(r1[c]), p11 = static_cast<A>(r1[C + c]);
    const A p02 = OX ? static_cast<A>(r0[2 * C + c]) : A(0);
    const A p12 = OX ? static_cast<A>(r1[2 * C + c]) : A(0);
    const A p20 = OY ? static_cast<A>(r2[c]) : A(0);
    const A p21 = OY ? static_cast<A>(r2[C + c]) : A(0);
    const A p22 = (OY && OX) ? static_cast<A>(r2[2 * C + c]) : A(0);
    // Sample (di, dj) reads rows di*OY, di*OY + 1 and columns dj*OX, dj*OX + 1.
    const A q00 = OX ? p01 : p00, q01 = OX ? p02 : p01;  // row 0, dj = 1
    const A q10 = OX ? p11 : p10, q11 = OX ? p12 : p11;  // row 1, dj = 1
    const A s0y0c0 = OY ? p10 : p00, s0y0c1 = OY ? p11 : p01;  // di = 1
    const A s0y1c0 = OY ? p20 : p10, s0y1c1 = OY ? p21 : p11;
    const A s1y0c0 = OY ? q10 : q00, s1y0c1 = OY ? q11 : q01;
    const A s1y1c0 = OY ? (OX ? p21 : p20) : q10;
    const A s1y1c1 = OY ? (OX ? p22 : p21) : q11;
    const A v0 = w00[0] * p00 + w01[0] * p01 + w10[0] * p10 + w11[0] * p11;
    const A v1 = w00[1] * q00 + w01[1] * q01 + w10[1] * q10 + w11[1] * q11;
    const A v2 = w00[2] * s0y0c0 + w01[2] * s0y0c1 + w10[2] * s0y1c0 +
                 w11[2] * s0y1c1;
    const A v3 = w00[3] * s1y0c0 + w01[3] * s1y0c1 + w10[3] * s1y1c0 +
                 w11[3] * s1y1c1;
    // The index is kept in A: GCC does not vectorize int32 selects on float
    // compares here (measured: 4x slower).
    A best = v0, index = A(0);
    index = v1 > best ? A(1) : index;
    best = v1 > best ? v1 : best;
    index = v2 > best ? A(2) : index;
    best = v2 > best ? v2 : best;
    index = v3 > best ? A(3) : index;
    best = v3 > best ? v3 : best;
    out[c] = static_cast<T>(best);
    arg[c] = static_cast<Idx>(static_cast<int32_t>(index));
  }
}

// Channels per pass of BackwardWindow2's loops (its per-channel buffers).
constexpr int64_t kWindow2Block = 256;

// One channel block of BackwardWindow2: the feature gradient, and each
// channel's g * d out / d pos_y of its chosen sample in t_out[c] (di = 0) or
// t_out[B + c] (di = 1), 0 in the other, and d / d pos_x in t_out[2B + c]
// (dj = 0) or t_out[3B + c] (dj = 1); B = kWindow2Block.
// Rows 0..NY-1 of the features (f0, f1, f2) and of the accumulators (g0, g1,
// g2) are distinct map rows (row 2 is only read when OY == 1); columns are
// C elements apart.  No reduction in this loop: with one GCC 12 did not
// vectorize it when inlined (measured: 4-5x slower).
template <int OY, int OX, typename T, typename A, typename Idx>
MNC_NOINLINE void BackwardWindow2Block(
    const T* __restrict__ grad, const Idx* __restrict__ arg,
    const T* __restrict__ f0, const T* __restrict__ f1,
    const T* __restrict__ f2, A* __restrict__ g0, A* __restrict__ g1,
    A* __restrict__ g2, int64_t C, const Window2Axis<A>& ay,
    const Window2Axis<A>& ax, int64_t nc, A* __restrict__ t_out) {
  // Slot weights as scalars (arrays here are loaded inside the loop and the
  // selects become control flow: not vectorized).
  const A wy00 = ay.w[0][0], wy01 = ay.w[0][1], wy02 = ay.w[0][2];
  const A wy10 = ay.w[1][0], wy11 = ay.w[1][1], wy12 = ay.w[1][2];
  const A dy00 = ay.dw[0][0], dy01 = ay.dw[0][1], dy02 = ay.dw[0][2];
  const A dy10 = ay.dw[1][0], dy11 = ay.dw[1][1], dy12 = ay.dw[1][2];
  const A wx00 = ax.w[0][0], wx01 = ax.w[0][1], wx02 = ax.w[0][2];
  const A wx10 = ax.w[1][0], wx11 = ax.w[1][1], wx12 = ax.w[1][2];
  const A dx00 = ax.dw[0][0], dx01 = ax.dw[0][1], dx02 = ax.dw[0][2];
  const A dx10 = ax.dw[1][0], dx11 = ax.dw[1][1], dx12 = ax.dw[1][2];
  MNC_SIMD
  for (int64_t c = 0; c < nc; ++c) {
    // Window index a = 2 * di + dj; di = (a >= 2), dj = (a & 1), written
    // inline in each select (GCC 12 does not vectorize selects on named
    // bool variables here).
    const Idx a = arg[c];
    const A gc = static_cast<A>(grad[c]);
    // The chosen sample's weights on the row slots (ry, rdy) and column
    // slots (rx, rdx).
    const A ry0 = (a >= 2) ? wy10 : wy00, ry1 = (a >= 2) ? wy11 : wy01;
    const A ry2 = OY ? ((a >= 2) ? wy12 : wy02) : A(0);
    const A rdy0 = (a >= 2) ? dy10 : dy00, rdy1 = (a >= 2) ? dy11 : dy01;
    const A rdy2 = OY ? ((a >= 2) ? dy12 : dy02) : A(0);
    const A rx0 = (a & 1) ? wx10 : wx00, rx1 = (a & 1) ? wx11 : wx01;
    const A rx2 = OX ? ((a & 1) ? wx12 : wx02) : A(0);
    const A rdx0 = (a & 1) ? dx10 : dx00, rdx1 = (a & 1) ? dx11 : dx01;
    const A rdx2 = OX ? ((a & 1) ? dx12 : dx02) : A(0);
    // Row k interpolated along x (h) and its x derivative (hd).
    const A v00 = static_cast<A>(f0[c]), v01 = static_cast<A>(f0[C + c]);
    const A v10 = static_cast<A>(f1[c]), v11 = static_cast<A>(f1[C + c]);
    A h0 = rx0 * v00 + rx1 * v01, hd0 = rdx0 * v00 + rdx1 * v01;
    A h1 = rx0 * v10 + rx1 * v11, hd1 = rdx0 * v10 + rdx1 * v11;
    A h2 = 0, hd2 = 0;
    if (OX) {
      const A v02 = static_cast<A>(f0[2 * C + c]);
      const A v12 = static_cast<A>(f1[2 * C + c]);
      h0 += rx2 * v02;
      hd0 += rdx2 * v02;
      h1 += rx2 * v12;
      hd1 += rdx2 * v12;
    }
    if (OY) {
      const A v20 = static_cast<A>(f2[c]), v21 = static_cast<A>(f2[C + c]);
      h2 = rx0 * v20 + rx1 * v21;
      hd2 = rdx0 * v20 + rdx1 * v21;
      if (OX) {
        const A v22 = static_cast<A>(f2[2 * C + c]);
        h2 += rx2 * v22;
        hd2 += rdx2 * v22;
      }
    }
    // g * d out / d pos_y, x of the chosen sample, by di and by dj.
    const A ty = gc * (rdy0 * h0 + rdy1 * h1 + rdy2 * h2);
    const A tx = gc * (ry0 * hd0 + ry1 * hd1 + ry2 * hd2);
    t_out[c] = (a >= 2) ? A(0) : ty;
    t_out[kWindow2Block + c] = (a >= 2) ? ty : A(0);
    t_out[2 * kWindow2Block + c] = (a & 1) ? A(0) : tx;
    t_out[3 * kWindow2Block + c] = (a & 1) ? tx : A(0);
    // Feature gradient: one read-modify-write per distinct pixel.
    const A gy0 = gc * ry0, gy1 = gc * ry1, gy2 = gc * ry2;
    g0[c] += gy0 * rx0;
    g0[C + c] += gy0 * rx1;
    g1[c] += gy1 * rx0;
    g1[C + c] += gy1 * rx1;
    if (OX) {
      g0[2 * C + c] += gy0 * rx2;
      g1[2 * C + c] += gy1 * rx2;
    }
    if (OY) {
      g2[c] += gy2 * rx0;
      g2[C + c] += gy2 * rx1;
      if (OX) g2[2 * C + c] += gy2 * rx2;
    }
  }
}

// s[r] += sum_c t[r][c] for r < 4, as eight lane-wise partial sums (plain
// vector adds in a fixed order), then the lanes in order.  (An indexed
// scalar sum was a third of the backward; an omp simd reduction, or selects
// on the argmax in this loop, ran at scalar speed with GCC 12.)
template <typename A>
MNC_NOINLINE void Window2Sums(const A* __restrict__ t, int64_t stride,
                              int64_t m, A s[4]) {
  constexpr int kLanes = 8;
  A lane[4][kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= m; c += kLanes) {
    for (int r = 0; r < 4; ++r) {
      for (int l = 0; l < kLanes; ++l) lane[r][l] += t[r * stride + c + l];
    }
  }
  for (int l = 0; c < m; ++c, ++l) {
    for (int r = 0; r < 4; ++r) lane[r][l] += t[r * stride + c];
  }
  for (int r = 0; r < 4; ++r) {
    for (int l = 0; l < kLanes; ++l) s[r] += lane[r][l];
  }
}

// Backward of a regular 2 x 2 cell for channels [0, nc): adds each channel's
// gradient g (routed to the sample its argmax names, an index in [0, 4)
// checked by the caller) into the (2 + OY) x (2 + OX) pixels of `gbase`
// (laid out as `base`), and accumulates sum_c g * d out / d pos of the
// samples with di = 0 / 1 into sy[0] / sy[1] and with dj = 0 / 1 into
// sx[0] / sx[1] (in channel order, per block).
template <int OY, int OX, typename T, typename A, typename Idx>
inline void BackwardWindow2(const T* grad, const Idx* arg, const T* base,
                            A* gbase, int64_t row_stride, int64_t C,
                            const Window2Axis<A>& ay, const Window2Axis<A>& ax,
                            int64_t nc, A sy[2], A sx[2]) {
  // Row 2 only exists (and is only formed) when OY == 1.
  const int64_t r2 = (OY ? 2 : 1) * row_stride;
  A t[4 * kWindow2Block];
  for (int64_t c0 = 0; c0 < nc; c0 += kWindow2Block) {
    const int64_t m = std::min(kWindow2Block, nc - c0);
    BackwardWindow2Block<OY, OX>(grad + c0, arg + c0, base + c0,
                                 base + row_stride + c0, base + r2 + c0,
                                 gbase + c0, gbase + row_stride + c0,
                                 gbase + r2 + c0, C, ay, ax, m, t);
    A sums[4] = {sy[0], sy[1], sx[0], sx[1]};
    Window2Sums(t, kWindow2Block, m, sums);
    sy[0] = sums[0];
    sy[1] = sums[1];
    sx[0] = sums[2];
    sx[1] = sums[3];
  }
}

}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_CPU_WINDOW2_H_
