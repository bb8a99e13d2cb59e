# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""`cascade.test_horizontal_flip`: the mirror's candidates join before voting.

The reference mirrors the image and the candidates with NumPy: the content
(the first `image_info[1, 1]` columns) is reversed, the padding stays, and
the mirror's candidate boxes / masks are mapped back with x -> width - x.
"""
import numpy as np
import tensorflow as tf

from mnc_tf.configs import model as model_cfg
from mnc_tf.modeling import factory
from mnc_tf.ops import box_utils
from tests.modeling.synthetic_example import CLASS_IDS
from tests.modeling.synthetic_example import make_example

CONTENT_WIDTH = 80   # of the 96-px canvas; the last 16 columns are padding
STAGES = ('stage3', 'stage5')


def padded_example():
  """The synthetic example with its right 16 columns turned into padding."""
  example = make_example()
  example['images'][:, :, CONTENT_WIDTH:, :] = 0.0
  example['image_info'][0, :2, 1] = CONTENT_WIDTH
  return example


def mirror_content(images, width=CONTENT_WIDTH):
  """`[B, H, W, 3]` with each image's first `width` columns reversed."""
  out = images.copy()
  out[:, :, :width] = images[:, :, width - 1::-1]
  return out


def candidates(outputs):
  """The pool the detection generator sees, from the stage outputs (NumPy)."""
  boxes = np.concatenate([outputs[f'{s}_boxes'] for s in STAGES], axis=1)
  masks = np.concatenate([outputs[f'{s}_masks'] for s in STAGES], axis=1)
  scores = np.concatenate([outputs[f'{s}_scores'][..., 1:] for s in STAGES],
                          axis=1)
  return boxes, masks, scores


def mirrored(boxes, masks, width=CONTENT_WIDTH):
  """NumPy: boxes (ymin, xmin, ymax, xmax) and in-box masks mirrored back
  about a content `width`."""
  ymin, xmin, ymax, xmax = np.moveaxis(boxes, -1, 0)
  boxes = np.stack([ymin, width - xmax, ymax, width - xmin], axis=-1)
  return boxes, masks[..., ::-1]


def numpy_outputs(model, images, info):
  out = model(tf.constant(images), tf.constant(info), training=False)
  return {k: v.numpy() for k, v in out.items()}


def generator_detections(model, pool):
  """The model's detection generator on a NumPy candidate pool, as NumPy."""
  want = model.detection_generator(*[tf.constant(t) for t in pool])
  return {k: v.numpy() for k, v in want.items()}


def assert_same_detections(got, want, atol):
  """The model's outputs `got` equal the generator's `want` (image 0).

  Returns:
    the number of detections (> 0).
  """
  num = int(want['num_detections'][0])
  assert num > 0
  assert int(got['num_detections'][0]) == num
  for key in ('detection_boxes', 'detection_scores', 'detection_masks',
              'detection_mask_boxes'):
    np.testing.assert_allclose(got[key][0, :num], want[key][0, :num],
                               atol=atol, err_msg=key)
  np.testing.assert_array_equal(
      got['detection_classes'][0, :num],
      np.array((0,) + CLASS_IDS)[want['detection_class_indices'][0, :num]])
  return num


def test_flip_boxes_left_right_matches_numpy():
  boxes = np.array([[[1, 2, 5, 9], [0, 0, 4, 30]],
                    [[3, 10, 7, 12], [2, 1, 6, 2]]], np.float32)
  widths = np.array([30, 12], np.float32)
  got = box_utils.flip_boxes_left_right(tf.constant(boxes), widths).numpy()
  want = np.stack([boxes[..., 0], widths[:, None] - boxes[..., 3],
                   boxes[..., 2], widths[:, None] - boxes[..., 1]], axis=-1)
  np.testing.assert_array_equal(got, want)
  # Flipping twice is the identity.
  twice = box_utils.flip_boxes_left_right(tf.constant(got), widths).numpy()
  np.testing.assert_array_equal(twice, boxes)


def test_detections_vote_over_the_image_and_its_mirror():
  tf.random.set_seed(0)
  model = factory.build_mnc_model(model_cfg.tiny_model_config(
      class_ids=CLASS_IDS, cascade={'test_horizontal_flip': True}))
  assert model.test_time_augmentation.get_config()['horizontal_flip']
  example = padded_example()
  images, info = example['images'], example['image_info']

  with_flip = numpy_outputs(model, images, info)
  # The intermediate outputs are the unflipped pass's; the mirror pass's are
  # those of the model run on the mirrored image.
  own = candidates(with_flip)
  mirror = candidates(numpy_outputs(model, mirror_content(images), info))
  mirror_boxes, mirror_masks = mirrored(*mirror[:2])
  pool = [np.concatenate([a, b], axis=1) for a, b in
          zip(own, (mirror_boxes, mirror_masks, mirror[2]))]
  want = generator_detections(model, pool)
  num = assert_same_detections(with_flip, want, atol=1e-5)

  # The mirror's candidates change the result (the test can fail).
  alone = model.detection_generator(*[tf.constant(t) for t in own])
  assert not np.allclose(alone['detection_masks'].numpy()[0, :num],
                         want['detection_masks'][0, :num], atol=1e-3)


def test_off_by_default():
  assert not model_cfg.Mnc().cascade.test_horizontal_flip
