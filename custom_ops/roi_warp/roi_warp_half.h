// 16-bit storage types of the RoI-warp CUDA kernels (TensorFlow-free): IEEE
// binary16 (`Half`) and bfloat16 (`BFloat16`), each a plain 16-bit word with
// round-to-nearest-even conversion from float and exact conversion to float.
// The kernels only load and store them; all arithmetic is float.
//
// Host and device compute the same bits: the device converts half with the
// hardware cvt instructions, the host with the software routines below
// (IEEE round to nearest even, like cvt.rn.f16.f32); bfloat16 is bit
// arithmetic on both.  The TensorFlow functors reinterpret Eigen::half /
// Eigen::bfloat16 buffers as these (same size and bit layout); the standalone
// harness uses them on the host as the CPU reference's element type.
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_HALF_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_HALF_H_

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MNC_HALF_HD __host__ __device__ __forceinline__
#else
#define MNC_HALF_HD inline
#endif

namespace mnc_tf {
namespace roi_warp {

MNC_HALF_HD float BitsToFloat32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
#endif
}

MNC_HALF_HD uint32_t Float32ToBits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
#endif
}

// binary16 -> float (exact).
MNC_HALF_HD float HalfBitsToFloat(uint16_t h) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return BitsToFloat32(sign | 0x7f800000u | (mant << 13));  // inf / nan
  if (exp != 0) return BitsToFloat32(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return BitsToFloat32(sign);  // +-0
  int e = -1;  // subnormal: normalise
  do {
    ++e;
    mant <<= 1;
  } while ((mant & 0x400u) == 0);
  return BitsToFloat32(sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3ffu) << 13));
#endif
}

// float -> binary16, round to nearest even (overflow to inf, NaN kept NaN).
MNC_HALF_HD uint16_t FloatToHalfBits(float f) {
#if defined(__CUDA_ARCH__)
  uint16_t h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
#else
  const uint32_t u = Float32ToBits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u | ((abs >> 13) & 0x3ffu) : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    if (abs < 0x33000000u) return sign;  // < 2^-25: rounds to zero
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exp;  // 14 .. 24
    const uint32_t half_mant = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t mid = 1u << (shift - 1u);
    const uint32_t round = (rem > mid || (rem == mid && (half_mant & 1u))) ? 1u : 0u;
    return static_cast<uint16_t>(sign | (half_mant + round));
  }
  const uint32_t rebased = abs - 0x38000000u;  // exponent 127 -> 15
  const uint32_t half = rebased >> 13;
  const uint32_t rem = rebased & 0x1fffu;
  const uint32_t round = (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ? 1u : 0u;
  return static_cast<uint16_t>(sign | (half + round));
#endif
}

// bfloat16 -> float (exact) and float -> bfloat16 (round to nearest even).
MNC_HALF_HD float BFloat16BitsToFloat(uint16_t b) {
  return BitsToFloat32(static_cast<uint32_t>(b) << 16);
}
MNC_HALF_HD uint16_t FloatToBFloat16Bits(float f) {
  const uint32_t u = Float32ToBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet nan
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

struct alignas(2) Half {
  uint16_t bits;
  Half() = default;
  MNC_HALF_HD explicit Half(float f) : bits(FloatToHalfBits(f)) {}
  MNC_HALF_HD explicit operator float() const { return HalfBitsToFloat(bits); }
};

struct alignas(2) BFloat16 {
  uint16_t bits;
  BFloat16() = default;
  MNC_HALF_HD explicit BFloat16(float f) : bits(FloatToBFloat16Bits(f)) {}
  MNC_HALF_HD explicit operator float() const { return BFloat16BitsToFloat(bits); }
};

// Element <-> float for the kernels' element types.
MNC_HALF_HD float ToFloat(float v) { return v; }
MNC_HALF_HD float ToFloat(Half v) { return HalfBitsToFloat(v.bits); }
MNC_HALF_HD float ToFloat(BFloat16 v) { return BFloat16BitsToFloat(v.bits); }

template <typename T>
struct FromFloat {
  MNC_HALF_HD static T Convert(float v) { return T(v); }
};
template <>
struct FromFloat<float> {
  MNC_HALF_HD static float Convert(float v) { return v; }
};

}  // namespace roi_warp
}  // namespace mnc_tf

#undef MNC_HALF_HD

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_HALF_H_
