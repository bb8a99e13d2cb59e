# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The train-memory benchmark CLI (`python -m mnc_tf.benchmarks.train_memory`)."""

import json

import pytest

from tests.benchmarks import benchmark_cli


def _run(*args):
  return benchmark_cli.run('mnc_tf.benchmarks.train_memory', *args)


@pytest.mark.slow
def test_tiny_experiment_variants_json():
  """Tiny demo model, 3 stages, 64 x 96: the full step and frozen fc6 / fc7.

  The fc layers are 1024 wide (8.5 M parameters, 34 MB of gradients) so that
  what freezing them saves is far above the allocator peak's run-to-run
  spread (~8 MB, from the order in which parallel ops allocate); with the
  demo's 64-wide fc layers (1.6 MB) the spread decided the comparison.
  """
  result = _run('--experiment=mnc_shapes_demo', '--image_size=64,96',
                '--num_images=2', '--max_instances=2', '--steps=2',
                '--variants=full,frozen_fc', '--json',
                '--params_override=task.model.cascade.num_train_stages=3,'
                'task.model.classifier_head.fc_dims=1024')
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout)
  assert report['allocator'] == 'bfc'
  full, frozen = report['variants']
  assert (full['variant'], frozen['variant']) == ('full', 'frozen_fc')
  for r in (full, frozen):
    assert r['step_seconds'] > 0
    # BFC keeps statistics: live bytes after build <= the steps' peak.
    assert 0 < r['allocator_after_build_bytes'] <= (
        r['allocator_steady_peak_bytes'])
    assert 0 < r['rss_before_steady_bytes'] <= r['steady_peak_rss_bytes']
  # Freezing fc6 / fc7 removes their parameters from training, and with
  # them their gradients and momentum slots from the step's live bytes.
  removed = (full['num_trainable_parameters'] -
             frozen['num_trainable_parameters'])
  assert removed > 8_000_000
  # At least the removed float32 gradients leave the peak (measured: 75-83 MB
  # less, gradients plus the momentum slots' update temporaries).
  assert (full['allocator_steady_peak_bytes'] -
          frozen['allocator_steady_peak_bytes']) > 4 * removed


def test_unknown_variant_is_a_usage_error():
  result = _run('--variants=full,everything')
  assert result.returncode != 0
  assert '--variants: unknown everything' in result.stderr
  assert 'Traceback' not in result.stderr
