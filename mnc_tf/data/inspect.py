# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""What a data set looks like to an experiment: counts, ids, sizes vs anchors.

    python -m mnc_tf.data.inspect --annotations_file=train.json \
        --experiment=mnc_custom_data [--config_file=...] [--json]

`--annotations_file` is a COCO JSON file or a glob of our TFRecords
(`out/data/train-*.tfrecord`).  The report gives

  * images, instances per image (-> `task.*_data.parser.max_num_instances`),
    instances and crowd instances (dropped in training) per class, category
    ids missing from `task.model.class_ids` (training stops on them) or
    absent from the data, and the gaps in the ids (non-contiguous ids are
    fine: the model maps them);
  * the instance sizes (sqrt of the box area) after the experiment's resize
    (shorter side to `parser.scale`, longer side at most `parser.max_size`)
    against the feature stride and the RPN anchors: the share of instances
    whose best anchor IoU is below the RPN's foreground threshold (they get
    a positive anchor only through the "best anchor of each gt" rule, and
    those below the background threshold have no anchor that even overlaps
    them well).  Small boxes are hard for a stride-16 map twice over: an
    anchor of the right size can sit up to 8 px off, which caps the IoU;
  * the instances outside the window the network handles, at the training
    and at the test resize: below one feature stride, or above the RPN's
    receptive field (`modeling.receptive_field`), with a warning when the
    test scale pushes instances out that training kept in;
  * suggestions: an image scale that brings the 10th percentile of the
    instance sizes up to the feature stride, and the octave-spaced anchor
    scales that leave the fewest instances below the threshold at that
    scale.

`--write_config=my_data.yaml` writes the settings derived from these
(training) annotations instead (`data/recipe_config.py`), on top of the
demo's experiment `mnc_shapes_demo` (tiny backbone, small heads: cheap
steps) unless `--experiment` is given; there it also chooses the tiny
backbone's output stride (16, 8 or 4: the coarsest whose window holds
enough of the instances) and writes the training steps that fill
`--train_minutes` at the chosen stride and input size
(`data/recipe_schedule.py`).  Train with
`python train.py --experiment=mnc_shapes_demo --config_file=my_data.yaml`.

The IoUs are Model Garden's `box_ops.bbox_overlap` against the model's own
anchors (`mnc_tf.ops.box_utils.generate_anchors`) on the padded input.
"""

import glob
import json
import math
import os
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from official.core import exp_factory
from official.modeling.hyperparams import params_dict
from official.vision.ops import box_ops

from mnc_tf.configs import data as data_config
from mnc_tf.configs import mnc_experiments  # pylint: disable=unused-import
from mnc_tf.data import recipe_config
from mnc_tf.data import recipe_schedule
from mnc_tf.modeling import factory
from mnc_tf.modeling import receptive_field
from mnc_tf.ops import box_utils
from mnc_tf.utils import atomic_io
from mnc_tf.utils import cli
from mnc_tf.utils import damaged_files

# Instances whose resized size is at least this many feature strides count as
# "large enough" when suggesting an image scale (10th percentile).
_SMALL_PERCENTILE = 10.0
# Image scale suggestions are capped at this factor by default (compute
# grows with its square).
DEFAULT_MAX_UPSCALE = 2.0
# What --write_config derives on top of when no --experiment is given: the
# demo's light model (its step costs, per output stride of its tiny
# backbone, are `recipe_schedule.DEMO_STEP_COSTS`; the stride is chosen
# among them).
WRITE_CONFIG_EXPERIMENT = 'mnc_shapes_demo'
# The fixed custom-data recipe: the registered base and its YAML.
CUSTOM_DATA_EXPERIMENT = 'mnc_shapes_demo'
CUSTOM_DATA_YAML = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), 'configs', 'experiments', 'mnc_custom_data.yaml')
# Instances under two feature strides: on held-back images of the synthetic
# `mixed` and `crowded` families the RPN proposed most of those of 2-4
# strides but fewer than 2 in 3 of the smaller ones.  With --write_config,
# a note names their share when it reaches SMALL_INSTANCE_NOTE.
SMALL_INSTANCE_NOTE = 0.2
SMALL_INSTANCE_DOC = ('docs/custom_data_recipe.md: where `mixed` and '
                      '`crowded` lose')
# Anchor-scale candidates: octave-spaced sets starting at these sides (px).
_ANCHOR_BASES = (8.0, 11.0, 16.0, 22.0, 32.0, 45.0, 64.0)


class InspectError(ValueError):
  """Unreadable or malformed input; the message names the culprit."""


class Dataset(object):
  """Boxes, classes and crowd flags of every image of a data set.

  Attributes:
    sizes: float64 [I, 2] original (height, width) of each image.
    boxes: list of I float64 [N_i, 4] (ymin, xmin, ymax, xmax) boxes in
      original-image pixels.
    classes: list of I int64 [N_i] data-set category ids.
    crowd: list of I bool [N_i].
    names: {category id: name} (may be empty for TFRecords without text).
  """

  def __init__(self, sizes, boxes, classes, crowd, names):
    self.sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    self.boxes = boxes
    self.classes = classes
    self.crowd = crowd
    self.names = names


def load_coco_json(path):
  """Reads a COCO instances file into a `Dataset`."""
  try:
    with open(path) as f:
      data = json.load(f)
  except (OSError, ValueError) as e:
    raise InspectError('cannot read %s: %s' % (path, e)) from e
  for key in ('images', 'annotations'):
    if not isinstance(data.get(key), list):
      raise InspectError('%s: no "%s" list (not a COCO instances file)'
                         % (path, key))
  index = {}
  sizes = []
  for image in data['images']:
    index[image['id']] = len(sizes)
    sizes.append((image['height'], image['width']))
  boxes = [[] for _ in sizes]
  classes = [[] for _ in sizes]
  crowd = [[] for _ in sizes]
  for ann in data['annotations']:
    where = index.get(ann.get('image_id'))
    if where is None:
      raise InspectError('%s: annotation %s refers to image_id %s, which is '
                         'not in "images"' % (path, ann.get('id'),
                                              ann.get('image_id')))
    x, y, w, h = [float(v) for v in ann['bbox']]
    boxes[where].append((y, x, y + h, x + w))
    classes[where].append(int(ann['category_id']))
    crowd[where].append(bool(ann.get('iscrowd', 0)))
  names = {int(c['id']): c.get('name', '')
           for c in data.get('categories', [])}
  return Dataset(sizes, [np.array(b, np.float64).reshape(-1, 4)
                         for b in boxes],
                 [np.array(c, np.int64) for c in classes],
                 [np.array(c, bool) for c in crowd], names)


_TFRECORD_FEATURES = {
    'image/height': tf.io.FixedLenFeature([], tf.int64),
    'image/width': tf.io.FixedLenFeature([], tf.int64),
    'image/object/bbox/ymin': tf.io.VarLenFeature(tf.float32),
    'image/object/bbox/xmin': tf.io.VarLenFeature(tf.float32),
    'image/object/bbox/ymax': tf.io.VarLenFeature(tf.float32),
    'image/object/bbox/xmax': tf.io.VarLenFeature(tf.float32),
    'image/object/class/label': tf.io.VarLenFeature(tf.int64),
    'image/object/class/text': tf.io.VarLenFeature(tf.string),
    'image/object/is_crowd': tf.io.VarLenFeature(tf.int64),
}


def load_tfrecords(pattern):
  """Reads the boxes of our TFRecords (Model Garden keys) into a `Dataset`."""
  paths = sorted(glob.glob(pattern))
  if not paths:
    raise InspectError('no file matches %s' % pattern)
  sizes, boxes, classes, crowd, names = [], [], [], [], {}
  for path in paths:
    position = 0
    try:
      for record in tf.data.TFRecordDataset(path):
        ex = tf.io.parse_single_example(record, _TFRECORD_FEATURES)
        dense = {k: tf.sparse.to_dense(v).numpy() if isinstance(
            v, tf.SparseTensor) else v.numpy() for k, v in ex.items()}
        height = float(dense['image/height'])
        width = float(dense['image/width'])
        sizes.append((height, width))
        box = np.stack([dense['image/object/bbox/ymin'] * height,
                        dense['image/object/bbox/xmin'] * width,
                        dense['image/object/bbox/ymax'] * height,
                        dense['image/object/bbox/xmax'] * width], axis=-1)
        boxes.append(box.astype(np.float64).reshape(-1, 4))
        labels = dense['image/object/class/label'].astype(np.int64)
        classes.append(labels)
        is_crowd = dense['image/object/is_crowd'].astype(bool)
        crowd.append(is_crowd if is_crowd.size == labels.size
                     else np.zeros(labels.shape, bool))
        for label, text in zip(labels, dense['image/object/class/text']):
          names.setdefault(int(label), text.decode('utf8'))
        position += 1
    except tf.errors.OpError as e:
      raise InspectError(str(damaged_files.describe_record_error(
          path, position, e))) from None
  return Dataset(sizes, boxes, classes, crowd, names)


def load(path):
  """A COCO JSON file (`.json`) or a TFRecord glob."""
  if path.endswith('.json'):
    return load_coco_json(path)
  return load_tfrecords(path)


def resize_scales(sizes, scale, max_size):
  """Per-axis resize factors of the data pipeline (see `data/parser.py`).

  Args:
    sizes: [I, 2] original (height, width).
    scale: target of the shorter side.
    max_size: cap of the longer side.

  Returns:
    float64 [I, 2] (scale_y, scale_x) = round(size * s) / size with
    s = min(scale / shorter, max_size / longer).
  """
  sizes = np.asarray(sizes, np.float64)
  factor = np.minimum(scale / sizes.min(axis=1), max_size / sizes.max(axis=1))
  return np.round(sizes * factor[:, None]) / sizes


def best_anchor_ious(boxes, anchors, chunk=256):
  """Each box's highest IoU with any anchor.

  Args:
    boxes: float [N, 4] (ymin, xmin, ymax, xmax) network-input pixels.
    anchors: float [A, 4] same convention.
    chunk: boxes per `bbox_overlap` call (bounds memory).

  Returns:
    float64 [N].
  """
  anchors = tf.constant(np.asarray(anchors, np.float32)[None])
  out = []
  for start in range(0, len(boxes), chunk):
    part = tf.constant(np.asarray(boxes[start:start + chunk],
                                  np.float32)[None])
    iou = box_ops.bbox_overlap(part, anchors)  # [1, n, A]
    out.append(tf.reduce_max(iou[0], axis=1).numpy())
  return np.concatenate(out).astype(np.float64) if out else np.zeros([0])


def model_anchors(padded_size, stride, scales, aspect_ratios):
  """The model's anchors on the padded input, flattened to [A, 4]."""
  anchors = box_utils.generate_anchors(padded_size[0], padded_size[1], stride,
                                       scales, aspect_ratios)
  return tf.reshape(anchors, [-1, 4]).numpy().astype(np.float64)


def _scaled_boxes(dataset, scales, keep_crowd=False):
  """Non-crowd boxes (crowd too if asked) in network-input pixels, [N, 4]."""
  out = []
  for box, crowd, scale in zip(dataset.boxes, dataset.crowd, scales):
    keep = np.ones(len(box), bool) if keep_crowd else ~crowd
    out.append(box[keep] * np.tile(scale, 2)[None, :])
  return np.concatenate(out) if out else np.zeros([0, 4])


def _box_sizes(boxes):
  return np.sqrt(np.maximum(boxes[:, 2] - boxes[:, 0], 0)
                 * np.maximum(boxes[:, 3] - boxes[:, 1], 0))


def anchor_coverage(boxes, padded_size, stride, scales, aspect_ratios,
                    fg_threshold, bg_threshold):
  """Shares of boxes whose best anchor IoU is below the RPN thresholds."""
  if not len(boxes):
    return {'below_fg': 0.0, 'below_bg': 0.0, 'median_best_iou': 0.0,
            'mean_best_iou': 0.0}
  best = best_anchor_ious(
      boxes, model_anchors(padded_size, stride, scales, aspect_ratios))
  return {'below_fg': float(np.mean(best < fg_threshold)),
          'below_bg': float(np.mean(best < bg_threshold)),
          'median_best_iou': float(np.median(best)),
          'mean_best_iou': float(np.mean(best))}


def _anchor_candidates(num_scales):
  return [[base * 2.0 ** k for k in range(num_scales)]
          for base in _ANCHOR_BASES]


def _scaled_side(side, factor, size_divisor):
  """`side * factor` rounded up to a multiple of `size_divisor` (an int)."""
  return int(math.ceil(side * factor / size_divisor) * size_divisor)


def suggest(dataset, scale, max_size, size_divisor, stride, aspect_ratios,
            num_anchor_scales, fg_threshold, bg_threshold,
            max_upscale=DEFAULT_MAX_UPSCALE, max_boxes=3000, seed=0):
  """An image scale and anchor scales for this data set.

  The image factor f (1 ... `max_upscale`) brings the 10th percentile of the
  resized instance sizes up to `stride`; the anchor scales are the octave
  spaced set (`num_anchor_scales` of them, first side from `_ANCHOR_BASES`)
  with the highest mean best-anchor IoU over the instances at that image
  scale (ties: the smaller first side).  Boxes much smaller than the stride
  stay below a 0.7 threshold whatever the anchor size (an anchor centre can
  be stride / 2 away), so the mean IoU, not the share above the threshold,
  is what the anchor choice can move.

  Returns:
    dict with `factor`, `scale`, `max_size`, `padded_size`, `anchor_scales`,
    `coverage` (see `anchor_coverage`), `sizes_p10`.
  """
  sizes = _box_sizes(_scaled_boxes(
      dataset, resize_scales(dataset.sizes, scale, max_size)))
  p10 = float(np.percentile(sizes, _SMALL_PERCENTILE)) if sizes.size else 0.0
  factor = 1.0
  if 0 < p10 < stride:
    factor = min(stride / p10, max_upscale)
  new_scale = _scaled_side(scale, factor, size_divisor)
  new_max = _scaled_side(max_size, factor, size_divisor)
  padded = data_config.resolve_padded_size(
      data_config.Parser(scale=new_scale, max_size=new_max,
                         size_divisor=size_divisor))
  boxes = _scaled_boxes(dataset,
                        resize_scales(dataset.sizes, new_scale, new_max))
  if len(boxes) > max_boxes:
    boxes = boxes[np.random.default_rng(seed).choice(
        len(boxes), max_boxes, replace=False)]
  best = None
  for candidate in _anchor_candidates(num_anchor_scales):
    coverage = anchor_coverage(boxes, padded, stride, candidate,
                               aspect_ratios, fg_threshold, bg_threshold)
    if best is None or coverage['mean_best_iou'] > best[1][
        'mean_best_iou'] + 1e-9:
      best = (candidate, coverage)
  return {'factor': factor, 'scale': new_scale, 'max_size': new_max,
          'padded_size': padded, 'anchor_scales': best[0],
          'coverage': best[1],
          'sizes_p10': float(np.percentile(_box_sizes(boxes), 10))
                       if len(boxes) else 0.0}


def _validation_resize(suggestion, train_parser, validation_parser):
  """The test resize that keeps the experiment's test / train scale ratio.

  A recipe may test at a larger scale than it trains (the custom-data recipe:
  448 / 640 against 320 / 448); the suggested training scale carries that
  ratio over to the validation parser instead of resetting it to 1.

  Returns:
    dict with `validation_scale` and `validation_max_size` (ints, rounded up
    to the training parser's `size_divisor`).
  """
  divisor = int(train_parser.size_divisor)
  return {
      'validation_scale': _scaled_side(
          suggestion['scale'],
          float(validation_parser.scale) / float(train_parser.scale), divisor),
      'validation_max_size': _scaled_side(
          suggestion['max_size'],
          float(validation_parser.max_size) / float(train_parser.max_size),
          divisor)}


def _rpn_thresholds(model):
  """(fg, bg) anchor IoU thresholds of the RPN's target assigner."""
  assigner = model.rpn_target_assigner
  return float(assigner.fg_iou_threshold), float(assigner.bg_iou_threshold)


def size_window(dataset, params, stride):
  """Instances outside the sizes the network handles, train and test scale.

  The window runs from one feature stride to the RPN's receptive field
  (`modeling.receptive_field`): a larger instance has no feature cell that
  sees its edges, so the RPN can neither score it as a whole nor outline it.
  Test scales above the training scale push the large instances out.

  Returns:
    dict: `receptive_field`, `low`, and per parser (`train`, `test`):
    `scale`, `max_size`, the shares `below` (< low) and `above` (> the
    receptive field) of the instances, `max_size_px` (the largest resized
    instance).
  """
  field = receptive_field.rpn_receptive_field(params.task.model.backbone)
  low = recipe_config.MIN_STRIDES * stride
  out = {'receptive_field': field, 'low': low}
  for name, parser in (('train', params.task.train_data.parser),
                       ('test', params.task.validation_data.parser)):
    sizes = recipe_config.resized_sizes(dataset, parser.scale,
                                        parser.max_size)
    out[name] = {
        'scale': float(parser.scale), 'max_size': float(parser.max_size),
        'below': float(np.mean(sizes < low)) if sizes.size else 0.0,
        'above': float(np.mean(sizes > field)) if sizes.size else 0.0,
        'max_size_px': float(sizes.max()) if sizes.size else 0.0}
  return out


def analyze(dataset, params, suggest_changes=True,
            max_upscale=DEFAULT_MAX_UPSCALE, num_anchor_scales=0):
  """The report (a JSON-able dict) of `dataset` under experiment `params`.

  Args:
    dataset: a `Dataset`.
    params: the experiment's `cfg.ExperimentConfig` (train_data's parser,
      the model's anchors and RPN thresholds are read).
    suggest_changes: add the `suggestion` entry (see `suggest`).
    max_upscale: cap of the suggested image scale factor.
    num_anchor_scales: anchor scales to suggest; 0: as many as configured.
  """
  model = params.task.model
  fg_threshold, bg_threshold = _rpn_thresholds(model)
  parser = params.task.train_data.parser
  padded = data_config.resolve_padded_size(parser)
  stride = factory.feature_stride(model.backbone)
  counts = np.array([len(c) for c in dataset.classes], np.int64)
  classes = (np.concatenate(dataset.classes) if dataset.classes
             else np.zeros([0], np.int64))
  crowd = (np.concatenate(dataset.crowd) if dataset.crowd
           else np.zeros([0], bool))
  noncrowd_per_image = np.array([int((~c).sum()) for c in dataset.crowd])
  ids = sorted(set(int(c) for c in classes) | set(dataset.names))
  per_class = {}
  for cid in ids:
    per_class[str(cid)] = {
        'name': dataset.names.get(cid, ''),
        'instances': int(np.sum((classes == cid) & ~crowd)),
        'crowd': int(np.sum((classes == cid) & crowd))}
  gaps = [i for i in range(min(ids), max(ids)) if i not in ids] if ids else []
  scales = resize_scales(dataset.sizes, parser.scale, parser.max_size)
  boxes = _scaled_boxes(dataset, scales)
  sizes = _box_sizes(boxes)
  coverage = anchor_coverage(
      boxes, padded, stride, list(model.anchors.scales),
      list(model.anchors.aspect_ratios), fg_threshold, bg_threshold)
  max_per_image = int(noncrowd_per_image.max()) if counts.size else 0
  report = {
      'images': int(len(dataset.sizes)),
      'images_without_instances': int(np.sum(noncrowd_per_image == 0)),
      'instances': int((~crowd).sum()),
      'crowd_instances': int(crowd.sum()),
      'instances_per_image': {
          'mean': float(noncrowd_per_image.mean()) if counts.size else 0.0,
          'median': float(np.median(noncrowd_per_image))
                    if counts.size else 0.0,
          'max': max_per_image},
      'max_num_instances': int(parser.max_num_instances),
      'images_over_max_num_instances': int(
          np.sum(noncrowd_per_image > parser.max_num_instances)),
      'per_class': per_class,
      'class_ids_in_data': ids,
      'id_gaps': gaps,
      'ids_not_in_config': [i for i in ids
                            if i not in list(model.class_ids)],
      'config_ids_not_in_data': [int(i) for i in model.class_ids
                                 if int(i) not in ids],
      'resize': {'scale': float(parser.scale),
                 'max_size': float(parser.max_size),
                 'padded_size': padded,
                 'factor_min': float(scales.min()) if scales.size else 0.0,
                 'factor_max': float(scales.max()) if scales.size else 0.0},
      'instance_size': {
          'percentiles': {str(p): float(np.percentile(sizes, p))
                          for p in (5, 10, 25, 50, 75, 95)}
                         if sizes.size else {},
          'below_stride': float(np.mean(sizes < stride))
                          if sizes.size else 0.0,
          'below_two_strides': float(np.mean(sizes < 2 * stride))
                               if sizes.size else 0.0},
      'feature_stride': stride,
      'anchors': {'scales': [float(s) for s in model.anchors.scales],
                  'aspect_ratios': [float(r) for r in
                                    model.anchors.aspect_ratios],
                  'fg_iou_threshold': fg_threshold,
                  'bg_iou_threshold': bg_threshold},
      'anchor_coverage': coverage,
  }
  report['window'] = size_window(dataset, params, stride)
  if suggest_changes and sizes.size:
    report['suggestion'] = suggest(
        dataset, parser.scale, parser.max_size, parser.size_divisor, stride,
        list(model.anchors.aspect_ratios),
        num_anchor_scales or len(model.anchors.scales), fg_threshold,
        bg_threshold, max_upscale=max_upscale)
    report['suggestion']['max_num_instances'] = max(
        int(parser.max_num_instances), max_per_image)
    report['suggestion'].update(_validation_resize(
        report['suggestion'], parser, params.task.validation_data.parser))
  return report


def format_report(report):
  """The human-readable report: one finding a line."""
  lines = []
  add = lines.append
  per = report['instances_per_image']
  add('images: %d (%d without instances); instances: %d, crowd: %d (crowd '
      'instances are dropped in training)' % (
          report['images'], report['images_without_instances'],
          report['instances'], report['crowd_instances']))
  add('instances per image: mean %.1f, median %.0f, max %d; max_num_instances '
      '= %d%s' % (per['mean'], per['median'], per['max'],
                  report['max_num_instances'],
                  ' -> %d images lose instances: raise it to >= %d' % (
                      report['images_over_max_num_instances'], per['max'])
                  if report['images_over_max_num_instances'] else ' (enough)'))
  add('per class (id name: instances / crowd):')
  for cid, row in report['per_class'].items():
    add('  %s %s: %d / %d' % (cid, row['name'], row['instances'],
                              row['crowd']))
  add('category ids: %s%s' % (
      report['class_ids_in_data'],
      '; gaps %s (fine: the model maps ids to contiguous indices)'
      % report['id_gaps'] if report['id_gaps'] else ''))
  if report['ids_not_in_config']:
    add('ERROR: ids %s are in the data but not in task.model.class_ids: '
        'training stops on them; set task.model.class_ids=%s'
        % (report['ids_not_in_config'], report['class_ids_in_data']))
  if report['config_ids_not_in_data']:
    add('note: task.model.class_ids %s do not occur in the data'
        % report['config_ids_not_in_data'])
  rs = report['resize']
  size = report['instance_size']
  add('resize: shorter side -> %g, longer <= %g, padded to %s: factors '
      '%.2f..%.2f' % (rs['scale'], rs['max_size'], rs['padded_size'],
                      rs['factor_min'], rs['factor_max']))
  if size['percentiles']:
    add('instance size after resize (sqrt of box area, px): ' + ', '.join(
        'p%s %.1f' % (p, v) for p, v in size['percentiles'].items()))
    add('%.0f %% of instances are smaller than the feature stride (%d px)'
        % (100 * size['below_stride'], report['feature_stride']))
    add('%.0f %% of instances are smaller than two feature strides (%d px): '
        'the RPN proposes these far less reliably (%s)' % (
            100 * size['below_two_strides'], 2 * report['feature_stride'],
            SMALL_INSTANCE_DOC))
  an = report['anchors']
  cov = report['anchor_coverage']
  add('anchors %s x ratios %s: %.0f %% of instances have no anchor with IoU '
      '>= %.2f (RPN foreground), %.0f %% none with IoU >= %.2f; best IoU '
      'median %.2f, mean %.2f' % (
          an['scales'], an['aspect_ratios'], 100 * cov['below_fg'],
          an['fg_iou_threshold'], 100 * cov['below_bg'],
          an['bg_iou_threshold'], cov['median_best_iou'],
          cov['mean_best_iou']))
  win = report.get('window')
  if win:
    for name in ('train', 'test'):
      row = win[name]
      add('%s scale %g / %g: %.0f %% of instances above the receptive '
          'field (%g px: no feature cell sees their edges), %.0f %% below '
          '%g px; largest %.0f px' % (
              name, row['scale'], row['max_size'], 100 * row['above'],
              win['receptive_field'], 100 * row['below'], win['low'],
              row['max_size_px']))
    if win['test']['above'] > max(0.02, 2 * win['train']['above']):
      add('WARNING: the test scale puts %.0f %% of instances past the '
          'receptive field (training: %.0f %%): large instances will be '
          'missed or badly outlined; test at the training scale '
          '(--write_config does)' % (100 * win['test']['above'],
                                      100 * win['train']['above']))
  sug = report.get('suggestion')
  if sug:
    add('suggestion: parser scale %d, max_size %d (padded %s; x%.2f, compute '
        'x%.1f), anchors.scales %s: %.0f %% below IoU %.2f (median best IoU '
        '%.2f, mean %.2f); max_num_instances %d' % (
            sug['scale'], sug['max_size'], sug['padded_size'], sug['factor'],
            sug['factor'] ** 2, [round(s, 1) for s in sug['anchor_scales']],
            100 * sug['coverage']['below_fg'], an['fg_iou_threshold'],
            sug['coverage']['median_best_iou'],
            sug['coverage']['mean_best_iou'], sug['max_num_instances']))
    add('  as overrides: --params_override="task.train_data.parser.scale=%d,'
        'task.train_data.parser.max_size=%d,task.validation_data.parser.scale'
        '=%d,task.validation_data.parser.max_size=%d,task.model.anchors.scales'
        '=[%s]" (and padded_size if the YAML sets it)' % (
            sug['scale'], sug['max_size'], sug['validation_scale'],
            sug['validation_max_size'],
            ','.join('%g' % round(s, 1) for s in sug['anchor_scales'])))
  return '\n'.join(lines)


def experiment_params(experiment, config_files=(), params_override=''):
  """A registered experiment with YAML files and overrides applied."""
  try:
    params = exp_factory.get_exp_config(experiment)
  except (KeyError, LookupError) as e:
    raise InspectError('unknown --experiment=%s' % experiment) from e
  for path in config_files or []:
    params = params_dict.override_params_dict(params, path, is_strict=True)
  if params_override:
    params = params_dict.override_params_dict(params, params_override,
                                              is_strict=True)
  return params


def define_flags(flag_values=flags.FLAGS):
  """The CLI's flags on `flag_values` (the CLI: absl's global FLAGS)."""
  flags.DEFINE_string('annotations_file', None, 'COCO JSON file or a glob '
                      'of TFRecords.', flag_values=flag_values)
  flags.DEFINE_string('experiment', None,
                      'Registered experiment whose resize and anchors are '
                      'checked (with --config_file / --params_override).',
                      flag_values=flag_values)
  flags.DEFINE_multi_string('config_file', None, 'YAML overrides, in order.',
                            flag_values=flag_values)
  flags.DEFINE_string('params_override', '', 'Overrides applied last.',
                      flag_values=flag_values)
  flags.DEFINE_float('max_upscale', DEFAULT_MAX_UPSCALE, 'Largest image '
                     'scale factor to suggest (compute grows with its '
                     'square).', flag_values=flag_values)
  flags.DEFINE_integer('num_anchor_scales', 0, 'Anchor scales to suggest; 0: '
                       'as many as the experiment has.',
                       flag_values=flag_values)
  flags.DEFINE_bool('json', False, 'Print the report as JSON.',
                    flag_values=flag_values)
  flags.DEFINE_string('write_config', None, 'Write the settings derived from '
                      'these (training) annotations to this YAML, for '
                      'train.py --config_file on top of --experiment '
                      '(default: %s).' % WRITE_CONFIG_EXPERIMENT,
                      flag_values=flag_values)
  flags.DEFINE_integer('max_input_side', recipe_config.DEFAULT_MAX_INPUT_SIDE,
                       'With --write_config: largest image scale / max_size '
                       'to choose (inference cost grows with its square).',
                       flag_values=flag_values)
  flags.DEFINE_float('train_minutes', recipe_schedule.DEFAULT_TRAIN_SECONDS
                     / 60.0, 'With --write_config and no --experiment: '
                     'write the training steps that take about this many '
                     'minutes on a 2-vCPU machine at the chosen input size; '
                     '0 keeps the experiment\'s steps.',
                     flag_values=flag_values)
  flags.DEFINE_string('train_input_path', None, 'With --write_config: the '
                      'training TFRecords glob to write into the YAML.',
                      flag_values=flag_values)
  flags.DEFINE_string('validation_input_path', None, 'With --write_config: '
                      'the validation TFRecords glob to write.',
                      flag_values=flag_values)
  flags.DEFINE_string('validation_annotations_file', None, 'With '
                      '--write_config: the validation COCO JSON to write '
                      '(task.annotation_file).', flag_values=flag_values)


def run(flag_values):
  """Prints the report for parsed `flag_values`; returns 0 or 1."""
  if not flag_values.annotations_file:
    print('inspect: error: --annotations_file is required', file=sys.stderr)
    return 1
  experiment = flag_values.experiment
  config_files = flag_values.config_file
  step_costs = None
  if not experiment and flag_values.write_config:
    if config_files:
      print('inspect: error: --config_file needs --experiment (the YAML '
            'it overrides)', file=sys.stderr)
      return 1
    experiment, config_files = WRITE_CONFIG_EXPERIMENT, []
    step_costs = recipe_schedule.DEMO_STEP_COSTS
  if not experiment:
    print('inspect: error: --experiment is required (e.g. mnc_shapes_demo '
          'with --config_file=configs/experiments/mnc_custom_data.yaml)',
          file=sys.stderr)
    return 1
  try:
    params = experiment_params(experiment, config_files,
                               flag_values.params_override)
    dataset = load(flag_values.annotations_file)
  except (InspectError, KeyError, ValueError, OSError) as e:
    print('inspect: error: %s' % e, file=sys.stderr)
    return 1
  if flag_values.write_config:
    try:
      facts = write_config(flag_values.write_config, dataset, params,
                           flag_values, experiment, config_files, step_costs)
    except (recipe_config.ConfigError, OSError) as e:
      print('inspect: error: %s' % e, file=sys.stderr)
      return 1
    if 'stride_reason' in facts:
      print('inspect: feature stride %d: %s' % (facts['stride'],
                                                facts['stride_reason']))
    print('inspect: wrote %s (%d instances in the window %g-%g px at scale '
          '%s: %.0f %%)' % (flag_values.write_config, facts['instances'],
                            facts['window'][0], facts['window'][1],
                            facts['scale'], 100 * facts['coverage']))
    if facts['coverage'] < recipe_config.LOW_COVERAGE:
      if 'stride_reason' in facts:
        where = 'the finest map (stride %d)' % facts['stride']
        advice = ('expect a low score on the others (--max_input_side raises '
                  'the cap for very small instances)')
      else:
        where = 'this stride-%d model' % facts['stride']
        advice = ('a finer map may do better: --experiment=%s --config_file=%s '
                  '(stride 4: window from 4 px; slower steps, its own '
                  'schedule)' % (CUSTOM_DATA_EXPERIMENT, os.path.join(
                      'configs', 'experiments',
                      os.path.basename(CUSTOM_DATA_YAML))))
      print('inspect: WARNING: only %.0f %% of instances fit the %g-%g px '
            'window of %s at any scale up to %d px; %s'
            % (100 * facts['coverage'], facts['window'][0],
               facts['window'][1], where, flag_values.max_input_side,
               advice), file=sys.stderr)
    params = experiment_params(experiment,
                               list(config_files or [])
                               + [flag_values.write_config],
                               flag_values.params_override)
  # After --write_config the report describes the written settings; the
  # older scale / anchor suggestion would only contradict them.
  report = analyze(dataset, params,
                   suggest_changes=not flag_values.write_config,
                   max_upscale=flag_values.max_upscale,
                   num_anchor_scales=flag_values.num_anchor_scales)
  small = report['instance_size'].get('below_two_strides', 0.0)
  if flag_values.write_config and small >= SMALL_INSTANCE_NOTE:
    print('inspect: note: %.0f %% of the training instances are smaller '
          'than two feature strides (%d px) at the written scale: expect '
          'recall lost on them (%s)' % (
              100 * small, 2 * report['feature_stride'], SMALL_INSTANCE_DOC),
          file=sys.stderr)
  print(json.dumps(report, indent=1) if flag_values.json
        else format_report(report))
  return 0


def write_config(path, dataset, params, flag_values, experiment,
                 config_files, step_costs=None):
  """Writes the derived YAML (atomically); returns the facts behind it.

  With `step_costs` ({output stride: `recipe_schedule.StepCost`}, the
  default experiment) the YAML also holds the output stride chosen among
  those strides, and with `--train_minutes` > 0 the training steps of that
  budget at the chosen stride.
  """
  if flag_values.train_minutes < 0:
    raise recipe_config.ConfigError(
        '--train_minutes=%g is negative: give the minutes of training to '
        'plan for, or 0 to keep the experiment\'s steps'
        % flag_values.train_minutes)
  settings, facts = recipe_config.derive(
      dataset, params, max_input_side=flag_values.max_input_side,
      train_seconds=60.0 * flag_values.train_minutes or None,
      step_costs=step_costs, strides=sorted(step_costs) if step_costs else None)
  paths = (('task.train_data.input_path', flag_values.train_input_path),
           ('task.validation_data.input_path',
            flag_values.validation_input_path),
           ('task.annotation_file', flag_values.validation_annotations_file))
  for key, value in paths:
    if value:
      settings.append((key, value, 'given on the command line'))
  header = [
      'Derived by mnc_tf.data.inspect from the training annotations %s'
      % flag_values.annotations_file,
      '(%d images, %d instances) for experiment %s%s.' % (
          facts['images'], facts['instances'], experiment,
          ''.join(' + ' + f for f in config_files or [])),
      'Train with: python train.py --experiment=%s%s --config_file=%s '
      '--mode=train_and_eval --model_dir=...' % (
          experiment, ''.join(' --config_file=' + f
                              for f in config_files or []), path), '']
  atomic_io.write_text(path, recipe_config.to_yaml(settings, header))
  facts['scale'] = dict((k, v) for k, v, _ in settings)[
      'task.train_data.parser.scale']
  return facts


def main(argv):
  """Parses `argv` (program name first) on fresh flags and runs."""
  return cli.main_on_fresh_flags('inspect', define_flags, run, argv)


if __name__ == '__main__':
  define_flags()
  app.run(lambda argv: sys.exit(run(flags.FLAGS)))
