"""The benchmark's built-in yardstick samples the same points as the op."""

import numpy as np
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


def test_cli_json_reports_ratios():
  report = benchmark.main(['--workload', 'small', '--runs', '5', '--json'])
  names = {r['implementation'] for r in report['results']}
  assert {'twin', 'crop_and_resize', 'builtin'} <= names
  for r in report['results']:
    assert r['forward_ms'] > 0 and r['forward_backward_ms'] > 0
    assert r['forward_backward_speedup_vs_builtin'] > 0
