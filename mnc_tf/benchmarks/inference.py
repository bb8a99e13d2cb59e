# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Per-stage inference time of MNC vs Model Garden's Mask R-CNN (paper Table 3).

    python -m mnc_tf.benchmarks.inference --experiment=mnc_resnet50_coco \
        [--runs=3] [--peer=maskrcnn_resnetfpn_coco] [--no_peer] \
        [--saved_model=EXPORT_DIR] [--json]

Times one image whose content is the paper's 600 x 1000 (MNC: padded to
608 x 1008, a multiple of its stride 16, or on a feature pyramid
(`decoder.type: fpn`) to 608 x 1024, a multiple of 32; Mask R-CNN: padded to
640 x 1024, a multiple of its FPN's 2^6), randomly initialized weights (time does not depend
on them, except through how many boxes survive the score threshold: both
models run their full fixed-size proposal sets). Each part is its own
`tf.function`, fed the previous part's outputs, warmed up once and timed
`--runs` times (median):

  conv     the backbone (and the 1x1 reduction of the map stages 2-5 warp,
           when the experiment sets `roi_feature_channels`; on a pyramid, the
           FPN decoder);
  stage1   RPN head (on every level of a pyramid) + proposals (NMS);
  stage2   RoI warp + mask head;         stage3  masked classifier + box
  stage4 / stage5   the same on the stage-3 boxes (5-stage inference);
  post     per-class NMS, mask voting and pasting the masks into the
           original 600 x 1000 image.
`total` is the whole pipeline as one function (what the SavedModel runs,
minus image resizing). The peer is timed as a whole (`total`) and its
backbone + FPN alone (`conv`), with the same ResNet depth. `--saved_model`
also times an export's `serving_default` (image resizing included, stock-op
RoI warp): what TF Serving runs.
"""
import json
import os
import platform
import statistics
import sys
import time

from absl import app
from absl import flags
import tensorflow as tf

from mnc_tf.configs import experiment_params
from mnc_tf.modeling import factory
from mnc_tf.ops import mask_paste
from mnc_tf.serving import export_lib
from official.core import exp_factory
from official.vision import registry_imports  # pylint: disable=unused-import
from official.vision.modeling import factory as vision_factory
import tf_keras

IMAGE_HW = (600, 1000)
MNC_PADDED = (608, 1008)
PEER_PADDED = (640, 1024)
MNC_PARTS = ('conv', 'stage1', 'stage2', 'stage3', 'stage4', 'stage5', 'post')


def _median_seconds(function, args, runs):
  result = function(*args)
  tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, 'numpy') else t,
                        result)
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    result = function(*args)
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, 'numpy') else t,
                          result)
    times.append(time.perf_counter() - start)
  return statistics.median(times), result


def _image_info():
  h, w = IMAGE_HW
  return tf.constant([[[h, w], [h, w], [1.0, 1.0], [0.0, 0.0]]], tf.float32)


def mnc_padded(model_config):
  """The network input MNC is timed on: 600 x 1000 padded to its stride."""
  multiple = 32 if factory.is_pyramid(model_config) else 16
  return tuple(-(-side // multiple) * multiple for side in IMAGE_HW)


def time_mnc(model, runs, seed=0, padded=MNC_PADDED):
  """Median seconds of each MNC part and of the whole pipeline."""
  images = tf.random.stateless_normal([1, *padded, 3], [seed, 1])
  info = _image_info()
  image_shape = info[:, 1, :]
  times = {}

  @tf.function
  def conv(images):
    features = model.features(images, training=False)
    return features, model.roi_feature_map(features)
  times['conv'], (features, roi_map) = _median_seconds(conv, (images,), runs)

  @tf.function
  def stage1(features):
    scores, boxes = model.rpn_outputs(features)
    anchors = box_anchor_cache
    proposals = model.proposal_generator(scores, boxes, anchors, image_shape,
                                         training=False,
                                         level_sizes=level_sizes)
    return proposals[0], proposals[2]  # rois [1, P, 4], valid [1, P]
  box_anchor_cache = model._anchors(images)  # pylint: disable=protected-access
  level_sizes = model._anchor_level_sizes(images)  # pylint: disable=protected-access
  times['stage1'], (rois, valid) = _median_seconds(stage1, (features,), runs)

  @tf.function
  def mask_stage(features, boxes):
    roi_features = model.roi_warp(features, boxes)
    return roi_features, tf.sigmoid(model.mask_head(roi_features))

  @tf.function
  def cls_stage(roi_features, mask_probs, boxes):
    cls_mask, _, box_outputs = model.classifier_head(
        roi_features, mask_probs, training=False)
    scores = tf.nn.softmax(cls_mask, axis=-1)
    refined, _ = model.cascade_head.next_stage_boxes(
        boxes, cls_mask, box_outputs, image_shape)
    return scores, refined

  boxes, candidates = rois, []
  for mask_name, cls_name in (('stage2', 'stage3'), ('stage4', 'stage5')):
    times[mask_name], (roi_features, mask_probs) = _median_seconds(
        mask_stage, (roi_map, boxes), runs)
    times[cls_name], (scores, refined) = _median_seconds(
        cls_stage, (roi_features, mask_probs, boxes), runs)
    scores = scores * tf.cast(valid, tf.float32)[..., None]
    candidates.append((boxes, mask_probs, scores[..., 1:]))
    boxes = refined

  @tf.function
  def post(boxes, masks, scores):
    det = model.detection_generator(boxes, masks, scores)
    det['detection_classes'] = det['detection_class_indices']
    return mask_paste.original_image_detections(det, info)
  args = tuple(tf.concat(list(c), axis=1) for c in zip(*candidates))
  times['post'], _ = _median_seconds(post, args, runs)

  @tf.function
  def total(images):
    outputs = model(images, info, training=False)
    return mask_paste.original_image_detections(outputs, info)
  times['total'], _ = _median_seconds(total, (images,), runs)
  times['sum_of_parts'] = sum(times[p] for p in MNC_PARTS)
  return times


def build_peer(peer_experiment, model_id):
  """Model Garden's Mask R-CNN with a ResNet of depth `model_id`."""
  params = exp_factory.get_exp_config(peer_experiment)
  params.task.model.backbone.resnet.model_id = model_id
  params.task.model.input_size = [*PEER_PADDED, 3]
  input_specs = tf_keras.layers.InputSpec(shape=[None, *PEER_PADDED, 3])
  return vision_factory.build_maskrcnn(input_specs, params.task.model)


def time_peer(model, runs, seed=0):
  images = tf.random.stateless_normal([1, *PEER_PADDED, 3], [seed, 2])
  image_shape = tf.constant([IMAGE_HW], tf.float32)
  times = {}
  conv = tf.function(lambda x: model.decoder(model.backbone(x)))
  times['conv'], _ = _median_seconds(conv, (images,), runs)
  total = tf.function(lambda x: model(x, image_shape, training=False))
  times['total'], _ = _median_seconds(total, (images,), runs)
  return times


def time_saved_model(export_dir, runs, seed=0):
  """Median seconds of an exported model's `serving_default` (uint8 input).

  This is what TF Serving runs: resizing to the network input, the cascade
  with the stock-op RoI warp, post-processing and pasting the masks.
  """
  loaded = tf.saved_model.load(export_dir)
  serve = loaded.signatures['serving_default']
  spec = list(serve.structured_input_signature[1].values())[0]
  if spec.dtype != tf.uint8 or spec.shape.rank != 4:
    raise ValueError(f'{export_dir}: serving_default takes {spec}; export it '
                     'with --input_type=image_tensor to time it here.')
  image = tf.cast(tf.random.stateless_uniform(
      [1, *IMAGE_HW, 3], [seed, 3], maxval=256, dtype=tf.int32), tf.uint8)
  seconds, _ = _median_seconds(lambda x: serve(x), (image,), runs)
  return {'total': seconds}


def define_flags(flag_values=flags.FLAGS):
  """Defines the benchmark's flags (called by `__main__`)."""
  flags.DEFINE_string('experiment', 'mnc_resnet50_coco',
                      'Registered MNC experiment to time.',
                      flag_values=flag_values)
  flags.DEFINE_string('params_override', '',
                      'Comma-separated overrides of the experiment.',
                      flag_values=flag_values)
  flags.DEFINE_string('peer', 'maskrcnn_resnetfpn_coco',
                      'Model Garden experiment timed as the peer.',
                      flag_values=flag_values)
  flags.DEFINE_bool('no_peer', False, 'Do not time the peer.',
                    flag_values=flag_values)
  flags.DEFINE_string(
      'saved_model', '',
      "Also time this export's serving_default on a uint8 600x1000 image (an "
      'export with --input_type=image_tensor).', flag_values=flag_values)
  flags.DEFINE_integer('runs', 3, 'Timed runs per part (median).',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_bool('json', False, 'Print the report as JSON.',
                    flag_values=flag_values)


def run(args):
  """Times the parts; prints the table (or JSON) and returns the report.

  Args:
    args: parsed flags (`define_flags`' names), e.g. `flags.FLAGS`.

  Returns:
    the report dict (`mnc_seconds`, optionally `peer_seconds`,
    `saved_model_seconds`, and the machine's description).

  Raises:
    experiment_params.ParamsError: unknown experiment or override.
  """
  params = export_lib.experiment_params(args.experiment,
                                        params_override=args.params_override)
  model_config = params.task.model
  mnc = factory.build_mnc_model(model_config)
  if model_config.cascade.num_inference_stages != 5:
    raise ValueError('the benchmark times 5-stage inference; the experiment '
                     'sets num_inference_stages=3.')
  padded = mnc_padded(model_config)
  report = {
      'experiment': args.experiment,
      'backbone': model_config.backbone.type,
      'decoder': model_config.decoder.type,
      'image': list(IMAGE_HW), 'mnc_padded': list(padded),
      'roi_warp': mnc.roi_warp.get_config().get('implementation'),
      'runs': args.runs,
      'cpu': platform.processor() or platform.machine(),
      'cpu_count': os.cpu_count(),
      'load_average': list(os.getloadavg()),
      'mnc_seconds': time_mnc(mnc, args.runs, padded=padded),
  }
  if not args.no_peer:
    depth = (model_config.backbone.resnet.model_id
             if model_config.backbone.type == 'resnet' else 50)
    peer = build_peer(args.peer, depth)
    report.update({'peer': args.peer, 'peer_resnet_depth': depth,
                   'peer_padded': list(PEER_PADDED),
                   'peer_seconds': time_peer(peer, args.runs)})
  if args.saved_model:
    report.update({'saved_model': args.saved_model,
                   'saved_model_seconds': time_saved_model(args.saved_model,
                                                           args.runs)})
  if args.json:
    print(json.dumps(report, indent=1))
    return report
  print(f"MNC {args.experiment} ({report['backbone']}), image "
        f"{IMAGE_HW[0]}x{IMAGE_HW[1]}, median of {args.runs} runs, "
        f"{report['cpu_count']} CPUs, load {report['load_average'][0]:.1f}")
  print('| part | MNC (ms) |' + (' Mask R-CNN (ms) |' if not args.no_peer
                                  else ''))
  print('|---|---|' + ('---|' if not args.no_peer else ''))
  for part in MNC_PARTS + ('sum_of_parts', 'total'):
    row = f"| {part} | {1000 * report['mnc_seconds'][part]:.0f} |"
    if not args.no_peer:
      value = report['peer_seconds'].get(part)
      row += f' {1000 * value:.0f} |' if value is not None else ' |'
    print(row)
  if args.saved_model:
    print(f"SavedModel serving_default ({args.saved_model}): "
          f"{1000 * report['saved_model_seconds']['total']:.0f} ms")
  return report


def main(argv, flag_values=flags.FLAGS):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  try:
    run(flag_values)
  except experiment_params.ParamsError as e:
    sys.exit(f'inference benchmark: error: {e}')


if __name__ == '__main__':
  define_flags()
  app.run(main)
