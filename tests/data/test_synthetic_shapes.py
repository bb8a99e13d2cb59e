# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The synthetic shapes set: deterministic, varied, and with touching twins."""

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
  assert synthetic_shapes.main(['--output_dir', a, '--num_train', '4',
                                '--num_val', '2', '--seed', '3']) == 0
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
