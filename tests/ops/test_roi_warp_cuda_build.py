# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The RoI-warp GPU sources compile with nvcc (compile only; no GPU needed).

Wherever nvcc is found this compiles, in parallel:
  * the TensorFlow GPU functors + kernels (roi_warp_kernels_gpu.cu.cc) against
    the installed TensorFlow's headers with -DGOOGLE_CUDA=1, as
    `build_op.py --cuda` does (one architecture, sm_90, to stay fast), and
  * the standalone harness (`make cuda-harness`: the same kernels for sm_80 and
    sm_90 plus the CPU reference), then runs it: without a GPU it must exit
    with status 3 and say so; with one, its edge-case checks must pass.
    The harness is compiled with `-Xptxas -v`, and the sm_90 forward and
    backward kernels of the 32-bit-index paths must not spill registers
    (the profiled forward once spilled; kernel_stats.py reports
    every variant).
Skipped only when nvcc is absent.
"""

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _find_nvcc():
  home = os.environ.get('CUDA_HOME') or os.environ.get('CUDA_PATH')
  if home and os.path.exists(os.path.join(home, 'bin', 'nvcc')):
    return os.path.join(home, 'bin', 'nvcc')
  return shutil.which('nvcc')


NVCC = _find_nvcc()
pytestmark = [
    pytest.mark.skipif(NVCC is None,
                       reason='nvcc not found (CUDA toolkit absent)'),
    pytest.mark.slow,  # compiles with nvcc
]


def test_gpu_sources_compile_with_nvcc(tmp_path):
  env = dict(os.environ, MNC_TF_CUDA_ARCH='-gencode=arch=compute_90,code=sm_90')
  env['PATH'] = os.path.dirname(NVCC) + os.pathsep + env.get('PATH', '')
  tf_build = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'custom_ops', 'build_op.py'),
       '--cuda-only-compile'], env=env, stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, text=True)
  build = tmp_path / 'harness'
  harness_dir = os.path.join(ROOT, 'custom_ops', 'cuda_harness')
  flags = ('-O3 -std=c++17 -fmad=false -lineinfo -Xcompiler -ffp-contract=off,-pthread,-Wall '
           '-Xptxas -v')  # the Makefile's NVCCFLAGS plus the ptxas report
  harness = subprocess.run(
      ['make', '-s', '-C', harness_dir, f'BUILD={build}', f'NVCC={NVCC}',
       f'NVCCFLAGS={flags}'], env=env, capture_output=True, text=True)
  tf_log, _ = tf_build.communicate(timeout=900)
  assert tf_build.returncode == 0, tf_log[-4000:]
  assert 'CUDA sources compiled' in tf_log
  assert harness.returncode == 0, (harness.stdout + harness.stderr)[-4000:]
  spec = importlib.util.spec_from_file_location(
      'kernel_stats', os.path.join(harness_dir, 'kernel_stats.py'))
  kernel_stats = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(kernel_stats)
  stats = kernel_stats.parse_ptxas(harness.stdout + harness.stderr, 'sm_90')
  main = {kernel_stats.short_name(k): v for k, v in stats.items()
          if any(name in k for name in ('RoiWarpForwardKernel', 'PooledBoxGradKernel',
                                        'RowBoxGradKernel'))}
  int32_paths = {k: v for k, v in main.items()
                 if k.startswith(('RoiWarpForwardKernel<float, uint8, int,',
                                  'PooledBoxGradKernel<float, uint8, int,',
                                  'RowBoxGradKernel<float, int,'))}
  assert len(int32_paths) == 2 + 2 + 4, sorted(main)  # kVec 1/4; modes; kVec x modes
  for name, s in int32_paths.items():
    assert s['spill_stores'] == 0 and s['spill_loads'] == 0, (name, s)
    assert 0 < s['registers'] <= 80, (name, s)

  binary = str(build / 'roi_warp_harness')
  run = subprocess.run([binary, '--workloads', 'edge', '--no-timing'],
                       capture_output=True, text=True, timeout=600)
  if run.returncode == 3:  # no GPU here: a clear message, no crash
    assert 'no CUDA device available' in run.stderr
    assert '--cpu-only' in run.stderr
  else:
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert 'ALL CHECKS PASSED' in run.stdout
