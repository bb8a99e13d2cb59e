# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The ablation's table: mean and sample standard deviation over runs."""
from absl import app
from absl import flags
import numpy as np
import pytest

from mnc_tf import ablation


def test_table_reports_mean_and_sample_std_over_runs(tmp_path):
  runs = [{'mAPr50': 0.80, 'mAPr70': 0.60, 'mask_AP50': 0.85},
          {'mAPr50': 0.84, 'mAPr70': 0.66, 'mask_AP50': 0.83},
          {'mAPr50': 0.79, 'mAPr70': 0.63, 'mask_AP50': 0.90}]
  table = ablation.markdown_table(
      [('5-stage, box gradient on', runs), ('single', runs[:1])], 'cmd')
  row = next(l for l in table.splitlines() if l.startswith('| 5-stage'))
  cells = [c.strip() for c in row.strip('|').split('|')]
  assert cells[1] == '3'
  for cell, key in zip(cells[2:], ablation.METRICS):
    values = 100 * np.array([r[key] for r in runs])
    mean, std = cell.split(' ± ')
    assert float(mean) == pytest.approx(values.mean(), abs=0.05)
    assert float(std) == pytest.approx(values.std(ddof=1), abs=0.05)
  assert '| single | 1 | 80.0 | 60.0 | 85.0 |' in table
  readme = tmp_path / 'README.md'
  readme.write_text(f'a\n{ablation.START}\nold\n{ablation.END}\nb\n')
  ablation.update_readme(str(readme), table)
  text = readme.read_text()
  assert 'old' not in text and table in text and text.endswith('b\n')


def _flag_values(*argv):
  flag_values = flags.FlagValues()
  ablation.define_flags(flag_values)
  flag_values(['ablation', *argv])
  return flag_values


def test_repeats_must_be_positive():
  with pytest.raises(flags.IllegalFlagValueError, match='repeats'):
    _flag_values('--repeats=0')
  assert _flag_values('--repeats=2').repeats == 2


def test_variants_name_the_bad_index_before_any_work(tmp_path):
  flag_values = _flag_values(f'--output_dir={tmp_path}', '--variants=0,9')
  with pytest.raises(app.UsageError, match="'9' is not an index in 0..3"):
    ablation.main(['ablation'], flag_values)
  assert not list(tmp_path.iterdir())  # nothing generated
  assert [v[1:] for v in ablation.chosen_variants(['2', '0'])] == [
      (3, True), (5, True)]
