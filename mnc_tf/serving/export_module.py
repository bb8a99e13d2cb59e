# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The MNC export module: image in, instances in original-image pixels out.

Follows Model Garden's `official/vision/serving/detection.py`: a subclass of
`official.vision.serving.export_base.ExportModule` whose `serve` carries the
whole pipeline (normalize, resize so the shorter side is `scale` and the
longer at most `max_size`, pad to a static size — the parser's `padded_size`
when set, else [scale, max_size] for landscape and its transpose for portrait
images, one graph branch each —, the 3- or 5-stage cascade, mask voting, and
pasting the voted masks into the original image).

The model is built with the RoI warp's stock-op inference form
(`roi_warp_implementation='crop_and_resize'`: one fused
`tf.image.crop_and_resize`, 4-5x faster than the pure-TF twin), so the exported
graph contains only stock TensorFlow ops and a stock TF Serving loads it.

Signature outputs (docs/design.md §6), B = batch, N = `max_num_detections`:
  num_detections     int32   [B]
  detection_boxes    float32 [B, N, 4] (ymin, xmin, ymax, xmax) original pixels
  detection_classes  int32   [B, N] data-set category ids
  detection_scores   float32 [B, N]
  detection_masks    uint8   [B, N, H, W] binary full-image masks
  image_info         float32 [B, 4, 2] Model Garden's image info
Rows past `num_detections` are zero.
"""
import copy

import tensorflow as tf

from mnc_tf.configs import data as data_config
from mnc_tf.data import parser as parser_lib
from mnc_tf.modeling import factory
from mnc_tf.ops import mask_paste
from official.vision.ops import preprocess_ops
from official.vision.serving import export_base

INPUT_TYPES = ('image_tensor', 'image_bytes', 'tf_example')
OUTPUT_KEYS = ('num_detections', 'detection_boxes', 'detection_classes',
               'detection_scores', 'detection_masks', 'image_info')


def export_model_config(model_config):
  """A copy of the model config that uses only stock TF ops."""
  config = copy.deepcopy(model_config)
  config.override({'roi_warp_implementation': 'crop_and_resize',
                   'init_checkpoint': ''},
                  is_strict=True)
  return config


def oriented_padded_sizes(parser):
  """The static network input sizes of the export, landscape first.

  With `parser.padded_size` set, that one size.  Otherwise a landscape (or
  square) image, resized so that its shorter side is at most `scale` and its
  longer at most `max_size`, is padded to [scale, max_size] rounded up to
  `size_divisor`, and a portrait image to the transpose: ~40 % fewer pixels
  than one square [max_size, max_size] input for the paper's 600 / 1000.

  Returns:
    List of one or two [height, width] lists.
  """
  return data_config.oriented_padded_sizes(parser)


class MncExportModule(export_base.ExportModule):
  """Export module of an MNC experiment (`params.task` is an `MncTask`)."""

  def __init__(self, params, *, batch_size=1, input_type='image_tensor',
               model=None, input_name=None):
    """Initializes the module.

    Args:
      params: `cfg.ExperimentConfig` of an MNC experiment.
      batch_size: static batch size of the signatures, or None.
      input_type: one of `INPUT_TYPES`.
      model: an `MncModel`; None builds one from `params` with the stock-op RoI
        warp.
      input_name: optional name of the signature's input tensor.

    Raises:
      ValueError: unknown input type or batch size below 1.
    """
    if input_type not in INPUT_TYPES:
      raise ValueError(f'input_type must be one of {INPUT_TYPES}, got '
                       f'{input_type!r}.')
    if batch_size is not None and int(batch_size) < 1:
      raise ValueError(f'batch_size must be >= 1 or None, got {batch_size}.')
    parser = params.task.validation_data.parser
    self._scale = int(parser.scale)
    self._max_size = int(parser.max_size)
    self._padded_sizes = oriented_padded_sizes(parser)
    self._mask_threshold = float(
        params.task.model.detection_generator.mask_binarize_threshold)
    super().__init__(params, batch_size=batch_size,
                     input_image_size=list(self._padded_sizes[0]),
                     input_type=input_type, num_channels=3, model=model,
                     input_name=input_name)

  def get_inference_signatures(self, function_keys):
    """Model Garden's signatures, plus `serving_default` for the input type.

    Args:
      function_keys: {input type: signature name}.

    Returns:
      {signature name: concrete function}.
    """
    signatures = super().get_inference_signatures(function_keys)
    default = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
    if default not in signatures:
      signatures[default] = signatures[function_keys[self._input_type]]
    return signatures

  def _build_model(self):
    return factory.build_mnc_model(
        export_model_config(self.params.task.model), build=True)

  def _preprocess_one(self, image, padded_size):
    """uint8 `[H, W, 3]` -> (normalized padded `[Hp, Wp, 3]`, `[4, 2]`)."""
    shape = tf.shape(image)
    tf.debugging.assert_positive(
        shape[0:2], message='the image has no pixels (height or width is 0)')
    image = preprocess_ops.normalize_image(image, data_config.MEAN_NORM,
                                           data_config.STDDEV_NORM)
    scaled_size = parser_lib.compute_scaled_size(shape[0:2], self._scale,
                                                 self._max_size)
    image, image_info = preprocess_ops.resize_and_crop_image(
        image, scaled_size, padded_size=padded_size, keep_aspect_ratio=False)
    image.set_shape(list(padded_size) + [3])
    return image, image_info

  def preprocess(self, images, padded_size=None):
    """uint8 `[B, H, W, 3]` -> normalized `[B, Hp, Wp, 3]`, info `[B, 4, 2]`.

    Args:
      images: uint8 `[B, H, W, 3]`.
      padded_size: [Hp, Wp], one of `oriented_padded_sizes`; None: the first.
    """
    padded_size = list(padded_size or self._padded_sizes[0])
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
      raise TypeError(f'images must be uint8 [B, H, W, 3], got dtype '
                      f'{images.dtype.name}.')
    if images.shape.rank is not None and (
        images.shape.rank != 4 or images.shape[-1] not in (None, 3)):
      raise ValueError(f'images must be uint8 [B, H, W, 3], got shape '
                       f'{images.shape}.')
    return tf.map_fn(
        lambda image: self._preprocess_one(image, padded_size), images,
        fn_output_signature=(
            tf.TensorSpec(padded_size + [3], tf.float32),
            tf.TensorSpec([4, 2], tf.float32)))

  def postprocess(self, outputs, image_info, height, width):
    """Model outputs -> the signature's outputs (original-image pixels)."""
    def one(index):
      det = mask_paste.original_image_detections(
          outputs, image_info, index=index,
          mask_threshold=self._mask_threshold)
      masks = det['detection_masks']
      masks = tf.reshape(masks, [tf.shape(masks)[0], height, width])
      return (det['num_detections'], det['detection_boxes'],
              det['detection_classes'], det['detection_scores'], masks)

    num_images = tf.shape(image_info)[0]
    num, boxes, classes, scores, masks = tf.map_fn(
        one, tf.range(num_images),
        fn_output_signature=(tf.TensorSpec([], tf.int32),
                             tf.TensorSpec([None, 4], tf.float32),
                             tf.TensorSpec([None], tf.int32),
                             tf.TensorSpec([None], tf.float32),
                             tf.TensorSpec([None, None, None], tf.uint8)))
    return {
        'num_detections': num,
        'detection_boxes': boxes,
        'detection_classes': classes,
        'detection_scores': scores,
        'detection_masks': masks,
        'image_info': image_info,
    }

  def serve(self, images):
    """Runs the whole pipeline.

    Args:
      images: uint8 `[B, H, W, 3]` RGB images (one size per batch).

    Returns:
      dict of the outputs listed in the module docstring.
    """
    images = tf.convert_to_tensor(images)
    # Loaded signatures check the dtype but not the shape of their input.
    images = tf.ensure_shape(images, [self._batch_size, None, None, 3],
                             name='check_images_shape_B_H_W_3')
    shape = tf.shape(images)
    height, width = shape[1], shape[2]

    def run(padded_size):
      model_images, image_info = self.preprocess(images, padded_size)
      outputs = self.model(model_images, image_info, training=False)
      return self.postprocess(outputs, image_info, height, width)

    if len(self._padded_sizes) == 1:
      return run(self._padded_sizes[0])
    # The images of a batch share one size, hence one orientation.
    landscape, portrait = self._padded_sizes
    return tf.cond(height <= width, lambda: run(landscape),
                   lambda: run(portrait))
