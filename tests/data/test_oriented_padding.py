# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Training padding per orientation (`Parser(oriented_padding=True)`).

Landscape images pad to [scale, max_size] (rounded up to size_divisor),
portrait ones to the transpose; the pipeline batches one orientation at a
time.  References: the square-padded parser's output (a crop of it) and the
transposed image.
"""

import numpy as np
import pytest
import tensorflow as tf

import mnc_data_testutil as tu
from mnc_tf.configs import data as data_config
from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import input_pipeline
from mnc_tf.data import parser as parser_lib

HEIGHT, WIDTH = 40, 60          # Landscape content; scale 1 below.
SCALE, MAX_SIZE, DIVISOR = 40, 60, 16
LANDSCAPE, PORTRAIT, SQUARE = [48, 64], [64, 48], [64, 64]
CROP = 16


def _decoded(transpose=False, seed=0):
  """A landscape example (or its transpose) with 3 box-tight instances."""
  rng = np.random.default_rng(seed)
  image = rng.integers(0, 255, (HEIGHT, WIDTH, 3)).astype(np.uint8)
  masks = np.zeros((3, HEIGHT, WIDTH), np.uint8)
  boxes = []
  for k, (y0, x0, h, w) in enumerate(((2, 3, 20, 25), (15, 30, 22, 28),
                                      (30, 0, 10, 10))):
    block = rng.random((h, w)) < 0.7
    block[[0, -1], :] = True
    block[:, [0, -1]] = True
    masks[k, y0:y0 + h, x0:x0 + w] = block
    boxes.append([y0 / HEIGHT, x0 / WIDTH, (y0 + h) / HEIGHT,
                  (x0 + w) / WIDTH])
  boxes = np.array(boxes, np.float32)
  if transpose:
    image = image.transpose(1, 0, 2)
    masks = masks.transpose(0, 2, 1)
    boxes = boxes[:, [1, 0, 3, 2]]
  return {
      'source_id': tf.constant(7, tf.int64),
      'image': tf.constant(image),
      'height': tf.constant(image.shape[0], tf.int64),
      'width': tf.constant(image.shape[1], tf.int64),
      'groundtruth_classes': tf.constant([1, 2, 4], tf.int64),
      'groundtruth_is_crowd': tf.zeros([3], tf.bool),
      'groundtruth_area': tf.constant(masks.sum(axis=(1, 2)), tf.float32),
      'groundtruth_boxes': tf.constant(boxes),
      'groundtruth_instance_masks': tf.constant(masks),
  }


def _parse(data, oriented, crop_size=0):
  parser = parser_lib.Parser(
      scale=SCALE, max_size=MAX_SIZE, size_divisor=DIVISOR,
      padded_size=None if oriented else SQUARE, max_num_instances=4,
      aug_rand_hflip=False, mask_crop_size=crop_size,
      oriented_padding=oriented)
  return parser.parse_fn(is_training=True)(data)


def test_sizes_and_config_errors():
  params = data_config.Parser(scale=600, max_size=1000, size_divisor=16,
                              oriented_padding=True)
  assert data_config.oriented_padded_sizes(params) == [[608, 1008],
                                                       [1008, 608]]
  with pytest.raises(ValueError, match='oriented_padding'):
    data_config.resolve_padded_size(params.replace(padded_size=[1008, 1008]))


@pytest.mark.parametrize('transpose', [False, True])
def test_each_orientation_is_the_square_output_cropped(transpose):
  """Image, boxes, image_info, full masks and crops: as the square's."""
  data = _decoded(transpose)
  size = PORTRAIT if transpose else LANDSCAPE
  image, labels = _parse(data, oriented=True)
  square_image, square = _parse(data, oriented=False)
  assert image.shape == (*size, 3) and labels['gt_masks'].shape == (4, *size)
  np.testing.assert_array_equal(image, square_image[:size[0], :size[1]])
  assert np.all(square_image.numpy()[size[0]:, :] == 0)   # Only padding cut.
  assert np.all(square_image.numpy()[:, size[1]:] == 0)
  for key in ('image_info', 'gt_boxes', 'gt_classes', 'gt_num_instances'):
    np.testing.assert_array_equal(labels[key], square[key])
  np.testing.assert_array_equal(labels['gt_masks'],
                                square['gt_masks'][:, :size[0], :size[1]])
  _, crops = _parse(data, oriented=True, crop_size=CROP)
  _, square_crops = _parse(data, oriented=False, crop_size=CROP)
  np.testing.assert_array_equal(crops['gt_masks']['crops'],
                                square_crops['gt_masks']['crops'])


def test_portrait_is_the_transposed_landscape():
  """Independent of the square path: at scale 1 a transposed input parses
  to the transposed output (boxes with y / x swapped)."""
  image, labels = _parse(_decoded(False), oriented=True)
  image_t, labels_t = _parse(_decoded(True), oriented=True)
  np.testing.assert_allclose(image_t, np.transpose(image, (1, 0, 2)),
                             atol=1e-6)
  np.testing.assert_allclose(labels_t['gt_boxes'][:3],
                             labels['gt_boxes'].numpy()[:3][:, [1, 0, 3, 2]])
  np.testing.assert_array_equal(labels_t['image_info'],
                                labels['image_info'].numpy()[:, ::-1])
  np.testing.assert_array_equal(labels_t['gt_masks'],
                                np.transpose(labels['gt_masks'], (0, 2, 1)))
  assert labels['image_info'].numpy()[1].tolist() == [HEIGHT, WIDTH]


@pytest.fixture(scope='module')
def records(tmp_path_factory):
  """6 images alternating landscape / portrait, one instance each."""
  root = tmp_path_factory.mktemp('oriented')
  images, annotations = [], []
  for image_id in range(1, 7):
    h, w = (24, 40) if image_id % 2 else (40, 24)
    name = '%d.png' % image_id
    tu.save_image(str(root / 'img' / name), tu.random_image(h, w, image_id))
    images.append({'id': image_id, 'file_name': name, 'height': h,
                   'width': w})
    mask = tu.box_mask(h, w, 2, 3, 15, 18)
    annotations.append({'id': image_id, 'image_id': image_id,
                        'category_id': 1, 'iscrowd': 0,
                        'segmentation': tu.compressed_rle(mask),
                        'bbox': tu.coco_bbox(mask)})
  json_path = tu.write_json(str(root / 'ann.json'), images, annotations,
                            [{'id': 1, 'name': 'a'}])
  create_coco_tfrecord.convert(str(root / 'img'), json_path,
                               str(root / 'rec' / 'train'), num_shards=1)
  return str(root / 'rec' / 'train-*.tfrecord')


def test_pipeline_batches_never_mix_orientations(records):
  params = data_config.DataConfig(
      input_path=records, is_training=True, global_batch_size=2,
      shuffle_buffer_size=6, seed=3, deterministic=True,
      parser=data_config.Parser(scale=16, max_size=24, size_divisor=8,
                                max_num_instances=2, mask_crop_size=8,
                                oriented_padding=True))
  dataset = input_pipeline.build_dataset(records, params)
  assert dataset.element_spec[0].shape.as_list() == [2, None, None, 3]
  shapes = set()
  for images, labels in dataset.take(8):
    scaled = labels['image_info'][:, 1, :].numpy()
    landscape = scaled[:, 0] <= scaled[:, 1]
    assert landscape.all() or not landscape.any(), scaled   # One orientation.
    expected = (16, 24) if landscape[0] else (24, 16)
    assert tuple(images.shape[1:3]) == expected
    assert labels['gt_masks']['crops'].shape == (2, 2, 8, 8)
    shapes.add(expected)
  assert shapes == {(16, 24), (24, 16)}


def test_from_config_takes_null_padded_size_as_empty():
  """`padded_size: null` in a YAML file means no fixed padding, as `[]`."""
  parsers = []
  for padded_size in (None, []):
    params = data_config.Parser(scale=SCALE, max_size=MAX_SIZE,
                                size_divisor=DIVISOR, oriented_padding=True,
                                aug_rand_hflip=False)
    params.padded_size = padded_size
    parsers.append(parser_lib.Parser.from_config(params))
  images = [p.parse_fn(True)(_decoded())[0] for p in parsers]
  assert parsers[0].padded_size == parsers[1].padded_size == SQUARE
  assert images[0].shape[:2] == images[1].shape[:2] == LANDSCAPE
