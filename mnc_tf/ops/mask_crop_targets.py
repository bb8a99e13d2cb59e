# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Per-instance mask crops: the training masks' compact form and its targets.

A gt mask is zero outside its gt box, so all of it is kept by a fixed-size
C x C sample of it *inside* its box (Model Garden's Mask R-CNN parser keeps
the same, `mask_crop_size`).  That costs M * C^2 bytes an image (1.6 MB at
M = 100, C = 128) instead of M * Hp * Wp (100 MB at 1024 x 1024).

Sampling grid (the RoI-warp grid, `targets.mask_sample_positions`): crop
cell j of a box (y1, x1, y2, x2) (pixel *edges*, pixel k covers [k, k+1])
samples pixel-index position y1 + (j + 0.5) * (y2 - y1) / C - 0.5
(centres at integers), bilinearly; likewise x.  Crops are uint8 holding
round(255 * the bilinear sample) so that a second resampling (the targets
below) does not have to start from a staircase.

From the crops:
  * stage-2 targets of any box (`crop_targets_from_instance_crops`): the gt
    mask sampled on the box's m x m RoI-warp grid, read by bilinear
    interpolation of the matched instance's crop (zero outside its gt box),
    binarized at 0.5, as `targets.crop_mask_targets` does from full masks;
  * gt mask areas (`instance_crop_areas`) for the stage-3 mask IoU
    (`targets.mask_iou`).
Both agree with the full-image path to within the resampling error (tests:
>= 99 % of target pixels, mask IoU within 0.02 on random boxes).

Bad input: a gt box with zero area, a non-finite coordinate, or no pixel in
the image gives an all-zero crop, and every target read from it is zero
(never a NaN or an op error).
"""

import tensorflow as tf

from mnc_tf.ops import targets as targets_lib

# Crop boxes are the gt boxes grown by this many network-input pixels on each
# side, so that a crop holds the whole bilinear interpolant of its mask (which
# fades out half a pixel outside the tight box).
DEFAULT_MARGIN = 1.0
# Sub-samples per crop cell and axis (see `crop_instance_masks`).
DEFAULT_SUPERSAMPLE = 4


def _valid_boxes(boxes):
  """bool [...]: finite boxes with positive height and width."""
  finite = tf.reduce_all(tf.math.is_finite(boxes), axis=-1)
  safe = tf.where(finite[..., None], boxes, tf.zeros_like(boxes))
  return finite & (safe[..., 2] > safe[..., 0]) & (safe[..., 3] > safe[..., 1])


def _grown_boxes(gt_boxes, margin):
  boxes = tf.cast(gt_boxes, tf.float32)
  return boxes + tf.constant([-1.0, -1.0, 1.0, 1.0]) * float(margin)


def _limits(image_size):
  """[4] clip limits (pixel centres of the border pixels) per coordinate."""
  height = tf.cast(image_size[0], tf.float32)
  width = tf.cast(image_size[1], tf.float32)
  return (tf.constant([0.5, 0.5, 0.5, 0.5]),
          tf.stack([height, width, height, width]) - 0.5)


def crop_boxes(gt_boxes, image_size, margin=DEFAULT_MARGIN):
  """The box each instance's crop covers: its gt box grown, in the image.

  The gt box grows by `margin` pixels on each side (the bilinear interpolant
  of a mask fades out half a pixel outside its tight box), then is clipped to
  the centres of the image's border pixels, [0.5, height - 0.5] x
  [0.5, width - 0.5]: the full-image path samples zeros beyond them
  (`crop_and_resize` extrapolation), and inside them a clipped side's crop
  row is continued outwards (see `sample_instance_crops`).  Empty or
  non-finite boxes stay as they are (their crops are all zero).

  Args:
    gt_boxes: `[..., 4]` (ymin, xmin, ymax, xmax) network-input pixels.
    image_size: (height, width) of the network input (the padded size).
    margin: pixels added on each side.

  Returns:
    float32 `[..., 4]`.
  """
  low, high = _limits(image_size)
  grown = tf.clip_by_value(_grown_boxes(gt_boxes, margin), low, high)
  boxes = tf.cast(gt_boxes, tf.float32)
  return tf.where(_valid_boxes(boxes)[..., None], grown, boxes)


def _clipped_sides(gt_boxes, image_size, margin):
  """float32 `[..., 4]`: 1 where `crop_boxes` clipped that side."""
  low, high = _limits(image_size)
  grown = _grown_boxes(gt_boxes, margin)
  grown = tf.where(tf.math.is_finite(grown), grown, tf.zeros_like(grown))
  return tf.cast((grown < low) | (grown > high), tf.float32)


def crop_instance_masks(masks, boxes, crop_size, supersample=DEFAULT_SUPERSAMPLE):
  """Each instance's mask averaged over the cells of a C x C grid on its box.

  Cell j of a box (y1, x1, y2, x2) covers [y1 + j h / C, y1 + (j + 1) h / C]
  (h = y2 - y1); its value is the mean of `supersample`^2 bilinear samples
  of the mask on the cell's sub-grid (the RoI-warp grid of C * supersample
  cells), i.e. about the fraction of the cell the mask covers.  Coverage
  (rather than one point sample per cell) keeps where an edge lies inside a
  cell, so the targets read from the crop find edges to a fraction of a cell.

  Args:
    masks: `[N, H, W]` 0 / 1 instance masks (any real or integer dtype).
    boxes: `[N, 4]` (ymin, xmin, ymax, xmax) crop boxes in pixels of
      `masks` (pixel edges: the tight box of pixel rows a..b is [a, b + 1];
      `crop_boxes` gives the boxes the targets expect).
    crop_size: C.
    supersample: sub-samples per cell and axis.

  Returns:
    uint8 `[N, C, C]`: round(255 * coverage); samples outside the mask image
    count 0, and a box with zero area or a non-finite coordinate gives an
    all-zero crop.
  """
  masks = tf.convert_to_tensor(masks)
  boxes = tf.cast(boxes, tf.float32)
  shape = tf.shape(masks)
  valid = _valid_boxes(boxes)
  safe = tf.where(valid[:, None], boxes, tf.zeros_like(boxes))
  fine = crop_size * supersample
  crop_boxes = targets_lib.mask_sample_positions(safe, fine,
                                                 (shape[1], shape[2]))
  if masks.dtype == tf.bool:
    masks = tf.cast(masks, tf.uint8)
  # crop_and_resize reads integer images as they are (no float copy of the
  # full-size masks).
  crops = tf.image.crop_and_resize(
      masks[..., None], crop_boxes,
      tf.range(shape[0]), [fine, fine], method='bilinear',
      extrapolation_value=0.0)
  if supersample > 1:
    crops = tf.nn.avg_pool2d(crops, supersample, supersample, 'VALID')
  crops = crops[..., 0] * tf.cast(valid, tf.float32)[:, None, None]
  return tf.cast(tf.round(tf.clip_by_value(crops, 0.0, 1.0) * 255.0),
                 tf.uint8)


def _crop_coordinates(start, end, gt_start, gt_end, mask_size, crop_size):
  """First / last sample of a box's grid in a 1-padded crop's normalized axis.

  The box's sample i sits at pixel-index position
  p_i = start + (i + 0.5) * (end - start) / m - 0.5; the gt crop's cell j at
  gt_start + (j + 0.5) * (gt_end - gt_start) / C - 0.5, so p is crop cell
  (p + 0.5 - gt_start) * C / (gt_end - gt_start) - 0.5, plus 1 for the zero
  border; crop_and_resize's normalized coordinate divides by (C + 2 - 1).
  """
  scale = crop_size / (gt_end - gt_start)
  def to_crop(p):
    return ((p + 0.5 - gt_start) * scale - 0.5 + 1.0) / (crop_size + 1.0)
  first = start + 0.5 * (end - start) / mask_size - 0.5
  last = start + (mask_size - 0.5) * (end - start) / mask_size - 0.5
  return to_crop(first), to_crop(last)


def _inside_image(start, end, mask_size, extent):
  """float32 [..., m]: 1 where a grid sample lies in [0, extent - 1]."""
  steps = (tf.range(mask_size, dtype=tf.float32) + 0.5) / mask_size
  positions = start[..., None] + steps * (end - start)[..., None] - 0.5
  inside = (positions >= 0.0) & (positions <= tf.cast(extent, tf.float32) - 1)
  return tf.cast(inside, tf.float32)


def sample_instance_crops(gt_crops, gt_boxes, gt_index, boxes, mask_size,
                          image_size, margin=DEFAULT_MARGIN):
  """Soft gt masks of boxes, read from their matched instances' crops.

  Args:
    gt_crops: uint8 `[B, M, C, C]` crops from `crop_instance_masks` (in
      network-input pixels: the crop of each instance in its gt box).
    gt_boxes: `[B, M, 4]` gt boxes the crops were taken in (network-input
      pixels, (ymin, xmin, ymax, xmax)); padding rows -1.
    gt_index: int32 `[B, K]` gt instance of each box.
    boxes: `[B, K, 4]` boxes (network-input pixels).
    mask_size: m.
    image_size: (height, width) of the network input (padded size): the
      crops' boxes are `crop_boxes(gt_boxes, image_size, margin)`, and
      samples outside [0, size - 1] are 0, as `targets.crop_masks` gives.
    margin: the crops' margin around the gt boxes (`crop_boxes`).

  Returns:
    float32 `[B, K, m, m]` in [0, 1]: the gt mask's bilinear sample at the
    box's m x m RoI-warp grid (0 outside the gt box); all zero for a box or
    matched gt box that is empty or not finite.
  """
  crop_shape = tf.shape(gt_crops)
  batch, num_gt = crop_shape[0], crop_shape[1]
  crop_size = gt_crops.shape[-1]
  if crop_size is None:
    raise ValueError('gt_crops needs a static crop size, got shape %s'
                     % (gt_crops.shape,))
  num_boxes = tf.shape(boxes)[1]
  boxes = tf.cast(boxes, tf.float32)
  matched = tf.gather(tf.cast(gt_boxes, tf.float32), gt_index, batch_dims=1)
  matched = crop_boxes(matched, image_size, margin)
  # A gt box outside the image has an empty crop box after the clip.
  valid = _valid_boxes(matched) & tf.reduce_all(tf.math.is_finite(boxes),
                                                axis=-1)
  safe_gt = tf.where(valid[..., None], matched,
                     tf.constant([0.0, 0.0, 1.0, 1.0]))
  safe = tf.where(valid[..., None], boxes, tf.zeros_like(boxes))
  y1, x1, y2, x2 = tf.unstack(safe, axis=-1)
  gy1, gx1, gy2, gx2 = tf.unstack(safe_gt, axis=-1)
  ny1, ny2 = _crop_coordinates(y1, y2, gy1, gy2, mask_size, crop_size)
  nx1, nx2 = _crop_coordinates(x1, x2, gx1, gx2, mask_size, crop_size)
  sample_boxes = tf.stack([ny1, nx1, ny2, nx2], axis=-1)
  # One row / column around each crop: zeros (the mask fades to 0 half a cell
  # outside its box instead of stopping at the outermost samples), or, on a
  # side clipped at the image border, the crop's outermost row continued.
  sides = tf.reshape(_clipped_sides(gt_boxes, image_size, margin),
                     [batch * num_gt, 4])
  ones = tf.ones([batch * num_gt, crop_size])
  rows = tf.concat([sides[:, 0:1], ones, sides[:, 2:3]], axis=1)
  cols = tf.concat([sides[:, 1:2], ones, sides[:, 3:4]], axis=1)
  images = tf.pad(tf.reshape(tf.cast(gt_crops, tf.float32),
                             [batch * num_gt, crop_size, crop_size]),
                  [[0, 0], [1, 1], [1, 1]], mode='SYMMETRIC')
  images = (images * rows[:, :, None] * cols[:, None, :])[..., None]
  image_index = tf.range(batch)[:, None] * num_gt + gt_index
  samples = tf.image.crop_and_resize(
      images, tf.reshape(sample_boxes, [-1, 4]),
      tf.reshape(image_index, [-1]),
      [mask_size, mask_size], method='bilinear', extrapolation_value=0.0)
  samples = tf.reshape(samples, [batch, num_boxes, mask_size, mask_size])
  samples *= (_inside_image(y1, y2, mask_size, image_size[0])[..., :, None]
              * _inside_image(x1, x2, mask_size, image_size[1])[..., None, :])
  return samples / 255.0 * tf.cast(valid, tf.float32)[..., None, None]


def crop_targets_from_instance_crops(gt_crops, gt_boxes, gt_index, boxes,
                                     mask_size, image_size,
                                     margin=DEFAULT_MARGIN, threshold=0.5):
  """Stage-2 targets from instance crops (`targets.crop_mask_targets`' twin).

  Args: see `sample_instance_crops`; `threshold` binarizes the samples.

  Returns:
    float32 `[B, K, m, m]` in {0, 1} (sample >= threshold).
  """
  samples = sample_instance_crops(gt_crops, gt_boxes, gt_index, boxes,
                                  mask_size, image_size, margin)
  return tf.cast(samples >= threshold, tf.float32)


def instance_crop_areas(gt_crops, gt_boxes, image_size, margin=DEFAULT_MARGIN):
  """Pixel areas of gt masks from their crops (`targets.gt_mask_areas`' twin).

  Args:
    gt_crops: uint8 `[B, M, C, C]`.
    gt_boxes: `[B, M, 4]` gt boxes, network-input pixels.
    image_size: (height, width) of the network input (see `crop_boxes`).
    margin: see `crop_boxes`.

  Returns:
    float32 `[B, M]`: the crop's mean coverage x the box area (0 for padding
    rows and empty boxes).
  """
  gt_boxes = tf.cast(gt_boxes, tf.float32)
  boxes = crop_boxes(gt_boxes, image_size, margin)
  valid = _valid_boxes(boxes)
  safe = tf.where(valid[..., None], boxes, tf.zeros_like(boxes))
  height = safe[..., 2] - safe[..., 0]
  width = safe[..., 3] - safe[..., 1]
  crops = tf.cast(gt_crops, tf.float32) / 255.0
  area = tf.reduce_mean(crops, axis=[2, 3]) * height * width
  # The half pixel between a clipped side and the image border: the
  # outermost crop row / column continued.
  sides = _clipped_sides(gt_boxes, image_size, margin)
  area += 0.5 * width * (sides[..., 0] * tf.reduce_mean(crops[..., 0, :], -1)
                         + sides[..., 2] * tf.reduce_mean(crops[..., -1, :],
                                                          -1))
  area += 0.5 * height * (sides[..., 1] * tf.reduce_mean(crops[..., :, 0], -1)
                          + sides[..., 3] * tf.reduce_mean(crops[..., :, -1],
                                                           -1))
  return area * tf.cast(valid, tf.float32)


class InstanceMaskCrops:
  """Ground-truth masks as per-instance crops, where full masks would go.

  `targets.cascade_targets` takes this in place of the full-image uint8
  `[B, M, H, W]` masks (the model builds it from the parser's
  `{'crops': ...}` labels): stage-2 targets come from
  `crop_targets_from_instance_crops`, gt areas from `instance_crop_areas`.
  """

  def __init__(self, crops, gt_boxes, image_size, margin=DEFAULT_MARGIN):
    """Wraps the crops.

    Args:
      crops: uint8 `[B, M, C, C]` crops (`crop_instance_masks` over
        `crop_boxes(gt_boxes, image_size, margin)`).
      gt_boxes: `[B, M, 4]` gt boxes, network-input pixels, padding -1.
      image_size: (height, width) of the network input (python ints).
      margin: see `crop_boxes`.
    """
    self.crops = tf.convert_to_tensor(crops)
    if self.crops.shape.rank != 4 or self.crops.shape[-1] is None:
      raise ValueError('instance mask crops must be [B, M, C, C] with a '
                       'static C, got shape %s' % (self.crops.shape,))
    self.gt_boxes = tf.cast(gt_boxes, tf.float32)
    self.image_size = tuple(int(v) for v in image_size)
    self.margin = float(margin)

  def mask_targets(self, gt_index, boxes, mask_size, threshold=0.5):
    """float32 `[B, K, m, m]` binary stage-2 targets of `[B, K, 4]` boxes."""
    return crop_targets_from_instance_crops(
        self.crops, self.gt_boxes, gt_index, boxes, mask_size,
        self.image_size, self.margin, threshold=threshold)

  def areas(self):
    """float32 `[B, M]` gt mask areas in network-input pixels."""
    return instance_crop_areas(self.crops, self.gt_boxes, self.image_size,
                               self.margin)
