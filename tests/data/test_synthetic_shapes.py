# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The synthetic shapes set: deterministic, varied, and with touching twins."""

import hashlib
import json
import os

import numpy as np
from pycocotools import coco as coco_api
from scipy import ndimage

from mnc_tf.data import synthetic_shapes


def _load(directory, split):
  with open(os.path.join(directory, split + '.json')) as f:
    return json.load(f)


def _files(directory, split):
  folder = os.path.join(directory, split)
  out = {}
  for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name), 'rb') as f:
      out[name] = f.read()
  return out


def test_deterministic_for_a_seed(tmp_path):
  a, b, c = (str(tmp_path / n) for n in 'abc')
  assert synthetic_shapes.main(['synthetic_shapes', '--output_dir', a,
                                '--num_train', '4', '--num_val', '2',
                                '--seed', '3']) == 0
  synthetic_shapes.generate(b, num_train=4, num_val=2, seed=3)
  synthetic_shapes.generate(c, num_train=4, num_val=2, seed=4)
  for split in ('train', 'val'):
    assert _load(a, split) == _load(b, split)
    assert _files(a, split) == _files(b, split)
    assert _files(a, split) != _files(c, split)
  # Validation images do not depend on the number of training images.
  d = str(tmp_path / 'd')
  synthetic_shapes.generate(d, num_train=1, num_val=2, seed=3)
  assert _files(a, 'val') == _files(d, 'val')


def test_content(tmp_path):
  out = str(tmp_path / 'shapes')
  paths = synthetic_shapes.generate(out, num_train=40, num_val=0, seed=0)
  data = _load(out, 'train')
  assert [(c['id'], c['name']) for c in data['categories']] == [
      (1, 'circle'), (2, 'square'), (4, 'triangle')]
  assert {a['category_id'] for a in data['annotations']} == {1, 2, 4}
  sizes = np.array([(i['height'], i['width']) for i in data['images']])
  assert sizes.min() >= 128 and sizes.max() <= 256
  aspect = sizes[:, 1] / sizes[:, 0]
  assert aspect.min() < 0.8 and aspect.max() > 1.25

  coco = coco_api.COCO(paths['train'])
  relative, touching = [], 0
  for image in data['images']:
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[image['id']]))
    assert anns, 'every image has at least one instance'
    side = min(image['height'], image['width'])
    masks = [coco.annToMask(a).astype(bool) for a in anns]
    for ann, mask in zip(anns, masks):
      assert ann['iscrowd'] == 0 and isinstance(
          ann['segmentation']['counts'], str)
      assert mask.sum() == ann['area'] > 0
      relative.append(max(ann['bbox'][2], ann['bbox'][3]) / side)
    for i in range(len(anns)):
      grown = ndimage.binary_dilation(masks[i])
      for j in range(i + 1, len(anns)):
        if (anns[i]['category_id'] == anns[j]['category_id']
            and (grown & masks[j]).any()):
          touching += 1
    # Masks are the visible parts: no pixel belongs to two instances.
    assert np.sum(masks, axis=0).max() <= 1
  relative = np.array(relative)
  assert 0.15 <= np.median(relative) <= 0.5
  assert np.mean((relative > 0.1) & (relative < 0.7)) > 0.9
  assert touching >= 5, touching


def test_demo_defaults_unchanged():
  # Digests of the demo set taken before the hard-preset options existed
  # (Pillow 13.0, NumPy 2.4): pixels and visible masks of four images, and
  # the JSON files of a seed-7 set.  An option that consumes random numbers
  # or draws differently when off changes them.
  digest = hashlib.sha256()
  for index in range(4):
    image, instances = synthetic_shapes.generate_image(
        np.random.default_rng([7, 0, index]))
    digest.update(image.tobytes())
    for category, mask in instances:
      digest.update(bytes([category]))
      digest.update(np.packbits(mask).tobytes())
  assert digest.hexdigest() == (
      'dc8b64e46c1b2d0b0367f63653ee9d6c344c45573a84eb039d1c0a6fd6875aed')


def test_demo_json_unchanged(tmp_path):
  out = str(tmp_path / 'demo')
  synthetic_shapes.generate(out, num_train=3, num_val=2, seed=7)
  digests = [hashlib.sha256(open(os.path.join(out, s + '.json'), 'rb').read())
             .hexdigest() for s in ('train', 'val')]
  assert digests == [
      '5de4bb3ece75c01ec992e2554d5f1881419ff11b2aa3ebcdae6c16c682451d56',
      '8c5f3c9d3132893947eccc41e2448634cf0f2a40b50fcd208a624b445ea12710']


def test_hard_preset(tmp_path):
  out = str(tmp_path / 'hard')
  assert synthetic_shapes.main(['synthetic_shapes', '--output_dir', out,
                                '--preset=hard', '--num_train=24',
                                '--num_val=0', '--seed=1']) == 0
  data = _load(out, 'train')
  assert [c['id'] for c in data['categories']] == [1, 2, 4, 7, 10]
  assert {a['category_id'] for a in data['annotations']} == {1, 2, 4, 7, 10}
  sizes = np.array([(i['height'], i['width']) for i in data['images']])
  assert sizes.min() >= 160 and sizes.max() <= 352
  extent = np.array([max(a['bbox'][2:]) for a in data['annotations']])
  per_image = np.bincount([a['image_id'] for a in data['annotations']])[1:]
  # Many small instances: a fifth under 10 px, most under 40 px, none big.
  assert np.mean(extent < 10) > 0.12, np.mean(extent < 10)
  # (A rotated 56 px square spans 56 * sqrt(2) = 79 px.)
  assert np.mean(extent <= 40) > 0.7 and extent.max() <= 81
  assert per_image.min() >= 1 and per_image.mean() > 6
  coco = coco_api.COCO(os.path.join(out, 'train.json'))
  touching = 0
  for image in data['images']:
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[image['id']]))
    masks = [coco.annToMask(a).astype(bool) for a in anns]
    assert np.sum(masks, axis=0).max() <= 1
    for i, mask in enumerate(masks):
      grown = ndimage.binary_dilation(mask)
      touching += sum(bool((grown & other).any()) for other in masks[i + 1:])
  # Touching / overlapping pairs: about one per image.
  assert touching >= len(data['images']) // 2, touching


def test_hard_flags_override_preset_and_bad_input(tmp_path, capsys):
  out = str(tmp_path / 'h')
  assert synthetic_shapes.main(['s', '--output_dir', out, '--preset=hard',
                                '--num_train=2', '--num_val=0',
                                '--max_side=200']) == 0
  data = _load(out, 'train')
  assert max(max(i['height'], i['width']) for i in data['images']) <= 200
  assert synthetic_shapes.main(['s', '--output_dir', out, '--preset=hard',
                                '--max_instances=2']) == 1
  assert 'max_instances' in capsys.readouterr().err
  assert synthetic_shapes.main(['s', '--output_dir', out,
                                '--preset=easy']) == 1
  assert 'preset' in capsys.readouterr().err


def test_heldout_like_flags(tmp_path, capsys):
  """docs/custom_data.md's held-out-like set: 4 classes, 10-40 px, other ids."""
  out = str(tmp_path / 'h')
  assert synthetic_shapes.main([
      's', '--output_dir', out, '--preset=hard', '--num_train=6',
      '--num_val=0', '--min_side=180', '--max_side=340', '--object_px=10,40',
      '--max_distractors=3', '--classes=2:square,5:triangle,9:star,11:circle',
      '--seed=7']) == 0
  data = _load(out, 'train')
  assert [(c['id'], c['name']) for c in data['categories']] == [
      (2, 'square'), (5, 'triangle'), (9, 'star'), (11, 'circle')]
  assert {a['category_id'] for a in data['annotations']} <= {2, 5, 9, 11}
  # Extents: 10-40 px (a rotated 40 px square spans up to 57 px); occluded
  # instances may show less.
  extent = np.array([max(a['bbox'][2:]) for a in data['annotations']])
  assert extent.max() <= 57 and np.median(extent) >= 10, extent
  for bad, culprit in (('--object_px=40,10', 'object_px'),
                       ('--object_px=ten,40', 'object_px'),
                       ('--classes=2:blob', 'classes'),
                       ('--classes=2:star,2:ring', 'repeated')):
    assert synthetic_shapes.main(['s', '--output_dir', out, bad]) == 1
    assert culprit in capsys.readouterr().err
