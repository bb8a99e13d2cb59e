"""Compares the harness's and torchvision's timings against the targets.

Usage: python compare_results.py HARNESS_JSON TORCHVISION_JSON [--markdown PATH]

Prints a Markdown table (medians, ms) and, per workload, a verdict on each
target (docs/benchmarks.md, "RoI warp on a GPU"):
  * our forward + backward (feature AND box gradients, atomic mode) is no
    slower than torchvision's forward + backward (feature gradient only);
  * our forward is within 2x of its memory-bandwidth bound (the harness
    computes the bound from --peak-bandwidth-tbs, default 4.3 TB/s, the
    H200's measured copy bandwidth, with the one-byte compact argmax);
  * forward + backward (atomic) within FWD_BWD_TARGETS_MS (VGG-16 0.55 ms,
    COCO 0.9 ms: half of the 2026-11-29 H200 times);
  * deterministic forward + backward at most 1.3x the atomic one.
Exit status 0 if both JSONs passed their own checks and every target is met,
1 otherwise.  Standard library only.
"""

import argparse
import json
import os
import sys

# Forward + backward (atomic) targets on the H200, ms.
FWD_BWD_TARGETS_MS = {'vgg16': 0.55, 'coco': 0.9}
BOUND_TARGET = 2.0          # forward / bandwidth bound
DETERMINISTIC_TARGET = 1.3  # deterministic / atomic forward + backward


def _ms(timings, key):
  t = timings.get(key)
  return None if t is None else t['median']


def _fmt(v):
  return '-' if v is None else f'{v:.4f}'


def compare(ours, theirs):
  """Returns (markdown lines, all targets met)."""
  tv = {w['name']: w for w in theirs['workloads']}
  lines = [
      f"Our kernels: {ours.get('device', '?')} (CUDA runtime {ours.get('cuda_runtime', '?')}); "
      f"torchvision {theirs.get('torchvision', '?')}: {theirs.get('device', '?')}.",
      '',
      '| workload | ours fwd | ours bwd (atomic) | ours bwd (det.) | ours fwd+bwd (atomic) '
      '| ours fwd+bwd (det.) | torchvision fwd | torchvision bwd | torchvision fwd+bwd '
      '| fwd bound | ours fwd / bound |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  ok = bool(ours.get('all_checks_passed'))
  verdicts = []
  if ours.get('device') != theirs.get('device'):
    verdicts.append('WARNING: the two runs report different devices; timings not comparable.')
    ok = False
  err = theirs.get('sampling_check_max_abs_err')
  if err is None or err > 1e-4:
    verdicts.append(f'WARNING: torchvision sampling check error {err} > 1e-4.')
    ok = False
  for w in ours['workloads']:
    t = w.get('timings_ms') or {}
    if not t or w['name'] not in tv:
      continue
    theirs_t = tv[w['name']]['timings_ms']
    fwd, bound = _ms(t, 'forward'), w.get('forward_bound_ms')
    ours_total, tv_total = _ms(t, 'fwd_bwd_atomic'), _ms(theirs_t, 'fwd_bwd')
    ratio = fwd / bound if fwd and bound else None
    lines.append(
        f"| {w['name']} | {_fmt(fwd)} | {_fmt(_ms(t, 'backward_atomic'))} "
        f"| {_fmt(_ms(t, 'backward_deterministic'))} | {_fmt(ours_total)} "
        f"| {_fmt(_ms(t, 'fwd_bwd_deterministic'))} | {_fmt(_ms(theirs_t, 'forward'))} "
        f"| {_fmt(_ms(theirs_t, 'backward'))} | {_fmt(tv_total)} | {_fmt(bound)} "
        f"| {'-' if ratio is None else f'{ratio:.2f}x'} |")
    speed_ok = ours_total is not None and tv_total is not None and ours_total <= tv_total
    bound_ok = ratio is not None and ratio <= BOUND_TARGET
    det = _ms(t, 'fwd_bwd_deterministic')
    det_ratio = det / ours_total if det and ours_total else None
    det_ok = det_ratio is not None and det_ratio <= DETERMINISTIC_TARGET
    target = FWD_BWD_TARGETS_MS.get(w['name'])
    abs_ok = target is None or (ours_total is not None and ours_total <= target)
    met = lambda v: 'met' if v else 'NOT met'  # pylint: disable=unnecessary-lambda-assignment
    verdicts.append(
        f"{w['name']}: fwd+bwd {_fmt(ours_total)} vs torchvision {_fmt(tv_total)} ms -> "
        f"{met(speed_ok)}; forward {'-' if ratio is None else f'{ratio:.2f}'}x bound "
        f"(target <= {BOUND_TARGET}x) -> {met(bound_ok)}; fwd+bwd (atomic) "
        + (f"{_fmt(ours_total)} ms (target <= {target} ms) -> {met(abs_ok)}; "
           if target is not None else '')
        + f"deterministic {'-' if det_ratio is None else f'{det_ratio:.2f}'}x the atomic "
        f"fwd+bwd (target <= {DETERMINISTIC_TARGET}x) -> {met(det_ok)}.")
    ok &= speed_ok and bound_ok and det_ok and abs_ok
  if not ours.get('all_checks_passed'):
    verdicts.append('Harness correctness checks FAILED: timings do not count.')
  return lines + [''] + verdicts, ok


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('harness_json')
  parser.add_argument('torchvision_json')
  parser.add_argument('--markdown', help='also write the report here')
  args = parser.parse_args(argv)
  with open(args.harness_json) as f:
    ours = json.load(f)
  with open(args.torchvision_json) as f:
    theirs = json.load(f)
  lines, ok = compare(ours, theirs)
  text = '\n'.join(lines) + '\n'
  print(text, end='')
  if args.markdown:
    tmp = args.markdown + '.partial'
    with open(tmp, 'w') as f:
      f.write(text)
    os.replace(tmp, args.markdown)
  return 0 if ok else 1


if __name__ == '__main__':
  sys.exit(main())
