"""The benchmark's built-in yardstick samples the same points as the op."""

import json

import numpy as np
import pytest
import tensorflow as tf

from mnc_tf.benchmarks import roi_warp as benchmark
from mnc_tf.ops import roi_warp


def test_builtin_path_samples_the_op_points_inside_the_map():
  features, _ = benchmark.make_inputs('small')
  (_, _, _, _), _, size, _ = benchmark.WORKLOADS['small']
  # Boxes whose samples all lie inside the map, where crop_and_resize's
  # extrapolation does not differ from the op's zero padding.
  boxes = tf.constant([[[40.0, 50.0, 200.0, 300.0], [20.0, 30.0, 250.0, 400.0]]])
  builtin = benchmark.builtin_warp(features, boxes, size, 0).numpy()
  ours = roi_warp(features, boxes, size, benchmark.SPATIAL_SCALE, 0,
                  implementation='tf').numpy()[0]
  np.testing.assert_allclose(builtin, ours, atol=1e-4)


def test_cli_json_reports_ratios(capsys):
  report = benchmark.main(['roi_warp', '--workload=small', '--runs=5',
                           '--json'])
  assert json.loads(capsys.readouterr().out) == report
  names = {r['implementation'] for r in report['results']}
  assert {'twin', 'crop_and_resize', 'builtin'} <= names
  for r in report['results']:
    assert r['forward_ms'] > 0 and r['forward_backward_ms'] > 0
    assert r['forward_backward_speedup_vs_builtin'] > 0


def test_cli_repeats_give_per_repeat_ratios_and_their_median(capsys):
  report = benchmark.main(['roi_warp', '--workload=small', '--runs=5',
                           '--repeats=3', '--implementations=twin'])
  assert 'fwd+bwd x range' in capsys.readouterr().out
  rows = {r['implementation']: r for r in report['results']}
  assert set(rows) == {'twin', 'builtin'}
  twin, builtin = rows['twin'], rows['builtin']
  ratios = [b / t for b, t in zip(builtin['forward_backward_ms_per_repeat'],
                                  twin['forward_backward_ms_per_repeat'])]
  np.testing.assert_allclose(twin['forward_backward_speedup_per_repeat'],
                             ratios)
  assert twin['forward_backward_speedup_vs_builtin'] == pytest.approx(
      float(np.median(ratios)))
  assert twin['forward_backward_speedup_range'] == [min(ratios), max(ratios)]


@pytest.mark.parametrize('argv,message', [
    (['--runs=2'], 'runs'),
    (['--workload=vgg17'], 'workload'),
    (['--implementations=custom,fast'], "unknown --implementations ['fast']"),
])
def test_cli_bad_flags_are_one_line_errors(capsys, argv, message):
  with pytest.raises(SystemExit) as exit_info:
    benchmark.main(['roi_warp'] + argv)
  assert exit_info.value.code == 1
  err = capsys.readouterr().err.strip()
  assert err.startswith('roi_warp benchmark: error:') and message in err
  assert len(err.splitlines()) == 1


def test_boxes_are_spread_like_proposals():
  rng = np.random.default_rng(0)
  small = benchmark.proposal_boxes(rng, 1, 2000, 300.0, 500.0)[0]
  assert np.all(small >= 0) and np.all(small[:, [0, 2]] <= 300.0)
  assert np.all(small[:, [1, 3]] <= 500.0)  # clipped to the image
  # On a huge image hardly a box is clipped: the sides follow the recipe
  # (sqrt(area) in [16, 600], aspect in [0.5, 2]) and log(sqrt(area)) is
  # uniform: each third of the log range holds a third of the boxes.
  boxes = benchmark.proposal_boxes(rng, 1, 20000, 1e6, 1e6)[0]
  h, w = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
  assert np.all(h > 0) and np.all(w > 0)
  inner = ((boxes[:, 0] > 0) & (boxes[:, 1] > 0) & (boxes[:, 2] < 1e6)
           & (boxes[:, 3] < 1e6))
  assert inner.mean() > 0.99
  side, aspect = np.sqrt(h * w)[inner], (h / w)[inner]
  assert side.min() >= 16 - 1e-3 and side.max() <= 600 + 1e-3
  assert aspect.min() >= 0.5 - 1e-6 and aspect.max() <= 2 + 1e-6
  edges = np.exp(np.linspace(np.log(16), np.log(600), 4))
  counts = np.histogram(side, edges)[0] / len(side)
  np.testing.assert_allclose(counts, 1 / 3, atol=0.02)


@pytest.mark.parametrize('backward_from', ['upstream', 'loss'])
def test_timed_backward_gets_the_same_gradient_for_every_implementation(
    backward_from):
  features, _ = benchmark.make_inputs('small')
  # Inside the map, where crop_and_resize equals the op (see above).
  boxes = tf.constant([[[40.0, 50.0, 200.0, 300.0], [20.0, 30.0, 250.0, 400.0]]])
  # No max pool: a 2 x 2 window whose samples nearly tie routes the upstream
  # gradient by the last bits of each implementation's forward (seen to
  # differ in a full-suite run); what is checked here is that every
  # implementation is handed the same upstream gradient.
  fns = benchmark._timed_functions(features, boxes, 14, None, ('twin',),
                                   backward_from)
  twin_grad = fns['twin'][1]()[0].numpy()
  builtin_grad = fns['builtin'][1]()[0].numpy()
  assert np.abs(twin_grad).max() > 0
  np.testing.assert_allclose(twin_grad, builtin_grad, atol=1e-3)
