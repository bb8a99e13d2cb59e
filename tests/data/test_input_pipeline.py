# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""COCO JSON -> TFRecord -> tf.data pipeline: resize, flip, padding, sharding."""

import io

import numpy as np
from PIL import Image
from pycocotools import coco as coco_api
import pytest
import tensorflow as tf

import mnc_data_testutil as tu
from mnc_tf.configs import data as data_config
from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import input_pipeline
from mnc_tf.data import parser as parser_lib

SIZES = {1: (24, 40), 2: (40, 24), 3: (30, 30), 4: (16, 20)}
SCALE, MAX_SIZE, DIVISOR, MAX_INSTANCES = 16, 24, 8, 4
CATEGORIES = [{'id': 3, 'name': 'a'}, {'id': 8, 'name': 'b'}]


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
  """4 PNG images, polygons + compressed RLE + a crowd, in 2 shards."""
  root = tmp_path_factory.mktemp('pipeline')
  images, annotations = [], []
  for image_id, (h, w) in SIZES.items():
    name = '%d.png' % image_id
    tu.save_image(str(root / 'img' / name), tu.random_image(h, w, image_id))
    images.append({'id': image_id, 'file_name': name, 'height': h,
                   'width': w})
    rng = np.random.default_rng(image_id)
    for k in range(2):
      y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
      y1, x1 = y0 + rng.integers(3, h // 2), x0 + rng.integers(3, w // 2)
      if k == 0:  # polygon (a triangle)
        seg = [[float(x0), float(y0), float(x1), float(y0), float(x0),
                float(y1)]]
        bbox = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
      else:  # compressed RLE with a hole
        mask = tu.box_mask(h, w, y0, x0, y1, x1)
        mask[y0 + 1, x0 + 1] = 0
        seg, bbox = tu.compressed_rle(mask), tu.coco_bbox(mask)
      annotations.append({
          'id': len(annotations) + 1, 'image_id': image_id,
          'category_id': [3, 8][k], 'iscrowd': int(image_id == 3 and k == 1),
          'segmentation': seg, 'bbox': bbox})
  json_path = tu.write_json(str(root / 'ann.json'), images, annotations,
                            CATEGORIES)
  create_coco_tfrecord.convert(str(root / 'img'), json_path,
                               str(root / 'rec' / 'two'), num_shards=2)
  create_coco_tfrecord.convert(str(root / 'img'), json_path,
                               str(root / 'rec' / 'one'), num_shards=1)
  return {'root': root, 'coco': coco_api.COCO(json_path),
          'two': str(root / 'rec' / 'two-*.tfrecord'),
          'one': str(root / 'rec' / 'one-*.tfrecord')}


def _params(is_training, batch=2, **kwargs):
  params = data_config.DataConfig(
      is_training=is_training, global_batch_size=batch,
      drop_remainder=is_training, shuffle_buffer_size=8, seed=7,
      deterministic=True,
      parser=data_config.Parser(scale=SCALE, max_size=MAX_SIZE,
                                size_divisor=DIVISOR,
                                max_num_instances=MAX_INSTANCES,
                                mask_crop_size=0))
  return params.replace(**kwargs) if kwargs else params


def _elements(dataset, limit=None):
  """Unbatches to a list of numpy (image, labels) per example."""
  out = []
  for images, labels in dataset:
    labels = tf.nest.map_structure(lambda t: t.numpy(), labels)
    for b in range(images.shape[0]):
      out.append((images[b].numpy(),
                  tf.nest.map_structure(lambda v, b=b: v[b], labels)))
      if limit and len(out) >= limit:
        return out
  return out


def _expected_scaled(h, w):
  s = min(SCALE / min(h, w), MAX_SIZE / max(h, w))
  return int(round(h * s)), int(round(w * s))


def test_scaled_size_math():
  cases = [((480, 640), 600, 1000, (600, 800)),
           ((300, 1000), 600, 1000, (300, 1000)),
           ((1000, 200), 600, 1000, (1000, 200)),
           ((10, 10), 600, 1000, (600, 600)),
           ((375, 500), 600, 1000, (600, 800)),
           ((240, 1000), 600, 1000, (240, 1000)),
           ((7, 5), 16, 24, (22, 16))]
  for size, scale, max_size, expected in cases:
    got = parser_lib.compute_scaled_size(tf.constant(size), scale, max_size)
    assert tuple(got.numpy().astype(int)) == expected, size
  assert data_config.resolve_padded_size(data_config.Parser()) == [1024, 1024]
  with pytest.raises(ValueError):
    data_config.resolve_padded_size(
        data_config.Parser(max_size=100, padded_size=[64, 128]))


def test_eval_pipeline_matches_ann_to_mask(dataset):
  coco = dataset['coco']
  params = _params(is_training=False)
  ds = input_pipeline.build_dataset(dataset['two'], params)
  elements = _elements(ds)
  assert sorted(int(l['source_id']) for _, l in elements) == [1, 2, 3, 4]
  mean = np.array(data_config.MEAN_NORM, np.float32)
  std = np.array(data_config.STDDEV_NORM, np.float32)
  for image, labels in elements:
    image_id = int(labels['source_id'])
    h, w = SIZES[image_id]
    sh, sw = _expected_scaled(h, w)
    assert image.shape == (24, 24, 3) and image.dtype == np.float32
    np.testing.assert_allclose(
        labels['image_info'],
        [[h, w], [sh, sw], [sh / h, sw / w], [0, 0]], rtol=1e-6)
    # Image: bilinear resize of the normalised original, zero padding.
    original = np.asarray(Image.open(dataset['root'] / 'img' /
                                     ('%d.png' % image_id)), np.float32)
    expected = tf.image.resize((original / 255.0 - mean) / std,
                               [sh, sw]).numpy()
    np.testing.assert_allclose(image[:sh, :sw], expected, atol=1e-4)
    assert not image[sh:].any() and not image[:, sw:].any()

    anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id], iscrowd=None))
    n = int(labels['gt_num_instances'])
    assert n == len(anns) == 2
    for k, ann in enumerate(anns):
      expected_mask = np.zeros((24, 24), np.uint8)
      expected_mask[:sh, :sw] = tu.nearest_resize(coco.annToMask(ann), sh, sw)
      np.testing.assert_array_equal(labels['gt_masks'][k], expected_mask)
      x, y, bw, bh = ann['bbox']
      np.testing.assert_allclose(
          labels['gt_boxes'][k],
          [y * sh / h, x * sw / w, (y + bh) * sh / h, (x + bw) * sw / w],
          rtol=1e-5)
      assert labels['gt_classes'][k] == ann['category_id']
      assert labels['gt_is_crowd'][k] == ann['iscrowd']
    assert (labels['gt_classes'][n:] == -1).all()
    assert (labels['gt_boxes'][n:] == -1).all()
    assert not labels['gt_masks'][n:].any()

    # Model Garden's COCO-evaluator groundtruths, in original pixels.
    gt = labels['groundtruths']
    assert int(gt['source_id']) == image_id and gt['num_detections'] == 2
    assert (gt['height'], gt['width']) == (h, w)
    for k, ann in enumerate(anns):
      x, y, bw, bh = ann['bbox']
      np.testing.assert_allclose(gt['boxes'][k], [y, x, y + bh, x + bw],
                                 rtol=1e-5)
      mask = np.asarray(Image.open(io.BytesIO(gt['masks'][k])))
      np.testing.assert_array_equal(mask, coco.annToMask(ann))
    assert gt['masks'][2] == b'' and gt['classes'][2] == -1


def test_training_flips_image_boxes_and_masks_together(dataset):
  eval_elements = _elements(input_pipeline.build_dataset(
      dataset['two'], _params(is_training=False)))
  reference = {int(l['source_id']): (i, l) for i, l in eval_elements}
  train = _elements(input_pipeline.build_dataset(
      dataset['two'], _params(is_training=True, batch=2)), limit=24)
  flipped_count = 0
  for image, labels in train:
    image_id = int(labels['source_id'])
    ref_image, ref = reference[image_id]
    sh, sw = (int(v) for v in ref['image_info'][1])
    # In training the crowd instance of image 3 is dropped.
    keep = [k for k in range(2) if not ref['gt_is_crowd'][k]]
    n = int(labels['gt_num_instances'])
    assert n == len(keep)
    flipped = not np.allclose(image, ref_image, atol=1e-3)
    if flipped:
      flipped_count += 1
      np.testing.assert_allclose(image[:sh, :sw], ref_image[:sh, sw - 1::-1],
                                 atol=1e-4)
      assert not image[:, sw:].any()
    for row, k in enumerate(keep):
      box, ref_box = labels['gt_boxes'][row], ref['gt_boxes'][k]
      mask, ref_mask = labels['gt_masks'][row], ref['gt_masks'][k]
      if flipped:
        np.testing.assert_allclose(
            box, [ref_box[0], sw - ref_box[3], ref_box[2], sw - ref_box[1]],
            atol=1e-4)
        np.testing.assert_array_equal(mask[:sh, :sw], ref_mask[:sh, sw - 1::-1])
      else:
        np.testing.assert_allclose(box, ref_box, atol=1e-4)
        np.testing.assert_array_equal(mask, ref_mask)
      assert labels['gt_classes'][row] == ref['gt_classes'][k]
  assert 0 < flipped_count < len(train)


def test_deterministic_mode_repeats_exactly(dataset):
  runs = []
  for _ in range(2):
    ds = input_pipeline.build_dataset(dataset['two'],
                                      _params(is_training=True, batch=2))
    runs.append(_elements(ds, limit=8))
  for (image_a, labels_a), (image_b, labels_b) in zip(*runs):
    np.testing.assert_array_equal(image_a, image_b)
    np.testing.assert_array_equal(labels_a['gt_boxes'], labels_b['gt_boxes'])
    assert labels_a['source_id'] == labels_b['source_id']


@pytest.mark.parametrize('files', ['two', 'one'])
def test_input_context_shards_between_pipelines(dataset, files):
  seen = []
  for pipeline_id in range(2):
    context = tf.distribute.InputContext(
        num_input_pipelines=2, input_pipeline_id=pipeline_id,
        num_replicas_in_sync=2)
    ds = input_pipeline.build_dataset(
        dataset[files], _params(is_training=False, batch=4), context)
    batches = list(ds)
    assert max(images.shape[0] for images, _ in batches) <= 2
    seen.append(sorted(int(s) for _, labels in batches
                       for s in labels['source_id']))
  assert seen[0] and seen[1]
  assert not set(seen[0]) & set(seen[1])
  assert sorted(seen[0] + seen[1]) == [1, 2, 3, 4]


def test_distribute_datasets_from_function(dataset):
  strategy = tf.distribute.get_strategy()
  params = _params(is_training=True, batch=2)
  dist = strategy.distribute_datasets_from_function(
      lambda ctx: input_pipeline.build_dataset(dataset['two'], params, ctx))
  images, labels = next(iter(dist))
  assert images.shape == (2, 24, 24, 3)
  assert labels['gt_masks'].shape == (2, MAX_INSTANCES, 24, 24)
  assert labels['gt_masks'].dtype == tf.uint8


def test_cache_keeps_flips_random(dataset):
  params = _params(is_training=True, batch=1, cache=True)
  train = _elements(input_pipeline.build_dataset(dataset['one'], params),
                    limit=24)
  by_id = {}
  for image, labels in train:
    by_id.setdefault(int(labels['source_id']), []).append(image)
  assert sorted(by_id) == [1, 2, 3, 4]
  # Some image came out both flipped and not flipped.
  assert any(not np.allclose(a, b) for images in by_id.values()
             for a in images for b in images)


def test_reads_model_garden_records(tmp_path):
  """Records from Model Garden's own COCO converter go through our pipeline."""
  from official.vision.data import create_coco_tf_record  # pylint: disable=g-import-not-at-top
  h, w = 20, 30
  tu.save_image(str(tmp_path / 'img' / 'mg.jpg'), tu.smooth_image(h, w),
                'JPEG')
  image = {'id': 42, 'file_name': 'mg.jpg', 'height': h, 'width': w}
  ann = {'id': 1, 'image_id': 42, 'category_id': 5, 'iscrowd': 0,
         'segmentation': [[2.0, 3.0, 20.0, 3.0, 11.0, 15.0]],
         'bbox': [2.0, 3.0, 18.0, 12.0], 'area': 108.0}
  example, _ = create_coco_tf_record.create_tf_example(
      image, [str(tmp_path / 'img')], bbox_annotations=[ann],
      id_to_name_map={5: 'five'}, include_masks=True)
  path = str(tmp_path / 'mg.tfrecord')
  with tf.io.TFRecordWriter(path) as writer:
    writer.write(example.SerializeToString())
  ((_, labels),) = _elements(input_pipeline.build_dataset(
      path, _params(is_training=False, batch=1)))
  sh, sw = _expected_scaled(h, w)
  coco = coco_api.COCO()
  coco.dataset = {'images': [image], 'annotations': [ann],
                  'categories': [{'id': 5, 'name': 'five'}]}
  coco.createIndex()
  expected = np.zeros((24, 24), np.uint8)
  expected[:sh, :sw] = tu.nearest_resize(coco.annToMask(ann), sh, sw)
  assert int(labels['source_id']) == 42 and labels['gt_classes'][0] == 5
  np.testing.assert_array_equal(labels['gt_masks'][0], expected)
  np.testing.assert_allclose(
      labels['gt_boxes'][0],
      [3 * sh / h, 2 * sw / w, 15 * sh / h, 20 * sw / w], rtol=1e-5)


def test_instances_beyond_max_are_dropped_and_empty_images_pass():
  masks = np.zeros((6, 10, 12), np.uint8)
  for k in range(6):
    masks[k, k:k + 3, k:k + 4] = 1
  data = {
      'source_id': tf.constant(5, tf.int64),
      'image': tf.zeros([10, 12, 3], tf.uint8),
      'height': tf.constant(10, tf.int64), 'width': tf.constant(12, tf.int64),
      'groundtruth_classes': tf.range(1, 7, dtype=tf.int64),
      'groundtruth_is_crowd': tf.zeros([6], tf.bool),
      'groundtruth_area': tf.ones([6]),
      'groundtruth_boxes': tf.constant(
          [[k / 10, k / 12, (k + 3) / 10, (k + 4) / 12] for k in range(6)],
          tf.float32),
      'groundtruth_instance_masks': tf.constant(masks),
  }
  parser = parser_lib.Parser(scale=10, max_size=12, size_divisor=4,
                             max_num_instances=4, mask_crop_size=0)
  image, labels = parser.parse_fn(is_training=True)(data)
  assert image.shape == (12, 12, 3)
  assert int(labels['gt_num_instances']) == 4
  assert labels['gt_masks'].shape == (4, 12, 12)
  empty = dict(data, groundtruth_classes=tf.zeros([0], tf.int64),
               groundtruth_is_crowd=tf.zeros([0], tf.bool),
               groundtruth_area=tf.zeros([0]),
               groundtruth_boxes=tf.zeros([0, 4]),
               groundtruth_instance_masks=tf.zeros([0, 10, 12], tf.uint8))
  for is_training in (True, False):
    _, labels = parser.parse_fn(is_training)(
        dict(empty, flip_seed=tf.constant([1, 2], tf.int64)))
    assert int(labels['gt_num_instances']) == 0
    assert (labels['gt_classes'].numpy() == -1).all()
    assert labels['gt_masks'].shape == (4, 12, 12)
