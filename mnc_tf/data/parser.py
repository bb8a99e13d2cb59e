# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Decoded example -> (image, labels) for MNC: flip, resize, normalise, pad.

Follows Model Garden's `parser.Parser` convention: `parse_fn(is_training)`
returns the function mapped over the decoded examples.

Resize (the paper's, §5): the shorter side goes to `scale` unless the longer
side would then exceed `max_size`, in which case the longer side goes to
`max_size`; the aspect ratio is kept:

    s = min(scale / min(h, w), max_size / max(h, w))
    scaled_size = round([h, w] * s)

The image is resized bilinearly, then padded at the bottom / right with zeros
(after normalisation, i.e. the mean colour) to `padded_size`, or with
`oriented_padding` to the size of its orientation (landscape / square:
[scale, max_size], portrait: [max_size, scale], rounded up to
`size_divisor`; `configs.data.oriented_padded_sizes`).  Masks are
resized by nearest neighbour on the same pixel grid (half-pixel centres:
output pixel i samples input pixel floor((i + 0.5) * h / scaled_h)) and
padded with 0.  Boxes are multiplied by the per-axis scale
`scaled_size / [h, w]` (see `image_info`).

Scale jitter (training only, `aug_scale_min` / `aug_scale_max`, Model
Garden's names and meaning): the resize target is multiplied by a factor r
drawn uniformly from [aug_scale_min, aug_scale_max]; the image is resized to
jittered_size = round(scaled_size * r) and, where that exceeds scaled_size,
a window of scaled_size at a random offset is kept, so the padded size (and
the cost of a step) does not change:

    offset = floor(max(jittered_size - scaled_size, 0) * u),  u ~ U[0, 1)^2
    content = min(jittered_size, scaled_size)

Boxes are scaled by jittered_size / [h, w], shifted by -offset and clipped
to the window (instances left with no area are dropped); masks follow the
same window (outside it they are zero, as the image there is padding).
With r = 1 (the default, and always in evaluation) offset is 0 and content
is scaled_size.  The draws use the same per-element seed as the flip.

Random horizontal flip (training only, p = 0.5) moves image, boxes (x -> w - x,
min and max swapped) and masks together: the image and boxes are flipped
before the resize, the masks after it (nearest-neighbour resampling does not
commute with a flip), so a flipped example is exactly the mirror image of the
unflipped one within the scaled area.
The coin is `tf.random.stateless_uniform` seeded with the element's
`flip_seed` when the decoded dict has one (the input pipeline adds it, so a
seeded pipeline flips the same images on every run), else a stateful draw.

Output (per example; the pipeline batches it; Hp x Wp is the padded size,
static unless `oriented_padding`):
  image: `dtype` [Hp, Wp, 3], normalised RGB: (x / 255 - mean) / stddev.
  labels:
    image_info: float32 [4, 2]: [[h, w], [content_h, content_w],
      [scale_y, scale_x], [offset_y, offset_x]] (Model Garden's layout;
      without scale jitter content = scaled size and offset 0).
    gt_boxes: float32 [max_num_instances, 4], [ymin, xmin, ymax, xmax] in
      pixels of the padded network input; padding rows -1.
    gt_classes: int32 [max_num_instances], the data set's category ids;
      padding -1.
    gt_masks: uint8 [max_num_instances, Hp, Wp], full-image 0 / 1 masks
      aligned with `image`; padding all 0.  In training with
      `mask_crop_size` C > 0 instead a dict {'crops': uint8
      [max_num_instances, C, C]}: each instance's mask coverage (x 255) on a
      C x C grid over `mask_crop_targets.crop_boxes(gt_boxes, [Hp, Wp])`
      (its gt box + 1 pixel, clipped to the image), sampled from the
      original-resolution mask (no full-image mask is made); padding 0.
    gt_is_crowd: int32 [max_num_instances], 0 / 1; padding 0.
    gt_num_instances: int32 scalar, the valid rows (<= max_num_instances).
    source_id: int64 scalar.
    groundtruths (evaluation only): Model Garden's COCO-evaluator format,
      padded to max_num_instances: source_id int64, height / width int64,
      num_detections int32, boxes float32 [N, 4] in *original* image pixels
      (padding -1), classes int32 (-1), areas float32 (-1), is_crowds int32
      (0), masks string [N] of PNGs (padding '') when the decoder kept them.
In training, crowd instances are dropped first if
`skip_crowd_during_training`; instances beyond `max_num_instances` are
dropped (in record order).
"""

import tensorflow as tf

from official.vision.dataloaders import parser as mg_parser
from official.vision.ops import box_ops
from official.vision.ops import preprocess_ops

from mnc_tf.configs import data as data_config
from mnc_tf.ops import mask_crop_targets


def compute_scaled_size(image_size, scale, max_size):
  """The resized [height, width] (float32, whole numbers) of an image.

  Args:
    image_size: [2] tensor, [height, width] of the original image.
    scale: target of the shorter side.
    max_size: cap on the longer side.

  Returns:
    float32 [2] tensor.
  """
  image_size = tf.cast(image_size, tf.float32)
  factor = tf.minimum(float(scale) / tf.reduce_min(image_size),
                      float(max_size) / tf.reduce_max(image_size))
  return tf.maximum(tf.round(image_size * factor), 1.0)


def resize_masks(masks, scaled_size, padded_size):
  """Nearest-neighbour resize of [N, H, W] masks, then zero padding.

  Args:
    masks: uint8 [N, H, W].
    scaled_size: [2] (float or int) size to resize to.
    padded_size: [Hp, Wp] python ints, or None for no padding.

  Returns:
    uint8 [N, Hp, Wp] (or [N, scaled_h, scaled_w]).
  """
  scaled = tf.image.resize(
      masks[..., None], tf.cast(scaled_size, tf.int32),
      method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
  if padded_size is not None:
    scaled = tf.image.pad_to_bounding_box(scaled, 0, 0, padded_size[0],
                                          padded_size[1])
  return tf.cast(scaled[..., 0], tf.uint8)


def _pad_masks(masks, num_instances, padded_size):
  """[n, h, w] -> [num_instances, Hp, Wp] zero-padded, in a single copy."""
  masks = masks[:num_instances]
  shape = tf.shape(masks)
  padded = tf.pad(masks, [[0, num_instances - shape[0]],
                          [0, padded_size[0] - shape[1]],
                          [0, padded_size[1] - shape[2]]])
  padded.set_shape([num_instances] + (
      list(padded_size) if isinstance(padded_size, list) else [None, None]))
  return padded


def _window(images, offset, size, channels_last=True):
  """images[offset : offset + size] on the two spatial axes.

  Args:
    images: [H, W, C] (`channels_last`) or [N, H, W].
    offset: float32 [2] whole numbers, (y, x).
    size: float32 [2] whole numbers, (height, width).
  """
  offset = tf.cast(offset, tf.int32)
  size = tf.cast(size, tf.int32)
  if channels_last:
    return tf.slice(images, tf.concat([offset, [0]], 0),
                    tf.concat([size, [-1]], 0))
  return tf.slice(images, tf.concat([[0], offset], 0),
                  tf.concat([[-1], size], 0))


def _window_only(masks, low, high):
  """[N, H, W] masks zeroed where a pixel centre is outside [low, high).

  Args:
    masks: uint8 [N, H, W].
    low: float32 [2], (y, x) in pixels of `masks`.
    high: float32 [2], (y, x).
  """
  shape = tf.shape(masks)
  rows = tf.cast(tf.range(shape[1]), tf.float32) + 0.5
  cols = tf.cast(tf.range(shape[2]), tf.float32) + 0.5
  inside_rows = tf.cast((rows >= low[0]) & (rows < high[0]), masks.dtype)
  inside_cols = tf.cast((cols >= low[1]) & (cols < high[1]), masks.dtype)
  return masks * inside_rows[None, :, None] * inside_cols[None, None, :]


def _pad_strings(strings, size):
  strings = strings[:size]
  return tf.pad(strings, [[0, size - tf.shape(strings)[0]]],
                constant_values='')


class Parser(mg_parser.Parser):
  """MNC's input parser (see the module docstring for the output)."""

  def __init__(self, scale=600, max_size=1000, padded_size=None,
               size_divisor=32, max_num_instances=100, aug_rand_hflip=True,
               skip_crowd_during_training=True,
               mean=data_config.MEAN_NORM, stddev=data_config.STDDEV_NORM,
               dtype='float32', mask_crop_size=112, oriented_padding=False,
               aug_scale_min=1.0, aug_scale_max=1.0):
    """Initialises the parser.

    Args:
      scale: shorter side after resizing.
      max_size: cap on the longer side after resizing.
      padded_size: [height, width] to pad to, both >= max_size; None: a
        square of max_size rounded up to `size_divisor`.
      size_divisor: rounding of the automatic padded size.
      max_num_instances: groundtruth rows.
      aug_rand_hflip: random horizontal flip in training.
      skip_crowd_during_training: drop crowd instances in training.
      mean: RGB mean on [0, 1].
      stddev: RGB stddev on [0, 1].
      dtype: image dtype.
      mask_crop_size: C > 0: training masks as per-instance C x C crops
        (see the module docstring); 0: full-image masks.
      oriented_padding: pad a landscape (or square) image to [scale,
        max_size] and a portrait one to [max_size, scale], both rounded up
        to `size_divisor`, instead of one `padded_size`; needs `padded_size`
        None.
      aug_scale_min: lower bound of the training scale jitter (> 0).
      aug_scale_max: upper bound of the training scale jitter (>= min).
    """
    if not 0 < aug_scale_min <= aug_scale_max:
      raise ValueError(
          'scale jitter needs 0 < aug_scale_min <= aug_scale_max, got '
          f'aug_scale_min={aug_scale_min}, aug_scale_max={aug_scale_max}')
    if mask_crop_size < 0:
      raise ValueError('mask_crop_size must be >= 0 (0: full-image masks), '
                       'got %d' % mask_crop_size)
    params = data_config.Parser(
        scale=scale, max_size=max_size, padded_size=list(padded_size or []),
        size_divisor=size_divisor, oriented_padding=bool(oriented_padding))
    self._padded_size = data_config.resolve_padded_size(params)
    # [landscape, portrait] sizes, or None: one static `padded_size`.
    self._oriented_sizes = (
        data_config.oriented_padded_sizes(params) if oriented_padding
        else None)
    if self._oriented_sizes and len(self._oriented_sizes) == 1:
      self._padded_size = self._oriented_sizes[0]  # scale == max_size.
      self._oriented_sizes = None
    self._scale = scale
    self._max_size = max_size
    self._max_num_instances = max_num_instances
    self._aug_rand_hflip = aug_rand_hflip
    self._skip_crowd_during_training = skip_crowd_during_training
    self._mean = tuple(float(v) for v in mean)
    self._stddev = tuple(float(v) for v in stddev)
    self._dtype = dtype
    self._mask_crop_size = int(mask_crop_size)
    self._aug_scale = (float(aug_scale_min), float(aug_scale_max))
    self._jitters = self._aug_scale != (1.0, 1.0)

  @classmethod
  def from_config(cls, params, dtype='float32'):
    """Builds a parser from a `mnc_tf.configs.data.Parser`."""
    return cls(scale=params.scale, max_size=params.max_size,
               padded_size=list(params.padded_size or []) or None,
               size_divisor=params.size_divisor,
               max_num_instances=params.max_num_instances,
               aug_rand_hflip=params.aug_rand_hflip,
               skip_crowd_during_training=params.skip_crowd_during_training,
               mean=params.mean, stddev=params.stddev, dtype=dtype,
               mask_crop_size=params.mask_crop_size,
               oriented_padding=params.oriented_padding,
               aug_scale_min=params.aug_scale_min,
               aug_scale_max=params.aug_scale_max)

  @property
  def padded_size(self):
    """[Hp, Wp] of every image; with two orientations the square bound."""
    return list(self._padded_size)

  def _image_padded_size(self, scaled_size):
    """The padded [Hp, Wp] of one image: python ints or an int32 [2] tensor."""
    if not self._oriented_sizes:
      return self._padded_size
    landscape, portrait = self._oriented_sizes
    return tf.where(scaled_size[0] <= scaled_size[1],
                    tf.constant(landscape, tf.int32),
                    tf.constant(portrait, tf.int32))

  def _uniform(self, data, shape, salt=None):
    """U[0, 1) draws, seeded by the element's `flip_seed` when it has one.

    Args:
      data: the decoded example.
      shape: shape of the draws.
      salt: None for the flip's draw; an int folds a distinct stream out of
        the same seed.
    """
    if 'flip_seed' not in data:
      return tf.random.uniform(shape)
    seed = tf.cast(data['flip_seed'], tf.int64)
    if salt is not None:
      seed = tf.random.experimental.stateless_fold_in(seed, salt)
    return tf.random.stateless_uniform(shape, seed=seed)

  def _flip_coin(self, data):
    return self._uniform(data, []) < 0.5

  def _jitter(self, data, scaled_size, is_training):
    """(jittered size, crop offset), float32 [2] each (see module docstring)."""
    if not is_training or not self._jitters:
      return scaled_size, tf.zeros([2], tf.float32)
    low, high = self._aug_scale
    draws = self._uniform(data, [3], salt=1)
    factor = low + (high - low) * draws[0]
    jittered = tf.maximum(tf.round(scaled_size * factor), 1.0)
    offset = tf.floor(tf.maximum(jittered - scaled_size, 0.0) * draws[1:])
    return jittered, offset

  def _parse(self, data, is_training):
    image = data['image']
    image_size = tf.shape(image)[0:2]
    boxes = data['groundtruth_boxes']
    classes = tf.cast(data['groundtruth_classes'], tf.int32)
    is_crowd = tf.cast(data['groundtruth_is_crowd'], tf.int32)
    masks = tf.cast(data['groundtruth_instance_masks'], tf.uint8)

    if is_training and self._skip_crowd_during_training:
      keep = tf.where(tf.equal(is_crowd, 0))[:, 0]
      boxes, classes, is_crowd, masks = [
          tf.gather(t, keep) for t in (boxes, classes, is_crowd, masks)]

    flip = tf.constant(False)
    if is_training and self._aug_rand_hflip:
      flip = self._flip_coin(data)
      image, boxes = tf.cond(
          flip,
          lambda: (tf.image.flip_left_right(image),
                   box_ops.horizontal_flip_boxes(boxes)),
          lambda: (image, boxes))

    image = preprocess_ops.normalize_image(image, self._mean, self._stddev)
    scaled_size = compute_scaled_size(image_size, self._scale,
                                      self._max_size)
    padded_size = self._image_padded_size(scaled_size)
    jittered_size, offset = self._jitter(data, scaled_size, is_training)
    content_size = tf.minimum(jittered_size, scaled_size)
    image = _window(tf.image.resize(image, tf.cast(jittered_size, tf.int32)),
                    offset, content_size)
    image = tf.image.pad_to_bounding_box(image, 0, 0, padded_size[0],
                                         padded_size[1])
    image_info = tf.stack([tf.cast(image_size, tf.float32), content_size,
                           jittered_size / tf.cast(image_size, tf.float32),
                           offset])
    image.set_shape((self._padded_size if not self._oriented_sizes
                     else [None, None]) + [3])

    boxes = box_ops.denormalize_boxes(boxes, image_size)
    boxes = preprocess_ops.resize_and_crop_boxes(
        boxes, image_info[2, :], image_info[1, :], image_info[3, :])
    keep = box_ops.get_non_empty_box_indices(boxes)
    boxes, classes, is_crowd, masks = [
        tf.gather(t, keep) for t in (boxes, classes, is_crowd, masks)]
    num_instances = tf.minimum(tf.shape(classes)[0], self._max_num_instances)

    n = self._max_num_instances
    if is_training and self._mask_crop_size:
      gt_masks = {'crops': self._instance_crops(
          masks[:n], boxes[:n], image_info, flip, padded_size)}
    else:
      # Masks are flipped after their resize: nearest-neighbour resampling
      # does not commute with a flip, bilinear (the image's) does.
      masks = resize_masks(masks, jittered_size, None)
      masks = tf.cond(flip, lambda: tf.reverse(masks, axis=[2]),
                      lambda: masks)
      masks = _window(masks, offset, content_size, channels_last=False)
      gt_masks = _pad_masks(masks, n, padded_size)
    labels = {
        'image_info': image_info,
        'gt_boxes': preprocess_ops.clip_or_pad_to_fixed_size(boxes, n, -1),
        'gt_classes': preprocess_ops.clip_or_pad_to_fixed_size(classes, n, -1),
        'gt_masks': gt_masks,
        'gt_is_crowd': preprocess_ops.clip_or_pad_to_fixed_size(is_crowd, n,
                                                                0),
        'gt_num_instances': tf.cast(num_instances, tf.int32),
        'source_id': tf.cast(data['source_id'], tf.int64),
    }
    if not is_training:
      labels['groundtruths'] = self._groundtruths(data, image_size)
    return tf.cast(image, self._dtype), labels

  def _instance_crops(self, masks, boxes, image_info, flip, padded_size):
    """uint8 [max_num_instances, C, C] crops of the original-size masks.

    Args:
      masks: uint8 [n, H, W] original masks, NOT flipped.
      boxes: [n, 4] gt boxes in network-input pixels (flipped if `flip`).
      image_info: the parser's [4, 2] image info.
      flip: bool scalar, the image was flipped.
      padded_size: [Hp, Wp] of this image (ints or an int32 tensor).
    """
    size = self._mask_crop_size
    # As the full-image path: flipped masks, zeros after the content's
    # bottom / right edge (the bilinear samples fade there as they do next
    # to the network input's zero padding).
    masks = tf.cond(flip, lambda: tf.reverse(masks, axis=[2]), lambda: masks)
    scale = image_info[2, :]
    if self._jitters:
      # Zero outside the scale-jitter window (the full-image path crops the
      # masks to it): original pixels whose centre maps outside it.
      masks = _window_only(masks, image_info[3, :] / scale,
                           (image_info[3, :] + image_info[1, :]) / scale)
    masks = tf.pad(masks, [[0, 0], [0, 1], [0, 1]])
    crop_boxes = mask_crop_targets.crop_boxes(boxes, padded_size)
    # Network-input pixels -> original pixels.
    crop_boxes = (crop_boxes + tf.tile(image_info[3, :], [2])) / tf.tile(
        scale, [2])
    crops = mask_crop_targets.crop_instance_masks(masks, crop_boxes, size)
    crops = tf.pad(crops, [[0, self._max_num_instances - tf.shape(crops)[0]],
                           [0, 0], [0, 0]])
    crops.set_shape([self._max_num_instances, size, size])
    return crops

  def _groundtruths(self, data, image_size):
    """Model Garden's COCO-evaluator groundtruth dict (original pixels)."""
    n = self._max_num_instances
    pad = preprocess_ops.clip_or_pad_to_fixed_size
    groundtruths = {
        'source_id': tf.cast(data['source_id'], tf.int64),
        'height': tf.cast(data['height'], tf.int64),
        'width': tf.cast(data['width'], tf.int64),
        'num_detections': tf.minimum(
            tf.shape(data['groundtruth_classes'])[0], n),
        'boxes': pad(box_ops.denormalize_boxes(data['groundtruth_boxes'],
                                               image_size), n, -1),
        'classes': pad(tf.cast(data['groundtruth_classes'], tf.int32), n, -1),
        'areas': pad(tf.cast(data['groundtruth_area'], tf.float32), n, -1),
        'is_crowds': pad(tf.cast(data['groundtruth_is_crowd'], tf.int32), n,
                         0),
    }
    if 'groundtruth_instance_masks_png' in data:
      groundtruths['masks'] = _pad_strings(
          data['groundtruth_instance_masks_png'], n)
    return groundtruths

  def _parse_train_data(self, decoded_tensors):
    return self._parse(decoded_tensors, is_training=True)

  def _parse_eval_data(self, decoded_tensors):
    return self._parse(decoded_tensors, is_training=False)
