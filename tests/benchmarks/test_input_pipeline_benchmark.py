# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The input-pipeline benchmark CLI (`python -m mnc_tf.benchmarks.input_pipeline`)."""

import math

import pytest

from mnc_tf.benchmarks import input_pipeline


@pytest.mark.slow
def test_paper_settings_report_rates_and_mask_bytes(capsys):
  rep = input_pipeline.main([
      'input_pipeline', '--num_images=3', '--batches=2', '--runs=1',
      '--warmup=0', '--settings=paper,paper_full_masks', '--json'])
  assert '"results"' in capsys.readouterr().out
  by_name = {r['setting']: r for r in rep['results']}
  # 100 instances: 112 x 112 uint8 crops vs 1024 x 1024 uint8 full masks.
  assert by_name['paper']['mask_bytes_per_image'] == 100 * 112 * 112
  assert by_name['paper_full_masks']['mask_bytes_per_image'] == (
      100 * 1024 * 1024)
  for r in rep['results']:
    assert r['images_per_s'] > 0 and math.isfinite(r['images_per_s'])


def test_unknown_setting_is_one_line_error(capsys):
  with pytest.raises(SystemExit):
    input_pipeline.main(['input_pipeline', '--settings=paper,nope'])
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and 'nope' in err[0]
