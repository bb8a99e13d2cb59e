# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""SBD (img/, inst/*.mat, cls/*.mat) -> TFRecord, on .mat files written here."""

import json
import os

from absl import flags
import numpy as np
import scipy.io

import mnc_data_testutil as tu
from mnc_tf.data import create_sbd_tfrecord
from mnc_tf.data import errors


def _main(args):
  """Runs the CLI's main on `args` with fresh absl flags; the exit status."""
  flag_values = flags.FlagValues()
  create_sbd_tfrecord.define_flags(flag_values)
  flag_values(['create_sbd_tfrecord'] + list(args))
  return create_sbd_tfrecord.main(['create_sbd_tfrecord'], flag_values)


H, W = 18, 22


def _write_sample(root, name, inst, cls, seed=0):
  tu.save_image(os.path.join(root, 'img', name + '.jpg'),
                tu.smooth_image(inst.shape[0], inst.shape[1], seed), 'JPEG')
  for folder in ('inst', 'cls'):
    os.makedirs(os.path.join(root, folder), exist_ok=True)
  # SBD's structs: GTinst {Segmentation, Boundaries, Categories},
  # GTcls {Segmentation, Boundaries, CategoriesPresent}.
  categories = np.array([[1], [1]], dtype=np.uint8)
  scipy.io.savemat(os.path.join(root, 'inst', name + '.mat'), {
      'GTinst': {'Segmentation': inst.astype(np.uint8),
                 'Boundaries': np.zeros((1, 1), dtype=object),
                 'Categories': categories}})
  scipy.io.savemat(os.path.join(root, 'cls', name + '.mat'), {
      'GTcls': {'Segmentation': cls.astype(np.uint8),
                'Boundaries': np.zeros((1, 1), dtype=object),
                'CategoriesPresent': np.unique(cls[cls > 0])}})


def _dataset(root):
  """2008_000002: a person (15) and a dog (12); 2008_000003: a car (7)."""
  inst = np.zeros((H, W), np.uint8)
  cls = np.zeros((H, W), np.uint8)
  inst[2:10, 3:9] = 1
  cls[2:10, 3:9] = 15
  cls[2:4, 3:9] = 3   # a minority of another class under instance 1
  inst[8:16, 12:20] = 2
  cls[8:16, 12:20] = 12
  cls[8:16, 11] = 255  # void boundary next to it
  _write_sample(root, '2008_000002', inst, cls)
  inst2 = np.zeros((H + 2, W - 4), np.uint8)
  cls2 = np.zeros_like(inst2)
  inst2[5:9, 1:17] = 1
  cls2[5:9, 1:17] = 7
  _write_sample(root, '2008_000003', inst2, cls2, seed=1)
  with open(os.path.join(root, 'train.txt'), 'w') as f:
    f.write('2008_000002\n2008_000003\n')
  return inst, inst2


def test_sbd_to_records(tmp_path):
  root = str(tmp_path / 'sbd')
  inst, inst2 = _dataset(root)
  prefix = str(tmp_path / 'out' / 'sbd_train')
  assert _main(['--sbd_root', root, '--split', 'train',
                '--output_prefix', prefix, '--num_shards', '2']) == 0
  with open(prefix + '.label_map.json') as f:
    label_map = json.load(f)
  assert label_map['15'] == 'person' and len(label_map) == 20
  decoded = {d['source_id']: d for d in map(
      tu.mg_decode, tu.read_records(prefix + '-*.tfrecord'))}
  assert sorted(decoded) == [b'2008000002', b'2008000003']
  first = decoded[b'2008000002']
  np.testing.assert_array_equal(first['groundtruth_classes'], [15, 12])
  np.testing.assert_array_equal(first['groundtruth_instance_masks'][0],
                                inst == 1)
  np.testing.assert_array_equal(first['groundtruth_instance_masks'][1],
                                inst == 2)
  np.testing.assert_allclose(
      first['groundtruth_boxes'],
      [[2 / H, 3 / W, 10 / H, 9 / W], [8 / H, 12 / W, 16 / H, 20 / W]],
      rtol=1e-6)
  np.testing.assert_allclose(first['groundtruth_area'], [48, 64])
  second = decoded[b'2008000003']
  assert second['image'].shape == (H + 2, W - 4, 3)
  np.testing.assert_array_equal(second['groundtruth_classes'], [7])
  np.testing.assert_array_equal(second['groundtruth_instance_masks'][0],
                                inst2 == 1)


def test_sbd_invalid_records(tmp_path, capsys):
  root = str(tmp_path / 'sbd')
  _dataset(root)
  os.remove(os.path.join(root, 'cls', '2008_000003.mat'))
  # Instance 2 of the first image gets no class pixel under it.
  mat = scipy.io.loadmat(os.path.join(root, 'cls', '2008_000002.mat'),
                         squeeze_me=True, struct_as_record=False)
  seg = mat['GTcls'].Segmentation
  seg[seg == 12] = 0
  scipy.io.savemat(os.path.join(root, 'cls', '2008_000002.mat'),
                   {'GTcls': {'Segmentation': seg}})
  out_dir = tmp_path / 'out'
  args = ['--sbd_root', root, '--split', 'train', '--output_prefix',
          str(out_dir / 'x')]
  assert _main(args) == 1
  err = capsys.readouterr().err
  assert 'image 2008_000002, annotation id 2: unknown_category' in err
  assert tu.list_outputs(str(out_dir)) == []

  assert _main(args + ['--skip_invalid']) == 0
  with open(out_dir / 'x.summary.json') as f:
    summary = json.load(f)
  assert summary['skipped_by_reason'] == {errors.UNKNOWN_CATEGORY: 1,
                                          errors.MISSING_ANNOTATION: 1}
  assert summary['images'] == 1 and summary['instances'] == 1


def test_sbd_name_listed_twice_and_missing_split(tmp_path, capsys):
  root = str(tmp_path / 'sbd')
  _dataset(root)
  with open(os.path.join(root, 'train.txt'), 'w') as f:
    f.write('2008_000002\n2008_000003\n2008_000002\n')
  prefix = str(tmp_path / 'out' / 'x')
  args = ['--sbd_root', root, '--split', 'train', '--output_prefix', prefix]
  assert _main(args) == 1
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1
  assert 'image 2008_000002: duplicate_image' in err
  assert _main(args + ['--skip_invalid']) == 0
  records = tu.read_records(prefix + '-*.tfrecord')
  assert sorted(tu.mg_decode(r)['source_id'] for r in records) == [
      b'2008000002', b'2008000003']
  with open(prefix + '.summary.json') as f:
    assert json.load(f)['skipped_by_reason'] == {errors.DUPLICATE_IMAGE: 1}
  capsys.readouterr()
  assert _main(['--sbd_root', root, '--split', 'tain', '--output_prefix',
                prefix]) == 1
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1
  assert 'no split file %s' % os.path.join(root, 'tain.txt') in err
