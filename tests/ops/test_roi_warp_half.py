# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The 16-bit element types of the RoI-warp CUDA kernels (roi_warp_half.h).

Their host conversions (what the harness's CPU reference and the CPU
emulation use; the device uses the hardware cvt instructions) must round
exactly like NumPy's float16 and TensorFlow's bfloat16: round to nearest
even, subnormals, overflow to infinity, NaN kept NaN.  Built with the host
compiler (a few seconds).
"""

import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf

# Trains, compiles or starts subprocesses: `make test-fast` skips it.
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PROGRAM = r'''
#include <cstdio>
#include <cstdint>
#include <vector>
#include "roi_warp_half.h"
using namespace mnc_tf::roi_warp;
// stdin: n float32 values; stdout: n half bits, n bfloat16 bits, then the
// float32 of all 65536 half and bfloat16 bit patterns.
int main() {
  std::vector<float> v;
  float f;
  while (std::fread(&f, 4, 1, stdin) == 1) v.push_back(f);
  for (float x : v) { uint16_t h = Half(x).bits; std::fwrite(&h, 2, 1, stdout); }
  for (float x : v) { uint16_t b = BFloat16(x).bits; std::fwrite(&b, 2, 1, stdout); }
  for (uint32_t i = 0; i < 65536; ++i) {
    Half h; h.bits = static_cast<uint16_t>(i); float x = static_cast<float>(h);
    std::fwrite(&x, 4, 1, stdout);
  }
  for (uint32_t i = 0; i < 65536; ++i) {
    BFloat16 b; b.bits = static_cast<uint16_t>(i); float x = static_cast<float>(b);
    std::fwrite(&x, 4, 1, stdout);
  }
}
'''


@pytest.fixture(scope='module')
def converter(tmp_path_factory):
  cxx = os.environ.get('CXX', 'g++')
  if shutil.which(cxx) is None:
    pytest.skip('a C++ compiler is needed')
  build = tmp_path_factory.mktemp('half')
  src, exe = build / 'half.cc', build / 'half'
  src.write_text(_PROGRAM)
  subprocess.run([cxx, '-O1', '-std=c++17', '-I',
                  os.path.join(ROOT, 'custom_ops', 'roi_warp'), str(src), '-o',
                  str(exe)], check=True, capture_output=True, text=True)
  return str(exe)


def _values():
  rng = np.random.default_rng(0)
  bits = rng.integers(0, 2**32, size=200000, dtype=np.uint64).astype(np.uint32)
  scaled = rng.standard_normal(200000) * 10.0**rng.uniform(-9, 5, 200000)
  special = [65504, 65519.996, 65520, 65536, 6.1035156e-05, 6.0975552e-05,
             5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 1e-10, -0.0, 0.0,
             np.inf, -np.inf, np.nan, 1.0, 1.0009766, 1.00048828125,
             1.00146484375, 3.3895314e38]
  return np.concatenate([bits.view(np.float32), scaled.astype(np.float32),
                         np.array(special, np.float32)])


def test_conversions_match_numpy_and_tensorflow(converter):
  values = _values()
  n = len(values)
  out = subprocess.run([converter], input=values.tobytes(), check=True,
                       capture_output=True).stdout
  half = np.frombuffer(out[:2 * n], np.uint16)
  bf16 = np.frombuffer(out[2 * n:4 * n], np.uint16)
  half_to_float = np.frombuffer(out[4 * n:4 * n + 4 * 65536], np.float32)
  bf16_to_float = np.frombuffer(out[4 * n + 4 * 65536:], np.float32)
  nan = np.isnan(values)
  with np.errstate(over='ignore'):
    want_half = values.astype(np.float16).view(np.uint16)
  np.testing.assert_array_equal(half[~nan], want_half[~nan])
  assert np.all(np.isnan(half[nan].view(np.float16)))
  want_bf16 = tf.cast(tf.constant(values), tf.bfloat16).numpy().view(np.uint16)
  np.testing.assert_array_equal(bf16[~nan], want_bf16[~nan])
  assert np.all(np.isnan(tf.bitcast(tf.constant(bf16[nan]), tf.bfloat16)
                         .numpy().astype(np.float32)))
  patterns = np.arange(65536, dtype=np.uint32).astype(np.uint16)
  want = patterns.view(np.float16).astype(np.float32)
  finite = ~np.isnan(want)
  np.testing.assert_array_equal(half_to_float[finite].view(np.uint32),
                                want[finite].view(np.uint32))
  assert np.all(np.isnan(half_to_float[~finite]))
  want_b = (patterns.astype(np.uint32) << 16).view(np.float32)
  finite_b = ~np.isnan(want_b)
  np.testing.assert_array_equal(bf16_to_float[finite_b].view(np.uint32),
                                want_b[finite_b].view(np.uint32))
