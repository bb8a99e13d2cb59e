# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""COCO JSON -> TFRecord: every segmentation form, image modes, invalid cases."""

import glob
import io
import json
import os
import subprocess
import sys

from absl import flags
import numpy as np
from PIL import Image
from pycocotools import coco as coco_api
import pytest
import tensorflow as tf

import mnc_data_testutil as tu
from mnc_tf.data import coco_segmentation
from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import errors


def _main(args):
  """Runs the CLI's main on `args` with fresh absl flags; the exit status."""
  flag_values = flags.FlagValues()
  create_coco_tfrecord.define_flags(flag_values)
  flag_values(['create_coco_tfrecord'] + list(args))
  return create_coco_tfrecord.main(['create_coco_tfrecord'], flag_values)


H, W = 20, 24
CATEGORIES = [{'id': 1, 'name': 'one'}, {'id': 7, 'name': 'seven'},
              {'id': 90, 'name': 'ninety'}]


def _polygon(x0, y0, x1, y1):
  return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def _all_forms_dataset(root):
  """Image 1: the six segmentation forms; image 2 (PNG): no annotation."""
  tu.save_image(os.path.join(root, 'img', 'a.jpg'), tu.random_image(H, W),
                'JPEG', quality=90)
  tu.save_image(os.path.join(root, 'img', 'b.png'), tu.random_image(H, W, 1))
  m_rle = tu.box_mask(H, W, 2, 3, 9, 12)
  m_rle[4, 5] = 0  # a hole, so that RLE is not a rectangle
  m_unc = tu.box_mask(H, W, 10, 2, 18, 8)
  m_crowd = tu.box_mask(H, W, 12, 14, 19, 23)
  annotations = [
      {'id': 11, 'image_id': 1, 'category_id': 1, 'iscrowd': 0,
       'segmentation': [[3.0, 2.0, 12.5, 2.0, 12.5, 9.5, 3.0, 9.5],
                        [14.0, 1.0, 20.0, 1.0, 17.0, 6.0]],
       'bbox': [3.0, 1.0, 17.0, 8.5], 'area': 80.0},
      {'id': 12, 'image_id': 1, 'category_id': 7, 'iscrowd': 0,
       'segmentation': tu.compressed_rle(m_rle), 'bbox': tu.coco_bbox(m_rle),
       'area': float(m_rle.sum())},
      {'id': 13, 'image_id': 1, 'category_id': 90, 'iscrowd': 0,
       'segmentation': tu.uncompressed_rle(m_unc),
       'bbox': tu.coco_bbox(m_unc), 'area': float(m_unc.sum())},
      {'id': 14, 'image_id': 1, 'category_id': 1, 'iscrowd': 1,
       'segmentation': tu.uncompressed_rle(m_crowd),
       'bbox': tu.coco_bbox(m_crowd), 'area': float(m_crowd.sum())},
      {'id': 15, 'image_id': 1, 'category_id': 7, 'iscrowd': 1,
       'segmentation': tu.compressed_rle(m_rle), 'bbox': tu.coco_bbox(m_rle)},
      {'id': 16, 'image_id': 1, 'category_id': 90, 'iscrowd': 1,
       'segmentation': _polygon(1, 1, 6, 5), 'bbox': [1.0, 1.0, 5.0, 4.0]},
  ]
  images = [{'id': 1, 'file_name': 'a.jpg', 'height': H, 'width': W},
            {'id': 2, 'file_name': 'b.png', 'height': H, 'width': W}]
  return tu.write_json(os.path.join(root, 'ann.json'), images, annotations,
                       CATEGORIES)


def test_all_segmentation_forms_match_ann_to_mask(tmp_path):
  json_path = _all_forms_dataset(str(tmp_path))
  prefix = str(tmp_path / 'out' / 'train')
  assert _main([
      '--image_dir', str(tmp_path / 'img'), '--annotations_file', json_path,
      '--output_prefix', prefix, '--num_shards', '2']) == 0
  assert tu.list_outputs(str(tmp_path / 'out')) == [
      'train-00000-of-00002.tfrecord', 'train-00001-of-00002.tfrecord',
      'train.label_map.json', 'train.summary.json']
  with open(prefix + '.label_map.json') as f:
    assert json.load(f) == {'1': 'one', '7': 'seven', '90': 'ninety'}
  with open(prefix + '.summary.json') as f:
    summary = json.load(f)
  assert summary['images'] == 2 and summary['instances'] == 6
  assert summary['skipped_by_reason'] == {}

  records = tu.read_records(prefix + '-*.tfrecord')
  decoded = {d['source_id']: d for d in map(tu.mg_decode, records)}
  assert sorted(decoded) == [b'1', b'2']
  coco = coco_api.COCO(json_path)
  first = decoded[b'1']
  anns = coco.loadAnns(coco.getAnnIds(imgIds=[1], iscrowd=None))
  assert [a['id'] for a in anns] == [11, 12, 13, 14, 15, 16]
  np.testing.assert_array_equal(first['groundtruth_classes'],
                                [1, 7, 90, 1, 7, 90])
  np.testing.assert_array_equal(first['groundtruth_is_crowd'],
                                [False, False, False, True, True, True])
  for k, ann in enumerate(anns):
    np.testing.assert_array_equal(first['groundtruth_instance_masks'][k],
                                  coco.annToMask(ann).astype(np.float32),
                                  err_msg='annotation %d' % ann['id'])
    x, y, w, h = ann['bbox']
    np.testing.assert_allclose(first['groundtruth_boxes'][k],
                               [y / H, x / W, (y + h) / H, (x + w) / W],
                               rtol=1e-6)
  # The RGB JPEG is stored byte for byte.
  (record_1,) = [r for r in records
                 if tu.features(r)['image/source_id'].bytes_list.value[0]
                 == b'1']
  with open(tmp_path / 'img' / 'a.jpg', 'rb') as f:
    assert tu.features(record_1)['image/encoded'].bytes_list.value[0] == (
        f.read())
  second = decoded[b'2']  # no annotation: kept, with zero instances
  assert second['groundtruth_classes'].shape == (0,)
  assert second['groundtruth_instance_masks'].shape == (0, H, W)
  np.testing.assert_array_equal(
      second['image'], np.asarray(Image.open(tmp_path / 'img' / 'b.png')))


def test_model_garden_crashes_where_we_do_not():
  """Model Garden's converter cannot take a compressed-RLE non-crowd mask."""
  from official.vision.data import create_coco_tf_record  # pylint: disable=g-import-not-at-top
  mask = tu.box_mask(H, W, 2, 3, 9, 12)
  with pytest.raises(Exception):
    create_coco_tf_record.coco_segmentation_to_mask_png(
        tu.compressed_rle(mask), H, W, is_crowd=0)
  np.testing.assert_array_equal(
      coco_segmentation.to_mask(tu.compressed_rle(mask), H, W), mask)


@pytest.mark.parametrize('name,save,expect_format', [
    ('gray.jpg', dict(image_format='JPEG', mode='L'), 'jpeg'),
    ('cmyk.jpg', dict(image_format='JPEG', mode='CMYK'), 'jpeg'),
    ('rgba.png', dict(image_format='PNG', mode='RGBA'), 'png'),
    ('gray.png', dict(image_format='PNG', mode='L'), 'png'),
    ('palette.png', dict(image_format='PNG', mode='P'), 'png'),
    ('rgb.bmp', dict(image_format='BMP'), 'png'),
])
def test_image_modes_become_rgb(tmp_path, name, save, expect_format):
  path = tu.save_image(str(tmp_path / 'img' / name), tu.smooth_image(H, W),
                       **save)
  expected = np.asarray(Image.open(path).convert('RGB'), dtype=np.int32)
  json_path = tu.write_json(
      str(tmp_path / 'a.json'),
      [{'id': 5, 'file_name': name, 'height': H, 'width': W}], [], CATEGORIES)
  prefix = str(tmp_path / 'out' / 'x')
  create_coco_tfrecord.convert(str(tmp_path / 'img'), json_path, prefix)
  (record,) = tu.read_records(prefix + '-*.tfrecord')
  feats = tu.features(record)
  encoded = feats['image/encoded'].bytes_list.value[0]
  assert feats['image/format'].bytes_list.value[0].decode().lower() == (
      expect_format)
  stored = Image.open(io.BytesIO(encoded))
  assert stored.mode == 'RGB'
  assert stored.format.lower() == expect_format
  image = tu.mg_decode(record)['image'].astype(np.int32)
  if expect_format == 'png':
    np.testing.assert_array_equal(image, expected)
  else:
    assert np.abs(image - expected).mean() < 2.0


def test_16_bit_png_is_rescaled(tmp_path):
  array = (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 100)
  os.makedirs(tmp_path / 'img')
  Image.fromarray(array).save(tmp_path / 'img' / 'deep.png')
  json_path = tu.write_json(
      str(tmp_path / 'a.json'),
      [{'id': 5, 'file_name': 'deep.png', 'height': H, 'width': W}], [],
      CATEGORIES)
  prefix = str(tmp_path / 'out' / 'x')
  create_coco_tfrecord.convert(str(tmp_path / 'img'), json_path, prefix)
  (record,) = tu.read_records(prefix + '-*.tfrecord')
  image = tu.mg_decode(record)['image'].astype(np.int32)
  np.testing.assert_array_equal(
      image[..., 0], np.round(array * (255.0 / 65535.0)).astype(np.int32))


def test_workers_write_the_same_records(tmp_path):
  json_path = _all_forms_dataset(str(tmp_path))
  outputs = []
  for workers in (0, 2):
    prefix = str(tmp_path / ('out%d' % workers) / 'train')
    create_coco_tfrecord.convert(str(tmp_path / 'img'), json_path, prefix,
                                 num_shards=2, num_workers=workers)
    outputs.append(tu.read_records(prefix + '-*.tfrecord'))
  assert outputs[0] == outputs[1] and len(outputs[0]) == 2


# ---- invalid records -------------------------------------------------------


def _base(root):
  """Image 1 (a.jpg) with annotations 11, 12; image 2 (b.png) with 21."""
  tu.save_image(os.path.join(root, 'img', 'a.jpg'), tu.random_image(H, W),
                'JPEG')
  tu.save_image(os.path.join(root, 'img', 'b.png'), tu.random_image(H, W, 1))
  images = [{'id': 1, 'file_name': 'a.jpg', 'height': H, 'width': W},
            {'id': 2, 'file_name': 'b.png', 'height': H, 'width': W}]
  annotations = [
      {'id': 11, 'image_id': 1, 'category_id': 1, 'iscrowd': 0,
       'segmentation': _polygon(2, 2, 10, 10), 'bbox': [2, 2, 8, 8],
       'area': 64},
      {'id': 12, 'image_id': 1, 'category_id': 7, 'iscrowd': 0,
       'segmentation': _polygon(12, 4, 20, 16), 'bbox': [12, 4, 8, 12],
       'area': 96},
      {'id': 21, 'image_id': 2, 'category_id': 90, 'iscrowd': 0,
       'segmentation': _polygon(1, 1, 5, 5), 'bbox': [1, 1, 4, 4],
       'area': 16},
  ]
  return images, annotations


def _set_ann(field, value, ann_index=1):
  def mutate(root, images, annotations):
    annotations[ann_index][field] = value
  return mutate


def _missing_image(root, images, annotations):
  os.remove(os.path.join(root, 'img', 'a.jpg'))


def _corrupt_image(root, images, annotations):
  path = os.path.join(root, 'img', 'a.jpg')
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[:len(data) // 2])  # truncated JPEG


def _garbage_image(root, images, annotations):
  with open(os.path.join(root, 'img', 'a.jpg'), 'wb') as f:
    f.write(b'this is not an image')


def _size_mismatch(root, images, annotations):
  images[0]['height'] = H + 5


def _unknown_image(root, images, annotations):
  annotations[1]['image_id'] = 99


_BAD_RLE_SUM = {'size': [H, W], 'counts': [5, 10, 3]}
_INVALID_CASES = [
    # (case id, mutation, reason, image-level?)
    ('missing_image', _missing_image, errors.MISSING_IMAGE, True),
    ('truncated_image', _corrupt_image, errors.CORRUPT_IMAGE, True),
    ('garbage_image', _garbage_image, errors.CORRUPT_IMAGE, True),
    ('size_mismatch', _size_mismatch, errors.IMAGE_SIZE_MISMATCH, True),
    ('box_outside', _set_ann('bbox', [12, 4, 30, 12]),
     errors.BOX_OUTSIDE_IMAGE, False),
    ('box_negative', _set_ann('bbox', [-5, 4, 8, 12]),
     errors.BOX_OUTSIDE_IMAGE, False),
    ('zero_area_box', _set_ann('bbox', [12, 4, 0, 12]), errors.ZERO_AREA,
     False),
    ('malformed_box', _set_ann('bbox', [12, 4, 8]), errors.MALFORMED_BOX,
     False),
    ('negative_width_box', _set_ann('bbox', [12, 4, -5, 12]),
     errors.MALFORMED_BOX, False),
    ('zero_area_polygon',
     _set_ann('segmentation', [[12, 4, 12, 4, 12, 4]]), errors.ZERO_AREA,
     False),
    ('zero_area_rle',
     _set_ann('segmentation', {'size': [H, W], 'counts': [H * W]}),
     errors.ZERO_AREA, False),
    ('short_polygon', _set_ann('segmentation', [[12, 4, 20, 16]]),
     errors.MALFORMED_SEGMENTATION, False),
    ('odd_polygon', _set_ann('segmentation', [[12, 4, 20, 16, 3]]),
     errors.MALFORMED_SEGMENTATION, False),
    ('flat_polygon', _set_ann('segmentation', [12, 4, 20, 4, 20, 16]),
     errors.MALFORMED_SEGMENTATION, False),
    ('empty_polygons', _set_ann('segmentation', []),
     errors.MALFORMED_SEGMENTATION, False),
    ('rle_bad_sum', _set_ann('segmentation', _BAD_RLE_SUM),
     errors.MALFORMED_SEGMENTATION, False),
    ('rle_bad_string',
     _set_ann('segmentation', {'size': [H, W], 'counts': '\x01\x02garbage'}),
     errors.MALFORMED_SEGMENTATION, False),
    ('rle_truncated_string',
     _set_ann('segmentation', {'size': [H, W], 'counts': 'P1370000000V'}),
     errors.MALFORMED_SEGMENTATION, False),
    ('rle_wrong_size',
     _set_ann('segmentation', {'size': [H + 1, W], 'counts': [H * W + W]}),
     errors.MALFORMED_SEGMENTATION, False),
    ('segmentation_string', _set_ann('segmentation', 'polygon'),
     errors.MALFORMED_SEGMENTATION, False),
    ('no_segmentation', _set_ann('segmentation', None),
     errors.MALFORMED_SEGMENTATION, False),
    ('unknown_category', _set_ann('category_id', 3), errors.UNKNOWN_CATEGORY,
     False),
    ('unknown_image_id', _unknown_image, errors.UNKNOWN_IMAGE_ID, False),
]


def _prepare(tmp_path, mutate):
  root = str(tmp_path)
  images, annotations = _base(root)
  mutate(root, images, annotations)
  if any(a.get('segmentation', 0) is None for a in annotations):
    for a in annotations:
      if a.get('segmentation', 0) is None:
        del a['segmentation']
  return tu.write_json(os.path.join(root, 'ann.json'), images, annotations,
                       CATEGORIES)


@pytest.mark.parametrize('case,mutate,reason,image_level', _INVALID_CASES,
                         ids=[c[0] for c in _INVALID_CASES])
def test_invalid_record(tmp_path, capsys, case, mutate, reason, image_level):
  del case
  json_path = _prepare(tmp_path, mutate)
  out_dir = tmp_path / 'out'
  args = ['--image_dir', str(tmp_path / 'img'), '--annotations_file',
          json_path, '--output_prefix', str(out_dir / 'train'),
          '--num_shards', '3', '--log_every', '1']

  # Without --skip_invalid: non-zero exit, a message naming image and
  # annotation, and no file left behind.
  assert _main(args) == 1
  err = capsys.readouterr().err
  assert reason in err
  if reason != errors.UNKNOWN_IMAGE_ID:
    assert 'image 1 (a.jpg)' in err
  if not image_level:
    assert 'annotation id 12' in err
  assert tu.list_outputs(str(out_dir)) == []

  # With --skip_invalid: the record is skipped and counted.
  assert _main(args + ['--skip_invalid']) == 0
  err = capsys.readouterr().err
  with open(out_dir / 'train.summary.json') as f:
    summary = json.load(f)
  assert summary['skipped_by_reason'] == {reason: 1}
  assert reason in err and 'skipped' in err
  decoded = [tu.mg_decode(r) for r in tu.read_records(
      str(out_dir / 'train-*.tfrecord'))]
  by_id = {d['source_id']: d for d in decoded}
  if image_level:
    assert sorted(by_id) == [b'2'] and summary['images_skipped'] == 1
    assert summary['instances'] == 1
  else:
    assert sorted(by_id) == [b'1', b'2'] and summary['instances_skipped'] == 1
    assert summary['instances'] == 2
    np.testing.assert_array_equal(by_id[b'1']['groundtruth_classes'], [1])


def test_box_within_tolerance_is_clipped(tmp_path):
  json_path = _prepare(tmp_path, _set_ann('bbox', [12, 4, 12.6, 12]))
  prefix = str(tmp_path / 'out' / 'train')
  summary = create_coco_tfrecord.convert(str(tmp_path / 'img'), json_path,
                                         prefix)
  assert summary.instances == 3
  decoded = {d['source_id']: d for d in map(
      tu.mg_decode, tu.read_records(prefix + '-*.tfrecord'))}
  np.testing.assert_allclose(decoded[b'1']['groundtruth_boxes'][1],
                             [4 / H, 12 / W, 16 / H, 1.0], rtol=1e-6)


def test_compressed_counts_decoder_matches_pycocotools():
  rng = np.random.default_rng(0)
  mask = (rng.random((H, W)) < 0.4).astype(np.uint8)
  rle = tu.compressed_rle(mask)
  assert coco_segmentation.decode_compressed_counts(rle['counts']) == (
      tu.uncompressed_rle(mask)['counts'])


# ---- hostile input and output: one line naming the culprit, nothing left ----


def _args(tmp_path, json_path, prefix, *extra):
  return ['--image_dir', str(tmp_path / 'img'), '--annotations_file',
          json_path, '--output_prefix', prefix, '--log_every', '100',
          *extra]


def _one_error_line(err):
  """The stderr of a failed run: exactly one line, the error."""
  lines = [l for l in err.splitlines() if l.strip()]
  assert len(lines) == 1, err
  assert 'Traceback' not in err
  return lines[0]


@pytest.mark.parametrize('repeat', [
    {},  # the same entry twice
    {'file_name': 'b.png'},  # the same id, another file
    {'id': 3},  # the same file, another id
], ids=['same_entry', 'same_id', 'same_file'])
def test_duplicate_image_is_reported_and_written_once(tmp_path, capsys,
                                                      repeat):
  def duplicate(root, images, annotations):
    images.append(dict(images[0], **repeat))
  json_path = _prepare(tmp_path, duplicate)
  out_dir = tmp_path / 'out'
  args = _args(tmp_path, json_path, str(out_dir / 'train'))
  assert _main(args) == 1
  line = _one_error_line(capsys.readouterr().err)
  assert 'duplicate_image' in line and 'a.jpg' in line
  assert not out_dir.exists()  # not even the directory it created
  assert _main(args + ['--skip_invalid']) == 0
  assert 'duplicate_image' in capsys.readouterr().err
  records = tu.read_records(str(out_dir / 'train-*.tfrecord'))
  assert sorted(tu.mg_decode(r)['source_id'] for r in records) == [b'1', b'2']
  with open(out_dir / 'train.summary.json') as f:
    summary = json.load(f)
  assert summary['skipped_by_reason'] == {'duplicate_image': 1}
  assert (summary['images'], summary['instances']) == (2, 3)


def test_annotations_file_that_is_not_json(tmp_path, capsys):
  _base(str(tmp_path))
  json_path = str(tmp_path / 'ann.json')
  with open(json_path, 'w') as f:
    f.write('{"images": [1, ')
  out_dir = tmp_path / 'out'
  assert _main(_args(tmp_path, json_path, str(out_dir / 'x'))) == 1
  line = _one_error_line(capsys.readouterr().err)
  assert f'--annotations_file={json_path} is not JSON' in line
  assert not out_dir.exists()
  with open(json_path, 'w') as f:
    f.write('[1, 2]')
  assert _main(_args(tmp_path, json_path, str(out_dir / 'x'))) == 1
  assert 'not a COCO object' in _one_error_line(capsys.readouterr().err)


def test_output_prefix_under_a_regular_file(tmp_path, capsys):
  json_path = _prepare(tmp_path, lambda *_: None)
  (tmp_path / 'plain').write_text('a file')
  prefix = str(tmp_path / 'plain' / 'sub' / 'train')
  assert _main(_args(tmp_path, json_path, prefix)) == 1
  line = _one_error_line(capsys.readouterr().err)
  assert f'{tmp_path / "plain"} is a file, not a directory' in line
  assert 'Errno' not in line
  assert (tmp_path / 'plain').read_text() == 'a file'


def test_read_only_output_directory(tmp_path, capsys, monkeypatch):
  json_path = _prepare(tmp_path, lambda *_: None)
  out_dir = tmp_path / 'ro'
  out_dir.mkdir()
  out_dir.chmod(0o555)
  if os.geteuid() == 0:  # root writes anywhere: refuse like the OS would
    def refuse(path, *unused_args, **unused_kwargs):
      raise tf.errors.PermissionDeniedError(None, None,
                                            f'{path}; Permission denied')
    monkeypatch.setattr(tf.io, 'TFRecordWriter', refuse)
  try:
    assert _main(_args(tmp_path, json_path, str(out_dir / 'train'))) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f'--output_prefix={out_dir / "train"}' in line
    assert 'writable' in line
    assert os.listdir(out_dir) == []
  finally:
    out_dir.chmod(0o755)


def test_shards_of_another_count_are_refused_unless_overwrite(tmp_path,
                                                              capsys):
  json_path = _prepare(tmp_path, lambda *_: None)
  prefix = str(tmp_path / 'out' / 'train')
  assert _main(_args(tmp_path, json_path, prefix, '--num_shards', '3')) == 0
  three = sorted(os.listdir(tmp_path / 'out'))
  capsys.readouterr()
  assert _main(_args(tmp_path, json_path, prefix, '--num_shards', '2')) == 1
  line = _one_error_line(capsys.readouterr().err)
  assert '3 shard(s) of another --num_shards' in line and '--overwrite' in line
  assert sorted(os.listdir(tmp_path / 'out')) == three  # untouched
  # The same count again is a plain rewrite; --overwrite removes the others.
  assert _main(_args(tmp_path, json_path, prefix, '--num_shards', '3')) == 0
  assert _main(_args(tmp_path, json_path, prefix, '--num_shards', '2',
                     '--overwrite')) == 0
  assert sorted(glob.glob(prefix + '-*.tfrecord')) == [
      prefix + '-00000-of-00002.tfrecord', prefix + '-00001-of-00002.tfrecord']
  assert len(tu.read_records(prefix + '-*.tfrecord')) == 2


def test_temporaries_of_a_killed_run_are_removed(tmp_path):
  json_path = _prepare(tmp_path, lambda *_: None)
  prefix = str(tmp_path / 'out' / 'train')
  os.makedirs(tmp_path / 'out')
  killed = subprocess.Popen([sys.executable, '-c', 'pass'])
  killed.wait()  # its PID no longer runs, like a SIGKILLed converter's
  leftovers = [f'{prefix}-00000-of-00002.tfrecord.tmp-{killed.pid}',
               f'{prefix}-00002-of-00003.tfrecord.tmp-{killed.pid}',
               f'{prefix}.label_map.json.tmp-{killed.pid}']
  for path in leftovers:
    with open(path, 'wb') as f:
      f.write(b'half')
  assert _main(_args(tmp_path, json_path, prefix, '--num_shards', '2')) == 0
  assert not [n for n in os.listdir(tmp_path / 'out') if '.tmp-' in n]
  assert len(tu.read_records(prefix + '-*.tfrecord')) == 2


def test_missing_flags_are_named(capsys):
  assert _main(['--image_dir', 'x']) == 1
  line = _one_error_line(capsys.readouterr().err)
  assert line == ('create_coco_tfrecord: error: --annotations_file, '
                  '--output_prefix required')
