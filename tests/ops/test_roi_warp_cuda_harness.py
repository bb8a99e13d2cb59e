# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The RoI-warp CUDA harness, without a GPU or nvcc.

The harness is built with the host compiler against its CPU emulation of CUDA
(custom_ops/cuda_harness/cuda_emulation.h), so the very kernel code of
custom_ops/roi_warp/roi_warp_cuda*.cu.h runs here and is checked against the
CPU implementation (forward bitwise, both backward modes within 1e-4,
repeatability, corrupt and rerouted argmax), in float32, float16 and
bfloat16 (--dtype: the CPU kernels run in the same type).  The CPU reference itself is checked against
the harness's naive double-precision evaluation of docs/design.md §4.  Speed and
races can only be checked on a GPU (custom_ops/cuda_harness/run_gpu_bench.sh).
"""

import importlib.util
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HARNESS_DIR = os.path.join(ROOT, 'custom_ops', 'cuda_harness')
# Every edge case but edge_mid_pooled, which takes minutes under emulation
# (it runs on the GPU machine).
EMULATED_WORKLOADS = ('edge_pool_oddc,edge_pool_vec4,edge_global_pool,'
                      'edge_1x1_map_c261,edge_c264,edge_overlap_c1,edge_no_boxes,'
                      'edge_no_channels,edge_empty_map,edge_empty_batch')
GPU_CHECKS = ('gpu forward vs cpu', 'gpu grad_features (atomic) vs cpu',
              'gpu grad_boxes (atomic) vs cpu',
              'gpu grad_features (deterministic) vs cpu',
              'gpu grad_boxes (deterministic) vs cpu',
              'grad_boxes (atomic) bitwise repeatable',
              'grad_features (deterministic) bitwise repeatable')


def _load(name, path):
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope='module')
def emulated(tmp_path_factory):
  if shutil.which('make') is None or shutil.which(os.environ.get('CXX', 'g++')) is None:
    pytest.skip('make and a C++ compiler are needed to build the emulated harness')
  build = tmp_path_factory.mktemp('harness_build')
  subprocess.run(['make', '-s', '-C', HARNESS_DIR, 'emulated', f'BUILD={build}'],
                 check=True, capture_output=True, text=True)
  return str(build / 'roi_warp_harness_emulated')


def _run(binary, *args):
  return subprocess.run([binary, *args], capture_output=True, text=True,
                        timeout=600)


def _checks(report):
  return {(w['name'], c['name']): c for w in report['workloads']
          for c in w['checks']}


@pytest.mark.parametrize('extra', [(), ('--force-int64',), ('--dtype', 'float16'),
                                   ('--dtype', 'bfloat16')],
                         ids=['auto', 'int64', 'float16', 'bfloat16'])
@pytest.mark.slow
def test_emulated_kernels_match_cpu(emulated, tmp_path, extra):
  out = tmp_path / 'report.json'
  # 16-bit types: the small cases that cover both vector widths, pooled and
  # not, several channel groups and heavy overlap (time budget).
  workloads = (EMULATED_WORKLOADS if '--dtype' not in extra else
               'edge_pool_oddc,edge_pool_vec4,edge_1x1_map_c261,edge_overlap_c1')
  run = _run(emulated, '--workloads', workloads, '--json', str(out), *extra)
  assert run.returncode == 0, run.stdout + run.stderr
  report = json.loads(out.read_text())
  assert report['all_checks_passed'] is True
  checks = _checks(report)
  names = {w['name'] for w in report['workloads']}
  assert len(names) == len(workloads.split(','))
  for workload in names:  # the GPU checks ran on every workload
    for check in GPU_CHECKS:
      c = checks[(workload, check)]
      assert c['ok'], (workload, c)
      if c['rel_err'] is not None:
        assert c['rel_err'] <= report['rel_tolerance'], (workload, c)
  assert report['rel_tolerance'] == {'float32': 1e-4, 'float16': 2e-3,
                                     'bfloat16': 1.6e-2}[report['dtype']]
  # Same positions and weights in both: forward is bitwise equal, not just close.
  assert checks[('edge_pool_oddc', 'gpu forward vs cpu')]['detail'] == 'bitwise equal'
  assert checks[('edge_pool_oddc', 'gpu argmax == cpu argmax')]['ok']
  assert checks[('edge_pool_oddc', 'corrupt argmax flagged (deterministic)')]['ok']
  assert checks[('edge_pool_oddc', 'rerouted argmax: grad_features (atomic) vs cpu')]['ok']
  # The int32 argmax type: same window indices, same gradients.
  for check in ('int32 argmax: gpu argmax == cpu argmax',
                'int32 argmax: grad_features (atomic) vs cpu',
                'int32 argmax: grad_boxes (deterministic) vs cpu'):
    assert checks[('edge_pool_vec4', check)]['ok'], check


def _axis_taps(start, end, scale, size, out_size):
  """Pixel indices with non-zero bilinear weight of each sample (float32 math
  of roi_warp_math.h): list of S sets."""
  f = np.float32
  taps = []
  for i in range(out_size):
    offset = (f(i) + f(0.5)) / f(out_size)
    pos = f(start) * f(scale) - f(0.5) + offset * ((f(end) - f(start)) * f(scale))
    pixels = set()
    if np.isfinite(pos) and -1 < pos < size:
      base = int(np.floor(pos))
      frac = pos - f(base)
      if base >= 0 and f(1) - frac != 0:
        pixels.add(base)
      if base + 1 < size and frac != 0:
        pixels.add(base + 1)
    taps.append(pixels)
  return taps


@pytest.mark.slow
def test_atomic_backward_merges_contributions_per_pixel(emulated, tmp_path):
  """Float atomics of the atomic backward (counted by the emulation) against
  bounds computed here from the boxes alone, for the unpooled edge cases: at
  least one atomic per (box, touched pixel, channel) (merging never crosses
  boxes), and well below the unmerged scatter's one per (sample, non-zero
  tap, channel), which is what the kernels issued before the per-pixel merging
  (the emulation counted exactly this number for both workloads then:
  107448 and 63423 floats)."""
  out = tmp_path / 'report.json'
  names = ('edge_c264', 'edge_1x1_map_c261', 'edge_pool_vec4')
  run = _run(emulated, '--workloads', ','.join(names), '--json', str(out))
  assert run.returncode == 0, run.stdout + run.stderr
  report = {w['name']: w for w in json.loads(out.read_text())['workloads']}
  for name in names[:2]:  # not pooled: every sample of every box scatters
    d = report[name]['dims']
    count = d['B'] * d['K']
    boxes = _run(emulated, '--print-boxes', name, str(count)).stdout.splitlines()
    assert len(boxes) == count
    unmerged = lower = 0
    for line in boxes:
      y1, x1, y2, x2 = (float(v) for v in line.split())
      ty = _axis_taps(y1, y2, d['spatial_scale'], d['H'], d['S'])
      tx = _axis_taps(x1, x2, d['spatial_scale'], d['W'], d['S'])
      unmerged += sum(len(a) for a in ty) * sum(len(b) for b in tx)
      lower += len(set().union(*ty)) * len(set().union(*tx))
    unmerged *= d['C']
    lower *= d['C']
    merged = report[name]['atomic_elements']
    assert lower > 0 and lower <= merged <= 0.65 * unmerged, (name, lower, merged, unmerged)
  # Pooled: one sample per cell and channel, up to 4 taps each; the
  # unmerged scatter issued 2.20 per output element here (measured before
  # the change), the merged one 1.47.
  pooled = report['edge_pool_vec4']
  assert 0.5 < pooled['atomic_elements_per_output'] <= 1.6, pooled['atomic_elements_per_output']


@pytest.mark.slow
def test_cpu_reference_matches_naive_double(emulated, tmp_path):
  out = tmp_path / 'report.json'
  run = _run(emulated, '--cpu-only', '--json', str(out))
  assert run.returncode == 0, run.stdout + run.stderr
  report = json.loads(out.read_text())
  checks = _checks(report)
  assert len(report['workloads']) == 11  # all edge cases, edge_mid_pooled too
  for (workload, name), c in checks.items():
    assert c['ok'], (workload, name, c)
  rel = checks[('edge_mid_pooled', 'cpu grad_boxes vs naive double')]['rel_err']
  assert 0 < rel < 1e-4  # compared numbers, not empty tensors


@pytest.mark.slow
def test_boxes_match_the_torchvision_script(emulated):
  bench = _load('bench_torchvision', os.path.join(HARNESS_DIR, 'bench_torchvision.py'))
  for name, w in bench.WORKLOADS.items():
    count = w['B'] * w['K']
    run = _run(emulated, '--print-boxes', name, str(count), '--seed', '7')
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    ours = [float(v) for line in lines for v in line.split()]
    theirs = [v for box in bench.make_boxes(w, 7) for v in box[1:]]
    assert len(lines) == count and len(ours) == len(theirs) == 4 * count
    assert ours == pytest.approx(theirs, rel=1e-7, abs=1e-6), name


@pytest.mark.parametrize('args,message', [
    (('--bogus',), "unknown option '--bogus'"),
    (('--iters', '0'), '--iters needs an integer'),
    (('--workloads', 'vgg17'), "unknown workload 'vgg17'"),
    (('--peak-bandwidth-tbs', '-1'), 'needs a positive number'),
    (('--json',), '--json needs a value'),
    (('--dtype', 'float64'), '--dtype must be float32, float16 or bfloat16'),
])
@pytest.mark.slow
def test_bad_arguments(emulated, args, message):
  run = _run(emulated, *args)
  assert run.returncode == 2
  assert message in run.stderr


def test_kernel_stats_parses_ptxas_and_sass():
  stats = _load('kernel_stats', os.path.join(HARNESS_DIR, 'kernel_stats.py'))
  fwd = '_ZN6mnc_tf8roi_warp4cuda20RoiWarpForwardKernelIfhiLi4ELi2EEEvNS1_10KernelDimsET1_S4_PKT_PKfPKNS1_8TapEntryEPS5_PT0_'
  ptxas = '\n'.join([
      f"ptxas info    : Compiling entry function '{fwd}' for 'sm_80'",
      f'ptxas info    : Function properties for {fwd}',
      '    8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads',
      'ptxas info    : Used 64 registers, used 0 barriers',
      f"ptxas info    : Compiling entry function '{fwd}' for 'sm_90'",
      f'ptxas info    : Function properties for {fwd}',
      '    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads',
      'ptxas info    : Used 59 registers, used 0 barriers'])
  assert stats.parse_ptxas(ptxas, 'sm_90') == {fwd: {
      'registers': 59, 'stack_frame': 0, 'spill_stores': 0, 'spill_loads': 0}}
  assert stats.parse_ptxas(ptxas, 'sm_80')[fwd]['spill_stores'] == 4
  assert stats.short_name(fwd) == 'RoiWarpForwardKernel<float, uint8, int, 4, 2>'
  sass = '\n'.join([
      f'.text.{fwd}:',
      '        /*0000*/                   LDC R1, c[0x0][0x28] ;',
      '        /*0010*/                   IMAD.WIDE.U32 R2, R5, 0x4, R2 ;',
      '        /*0020*/                   LDG.E.128 R4, desc[UR4][R2.64] ;',
      '        /*0030*/              @!P0 STL [R1], R4 ;',
      '        /*0040*/                   RED.E.ADD.F32.FTZ.RN.STRONG.GPU desc[UR4][R2.64], R7 ;',
      '        /*0050*/                   IADD3.X R3, R3, R9, RZ, P0, !PT ;',
      '        /*0060*/                   NOP ;'])
  c = stats.parse_sass(sass)[fwd]
  assert (c['instructions'], c['ldg'], c['local'], c['atomics'], c['integer'],
          c['integer_64bit']) == (6, 1, 1, 1, 2, 2)


def test_compare_results_applies_the_targets(tmp_path):
  compare = _load('compare_results', os.path.join(HARNESS_DIR, 'compare_results.py'))
  ours = {'device': 'GPU X', 'all_checks_passed': True, 'workloads': [{
      'name': 'vgg16', 'forward_bound_ms': 0.1,
      'timings_ms': {'forward': {'median': 0.15}, 'backward_atomic': {'median': 0.3},
                     'backward_deterministic': {'median': 0.4},
                     'fwd_bwd_atomic': {'median': 0.45},
                     'fwd_bwd_deterministic': {'median': 0.55}}}]}
  theirs = {'device': 'GPU X', 'sampling_check_max_abs_err': 1e-6, 'workloads': [{
      'name': 'vgg16', 'timings_ms': {'forward': {'median': 0.2}, 'backward': {'median': 0.4},
                                      'fwd_bwd': {'median': 0.6}}}]}
  lines, ok = compare.compare(ours, theirs)
  assert ok, lines
  assert any('1.50x' in l for l in lines)  # forward / bound
  ours['workloads'][0]['timings_ms']['fwd_bwd_atomic']['median'] = 0.7  # slower than 0.6
  assert not compare.compare(ours, theirs)[1]
  ours['workloads'][0]['timings_ms']['fwd_bwd_atomic']['median'] = 0.45
  ours['workloads'][0]['timings_ms']['forward']['median'] = 0.25  # 2.5x the bound
  assert not compare.compare(ours, theirs)[1]
  ours['workloads'][0]['timings_ms']['forward']['median'] = 0.15
  # Targets: deterministic <= 1.3x atomic, VGG-16 fwd+bwd <= 0.55 ms.
  ours['workloads'][0]['timings_ms']['fwd_bwd_deterministic']['median'] = 0.6  # 1.33x
  lines, ok = compare.compare(ours, theirs)
  assert not ok and any('1.33x' in l and 'NOT met' in l for l in lines)
  ours['workloads'][0]['timings_ms']['fwd_bwd_deterministic']['median'] = 0.55
  theirs['workloads'][0]['timings_ms']['fwd_bwd']['median'] = 0.7
  ours['workloads'][0]['timings_ms']['fwd_bwd_atomic']['median'] = 0.56  # > 0.55 ms
  ours['workloads'][0]['timings_ms']['fwd_bwd_deterministic']['median'] = 0.6
  assert not compare.compare(ours, theirs)[1]
  ours['workloads'][0]['timings_ms']['fwd_bwd_atomic']['median'] = 0.5
  assert compare.compare(ours, theirs)[1]
  theirs['device'] = 'GPU Y'
  assert not compare.compare(ours, theirs)[1]
