# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The held-back split: disjoint, complete, deterministic, atomic."""

import json
import os

import pytest

from mnc_tf.data import holdout_split


def _data(num_images):
  return {'info': {'x': 1}, 'categories': [{'id': 4, 'name': 'a'}],
          'images': [{'id': 10 + i, 'height': 5, 'width': 5}
                     for i in range(num_images)],
          'annotations': [{'id': j, 'image_id': 10 + j % num_images,
                           'category_id': 4} for j in range(3 * num_images)]}


def test_split_by_image():
  fit, held = holdout_split.split(_data(20), 0.15, seed=3)
  fit_ids = {im['id'] for im in fit['images']}
  held_ids = {im['id'] for im in held['images']}
  assert len(held_ids) == 3 and len(fit_ids) == 17
  assert not fit_ids & held_ids and fit_ids | held_ids == set(range(10, 30))
  assert all(a['image_id'] in held_ids for a in held['annotations'])
  assert all(a['image_id'] in fit_ids for a in fit['annotations'])
  assert len(fit['annotations']) + len(held['annotations']) == 60
  assert fit['categories'] == held['categories'] == _data(1)['categories']
  assert holdout_split.split(_data(20), 0.15, seed=3)[1] == held
  assert holdout_split.split(_data(20), 0.15, seed=4)[1] != held
  # At least one image on each side.
  assert len(holdout_split.split(_data(2), 0.01)[1]['images']) == 1
  assert len(holdout_split.split(_data(2), 0.99)[0]['images']) == 1


def test_errors_and_cli(tmp_path, capsys):
  with pytest.raises(holdout_split.SplitError, match='at least 2'):
    holdout_split.split(_data(1))
  with pytest.raises(holdout_split.SplitError, match='holdout_fraction'):
    holdout_split.split(_data(5), 1.0)
  path = str(tmp_path / 'train.json')
  with open(path, 'w') as f:
    json.dump(_data(10), f)
  out = str(tmp_path / 'split')
  assert holdout_split.main(['x', '--annotations_file=' + path,
                             '--output_dir=' + out,
                             '--holdout_fraction=0.2']) == 0
  assert sorted(os.listdir(out)) == ['fit.json', 'holdout.json']
  with open(os.path.join(out, 'holdout.json')) as f:
    assert len(json.load(f)['images']) == 2
  assert holdout_split.main(['x', '--annotations_file=' + path + '.no',
                             '--output_dir=' + out]) == 1
  assert 'train.json.no' in capsys.readouterr().err
