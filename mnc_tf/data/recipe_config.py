# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Settings of a custom-data experiment derived from training annotations.

    python -m mnc_tf.data.inspect --annotations_file=my/train.json \
        --write_config=my_data.yaml

`derive` reads only the training annotations (image sizes, boxes, classes)
and the experiment the YAML goes on top of (its feature stride, receptive
field, size divisor, proposal counts, schedule) and returns each setting
with a one-line reason; `to_yaml` writes them as a YAML of overrides that
`train.py --experiment=mnc_shapes_demo --config_file=my_data.yaml` accepts
(the default experiment of `inspect --write_config`).  The rules:

  * feature stride (when the experiment's tiny backbone may change it,
    as for the default experiment): for each candidate output stride,
    coarsest (cheapest) first, the scale search below with that stride's
    window; the coarsest of strides 16 and 8 at which at least
    `STRIDE_SHARE` of the training instances fit the window counted from
    two strides (with that window's scale), else the coarsest stride at
    which they fit the window from one stride, else the finest.  The
    proposal generator's pre-NMS counts grow with the anchor positions (x4
    per halving of the stride).
  * image scale (shorter side, train and test alike): the multiple of the
    size divisor that puts the most instances inside the window the network
    handles, from one feature stride (an instance owns a cell) up to the
    RPN's receptive field (a larger instance has no cell that sees its
    edges); among scales within half a point of the best, the one whose
    median resize factor is nearest 1.  `max_size` lets the most elongated
    training image keep that factor.  Both capped at `max_input_side`.
    Training images pad to their own orientation.
  * anchors: octave-spaced from the 1st percentile of the resized instance
    sizes (sqrt of the box area) until the 99th is within a factor sqrt(2)
    (IoU >= 0.5 when centred); aspect ratios (width / height) 0.5 / 1 / 2,
    plus 0.25 or 4 when over 5 % of the boxes are that elongated.
  * RPN foreground IoU 0.7 when >= 90 % of instances have an anchor at that
    IoU, else 0.5.
  * `max_num_instances`: 1.5x the most instances in a training image (at
    least 8); detections per image: at least 2x that, at least 50.
  * proposals (train and test): the experiment's, at least 2x
    `max_num_instances`; at test, twice the experiment's when the written
    stride is finer than the experiment's (`proposals_at_test`).
  * test-time passes (flip, extra scales) off: one pass per image.
  * with a measured step cost (`recipe_schedule`): the training steps that
    fill a wall-time budget at the chosen input size, the learning-rate
    decay moved with them.
"""

import copy
import math

import numpy as np

from mnc_tf.data import inspect as inspect_lib
from mnc_tf.data import recipe_schedule
from mnc_tf.modeling import factory
from mnc_tf.modeling import receptive_field

# Smallest instance the window keeps, in feature strides: an instance of one
# stride still owns a feature cell.  (2 strides left half of the `mixed`
# family's instances outside a stride-16 window at any scale up to 640 px.)
MIN_STRIDES = 1.0
# The stride choice first looks for a candidate of at least
# `MIN_TWO_STRIDE_STRIDE` whose window from `TWO_STRIDES` strides holds
# `STRIDE_SHARE` of the instances.  On held-back images this moved
# `crowded` from stride 16 to 8 at the same input (mask AP50 0.626 ->
# 0.730, AR@100 0.365 -> 0.472) and `elongated` from 16 to 8 (0.804 ->
# 0.853).  Not below stride 8: on `mixed` (instances over 15x in size) the
# two-stride window moved stride 8 to 4 and lost recall (AR@100 0.510 ->
# 0.451, AP50 level).
TWO_STRIDES = 2.0
MIN_TWO_STRIDE_STRIDE = 8
# Scales whose coverage is within this of the best count as tied.
COVERAGE_TOLERANCE = 0.005
# Default cap of the padded input side (inference cost grows with its square).
DEFAULT_MAX_INPUT_SIDE = 640
# Anchors: the 99th percentile size must be within this factor of an anchor.
ANCHOR_REACH = math.sqrt(2.0)
# Below this share of instances in the window, inspect warns that the
# model's feature map is too coarse (or its receptive field too small).
LOW_COVERAGE = 0.5
# Extra aspect ratios are added when more than this share of boxes needs them.
ELONGATED_SHARE = 0.05
# The output stride written is the coarsest (cheapest) candidate at which at
# least this share of the training instances fit its window (else the
# finest).  Chosen on held-back training images of the synthetic families.
STRIDE_SHARE = 0.85


class ConfigError(ValueError):
  """The annotations cannot give a configuration; the message says why."""


def _round_up(value, divisor):
  return int(math.ceil(value / float(divisor)) * divisor)


def instance_boxes(dataset):
  """Non-crowd boxes [N, 4] (original pixels) and their image index [N]."""
  boxes, where = [], []
  for index, (box, crowd) in enumerate(zip(dataset.boxes, dataset.crowd)):
    boxes.append(box[~crowd])
    where.append(np.full([int((~crowd).sum())], index, np.int64))
  if not boxes:
    return np.zeros([0, 4]), np.zeros([0], np.int64)
  return np.concatenate(boxes), np.concatenate(where)


def resized_sizes(dataset, scale, max_size):
  """sqrt(box area) [N] of the non-crowd boxes after the parser's resize."""
  boxes, where = instance_boxes(dataset)
  factors = inspect_lib.resize_scales(dataset.sizes, scale, max_size)[where]
  return np.sqrt(np.maximum(boxes[:, 2] - boxes[:, 0], 0) * factors[:, 0]
                 * np.maximum(boxes[:, 3] - boxes[:, 1], 0) * factors[:, 1])


def max_size_for(dataset, scale, size_divisor, max_input_side):
  """The longer-side cap that keeps every training image's aspect."""
  ratio = float(np.max(dataset.sizes.max(axis=1) / dataset.sizes.min(axis=1)))
  return min(_round_up(scale * ratio, size_divisor),
             _round_up(max_input_side, size_divisor))


def choose_scale(dataset, size_divisor, window, max_input_side):
  """The image scale that keeps the most instances inside `window`.

  Args:
    dataset: an `inspect.Dataset` (training annotations).
    size_divisor: the parser's size divisor; scales are its multiples.
    window: (smallest, largest) instance size (px) the network handles.
    max_input_side: no scale or max_size above this.

  Returns:
    dict: `scale`, `max_size`, `coverage` (share of instances inside the
    window), `factor_median` (median per-image resize factor).
  """
  low, high = window
  shorter = dataset.sizes.min(axis=1)
  rows = []
  for scale in range(size_divisor, int(max_input_side) + 1, size_divisor):
    max_size = max_size_for(dataset, scale, size_divisor, max_input_side)
    if max_size < scale:
      continue
    sizes = resized_sizes(dataset, scale, max_size)
    rows.append({
        'scale': scale, 'max_size': max_size,
        'coverage': float(np.mean((sizes >= low) & (sizes <= high))),
        'factor_median': float(np.median(np.minimum(
            scale / shorter, max_size / dataset.sizes.max(axis=1))))})
  top = max(row['coverage'] for row in rows)
  tied = [row for row in rows
          if row['coverage'] >= top - COVERAGE_TOLERANCE]
  return min(tied, key=lambda row: (abs(math.log(row['factor_median'])),
                                    row['scale']))


def with_output_stride(backbone, stride):
  """A copy of the tiny `backbone` config at output stride `stride`."""
  backbone = copy.deepcopy(backbone)
  backbone.tiny.output_stride = int(stride)
  return backbone


def choose_stride(dataset, backbone, size_divisor, max_input_side,
                  strides=None, share=None):
  """The coarsest output stride whose window holds `share` of the instances.

  For each candidate stride the window runs from `MIN_STRIDES` strides to
  the RPN's receptive field at that stride, and `choose_scale` finds the
  scale that fits the most instances into it.  First, among the candidates
  of at least `MIN_TWO_STRIDE_STRIDE`, the coarsest whose window from
  `TWO_STRIDES` strides holds `share` wins (with that window's scale): an
  instance under two strides is proposed far less reliably.  Else the
  coarsest stride (the cheapest steps) whose best coverage is at least
  `share` wins; when none reaches it, the finest.

  Args:
    dataset: an `inspect.Dataset` (training annotations).
    backbone: the experiment's `configs.model.Backbone`.
    size_divisor: the parser's size divisor (a multiple of every stride).
    max_input_side: no scale or max_size above this.
    strides: candidate output strides of the tiny backbone; None keeps the
      experiment's stride (any backbone).
    share: the coverage a stride needs; None: `STRIDE_SHARE`.

  Returns:
    (chosen, rows): rows, one per candidate, coarsest first, are dicts with
    `stride`, `receptive_field`, `window` and `choose_scale`'s `scale`,
    `max_size`, `coverage`, `factor_median` (and, for candidates of at least
    `MIN_TWO_STRIDE_STRIDE`, `two_strides`: the same for the window from
    `TWO_STRIDES` strides); chosen is one of them, or a copy updated with
    its `two_strides` and `from_two_strides` True.

  Raises:
    ConfigError: several strides for a backbone other than 'tiny', or a
      stride that does not divide the size divisor.
  """
  share = STRIDE_SHARE if share is None else share
  if strides is None:
    configs = [(factory.feature_stride(backbone), backbone)]
  else:
    if backbone.type != 'tiny':
      raise ConfigError('the output stride can be chosen for the tiny '
                        'backbone only, not %r: give no candidate strides'
                        % backbone.type)
    configs = [(int(s), with_output_stride(backbone, s))
               for s in sorted(set(strides), reverse=True)]
  rows = []
  for stride, config in configs:
    if size_divisor % stride:
      raise ConfigError('the size divisor %d is not a multiple of the '
                        'feature stride %d: set parser.size_divisor to one'
                        % (size_divisor, stride))
    field = receptive_field.rpn_receptive_field(config)
    window = (MIN_STRIDES * stride, field)
    row = {'stride': stride, 'receptive_field': field,
           'window': list(window)}
    row.update(choose_scale(dataset, size_divisor, window, max_input_side))
    if strides is not None and stride >= MIN_TWO_STRIDE_STRIDE:
      two = (TWO_STRIDES * stride, field)
      row['two_strides'] = {'window': list(two)}
      row['two_strides'].update(
          choose_scale(dataset, size_divisor, two, max_input_side))
    rows.append(row)
  for row in rows:
    two = row.get('two_strides')
    if two and two['coverage'] >= share:
      chosen = dict(row)
      chosen.update(two)
      chosen['from_two_strides'] = True
      return chosen, rows
  for row in rows:
    if row['coverage'] >= share:
      return row, rows
  return rows[-1], rows


def _coverages(rows):
  """'16: 67 % at 208 px, 8: ...' of (stride, `choose_scale` row) pairs."""
  return ', '.join('%d: %.0f %% at %d px' % (
      stride, 100 * row['coverage'], row['scale']) for stride, row in rows)


def _stride_reason(chosen, rows, share):
  """One line: why `chosen` among `rows` (see `choose_stride`)."""
  if chosen.get('from_two_strides'):
    shares = _coverages((row['stride'], row['two_strides']) for row in rows
                        if 'two_strides' in row)
    return ('the coarsest (cheapest) stride with >= %.0f %% of the training '
            'instances in its window from two strides, where the RPN finds '
            'them reliably (stride %s)' % (100 * share, shares))
  shares = _coverages((row['stride'], row) for row in rows)
  if chosen['coverage'] >= share:
    why = 'the coarsest (cheapest) stride with >= %.0f %%' % (100 * share)
  else:
    why = 'no stride reaches %.0f %%: the finest' % (100 * share)
  return ('%s of the training instances in its window (stride %s)'
          % (why, shares))


def choose_anchor_scales(sizes):
  """Octave-spaced anchor sides from p1 until p99 is within reach."""
  low, high = np.percentile(sizes, [1, 99])
  scales = [float(round(low, 1))]
  while scales[-1] * ANCHOR_REACH < high:
    scales.append(float(round(scales[0] * 2 ** len(scales), 1)))
  return scales


def choose_aspect_ratios(boxes):
  """Width / height ratios: 0.5, 1, 2 (+ 0.25 / 4 for elongated boxes)."""
  heights = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6)
  widths = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-6)
  ratio = widths / heights
  ratios = [0.5, 1.0, 2.0]
  if np.mean(ratio < 1 / 2.83) > ELONGATED_SHARE:
    ratios.insert(0, 0.25)
  if np.mean(ratio > 2.83) > ELONGATED_SHARE:
    ratios.append(4.0)
  return ratios


def _scaled_boxes(dataset, scale, max_size):
  boxes, where = instance_boxes(dataset)
  factors = inspect_lib.resize_scales(dataset.sizes, scale, max_size)[where]
  return boxes * np.tile(factors, 2)


def derive(dataset, params, max_input_side=DEFAULT_MAX_INPUT_SIDE,
           train_seconds=None, step_costs=None, strides=None,
           stride_share=None):
  """The settings for `dataset` on top of experiment `params`.

  Args:
    dataset: an `inspect.Dataset` of the TRAINING annotations.
    params: the experiment the YAML overrides (its backbone, anchors'
      stride, parser's size divisor, proposal counts and trainer are read).
    max_input_side: cap of the image scale and max_size.
    train_seconds: with `step_costs`, write the steps that fill this wall
      time at the chosen stride and input size
      (`recipe_schedule.budget_steps`); None keeps the experiment's steps.
    step_costs: {output stride: `recipe_schedule.StepCost`} measured for
      this experiment (the chosen stride must be among them).
    strides: candidate output strides of the experiment's tiny backbone
      (`choose_stride`); None keeps the experiment's stride.
    stride_share: the share of instances a stride's window must hold;
      None: `STRIDE_SHARE`.

  Returns:
    (settings, facts): settings is a list of (dotted key, value, reason);
    facts a dict of the numbers behind them (for the report and tests).

  Raises:
    ConfigError: no non-crowd instance in the annotations, or a stride
      that cannot be chosen (see `choose_stride`).
  """
  boxes, _ = instance_boxes(dataset)
  if not len(boxes):
    raise ConfigError('the annotations hold no non-crowd instance: nothing '
                      'to derive a configuration from')
  model = params.task.model
  divisor = int(params.task.train_data.parser.size_divisor)
  if stride_share is None:
    stride_share = STRIDE_SHARE
  choice, stride_rows = choose_stride(dataset, model.backbone, divisor,
                                      max_input_side, strides, stride_share)
  stride, field = choice['stride'], choice['receptive_field']
  window = tuple(choice['window'])
  scale, max_size = choice['scale'], choice['max_size']
  sizes = resized_sizes(dataset, scale, max_size)
  anchor_scales = choose_anchor_scales(sizes)
  scaled = _scaled_boxes(dataset, scale, max_size)
  ratios = choose_aspect_ratios(scaled)
  padded = _round_up(max_size, divisor)
  best_iou = inspect_lib.best_anchor_ious(scaled, inspect_lib.model_anchors(
      [padded, padded], stride, anchor_scales, ratios))
  at_07 = float(np.mean(best_iou >= 0.7))
  fg_iou = 0.7 if at_07 >= 0.9 else 0.5
  per_image = np.array([int((~c).sum()) for c in dataset.crowd])
  most = int(per_image.max())
  max_instances = max(8, int(math.ceil(1.5 * most)))
  detections = max(50, 2 * max_instances)
  experiment_stride = factory.feature_stride(model.backbone)
  proposals = [
      max(int(model.proposal_generator.num_proposals), 2 * max_instances),
      proposals_at_test(model.proposal_generator.test_num_proposals,
                        experiment_stride, stride, max_instances)]
  ids = sorted(set(int(c) for c in np.concatenate(dataset.classes))
               | set(dataset.names))
  p1, p50, p99 = np.percentile(sizes, [1, 50, 99])
  facts = {
      'stride': stride, 'receptive_field': field, 'window': list(window),
      'coverage': choice['coverage'], 'factor_median': choice['factor_median'],
      'sizes_p1_p50_p99': [float(p1), float(p50), float(p99)],
      'share_anchor_iou_07': at_07,
      'share_anchor_iou_05': float(np.mean(best_iou >= 0.5)),
      'max_instances_per_image': most, 'images': int(len(dataset.sizes)),
      'instances': int(len(boxes)), 'strides': stride_rows}
  shorter = 'shorter side %d-%d px' % (dataset.sizes.min(axis=1).min(),
                                       dataset.sizes.min(axis=1).max())
  settings = [
      ('task.model.class_ids', ids,
       'every category id of the training annotations (%d instances)'
       % len(boxes))]
  if strides is not None:
    facts['stride_reason'] = _stride_reason(choice, stride_rows, stride_share)
    settings.append(('task.model.backbone.tiny.output_stride', stride,
                     facts['stride_reason']))
    settings += pre_nms_settings(model.proposal_generator,
                                  experiment_stride, stride)
  settings += [
      ('task.train_data.parser.scale', scale,
       '%s -> median factor %.2f: %.0f %% of instances at %g-%g px, the '
       'window of a stride-%d map with a %g px receptive field'
       % (shorter, choice['factor_median'], 100 * choice['coverage'],
          window[0], window[1], stride, field)),
      ('task.train_data.parser.max_size', max_size,
       'the most elongated training image keeps the same factor'),
      ('task.train_data.parser.padded_size', [],
       'no fixed square: each image pads to its own orientation ...'),
      ('task.train_data.parser.oriented_padding', True,
       '... landscape to scale x max_size, portrait to max_size x scale'),
      ('task.train_data.parser.max_num_instances', max_instances,
       '1.5 x the most instances in a training image (%d)' % most),
      ('task.validation_data.parser.scale', scale,
       'test as trained: larger test scales push large instances past the '
       'receptive field'),
      ('task.validation_data.parser.max_size', max_size,
       'as in training'),
      ('task.validation_data.parser.padded_size', [padded, padded],
       'max_size rounded up to the size divisor, either orientation'),
      ('task.validation_data.parser.max_num_instances', max_instances,
       'as in training'),
      ('task.model.anchors.scales', anchor_scales,
       'octaves from p1 %.1f px of the resized instance sizes to p99 %.1f '
       'px (median %.1f)' % (p1, p99, p50)),
      ('task.model.anchors.aspect_ratios', ratios,
       'width / height of the training boxes (0.25 / 4 when > 5 % need '
       'them)'),
      ('task.model.rpn_target_assigner.fg_iou_threshold', fg_iou,
       '%.0f %% of instances have an anchor at IoU >= 0.7 (0.7 needs 90 %%)'
       % (100 * at_07)),
      ('task.model.proposal_generator.num_proposals', proposals[0],
       'at least 2 x max_num_instances (the experiment: %d)'
       % model.proposal_generator.num_proposals),
      ('task.model.proposal_generator.test_num_proposals', proposals[1],
       proposals_at_test_reason(model.proposal_generator.test_num_proposals,
                                experiment_stride, stride)),
      ('task.model.detection_generator.max_num_detections', detections,
       'at least 2 x max_num_instances'),
      ('task.model.detection_generator.max_detections_per_class', detections,
       'as max_num_detections'),
      ('task.model.cascade.test_horizontal_flip', False,
       'one pass per image at test (cheap inference); --select_on=holdout '
       'can turn test-time passes on'),
      ('task.model.cascade.test_extra_scales', [],
       'no extra test scales (see test_horizontal_flip)'),
  ]
  if train_seconds and step_costs:
    if stride not in step_costs:
      raise ConfigError('no step cost measured at feature stride %d (only '
                        'at %s): give --train_minutes=0 to keep the '
                        'experiment\'s steps' % (stride, sorted(step_costs)))
    cost = step_costs[stride]
    steps = recipe_schedule.budget_steps(scale, max_size, train_seconds, cost)
    facts['train_steps'] = steps
    settings += recipe_schedule.schedule_settings(
        params.trainer, steps,
        'about %.0f min of training at %d x %d px, stride %d (%.0f ms per '
        'step on a 2-vCPU machine)' % (train_seconds / 60.0, scale, max_size,
                                       stride,
                                       1000 * cost.seconds(scale * max_size)))
  return settings, facts


def proposals_at_test(experiment_count, experiment_stride, stride,
                      max_instances):
  """Proposals kept at test: twice the experiment's at a finer stride.

  A finer map puts more of the experiment's proposals on each large
  instance, and the small instances' proposals fall off the end. Chosen on
  held-back training images: on `mixed` at stride 8, 32 proposals reached
  72 % of the instances at IoU 0.5 and 64 reached 83 % (mask AP50 0.545 ->
  0.571; 128 and 300 scored lower than 64); on `tiny` at stride 4, 64 scored
  as its 60 and 128 lower (0.324 / 0.322 / 0.271).

  Args:
    experiment_count: the experiment's `test_num_proposals`.
    experiment_stride: the experiment's feature stride.
    stride: the written feature stride.
    max_instances: the written `max_num_instances`.

  Returns:
    int, the proposals kept per image at test: the experiment's count (twice
    it when `stride` is finer than `experiment_stride`), at least 2 x
    `max_instances`.
  """
  factor = 2 if stride < experiment_stride else 1
  return max(factor * int(experiment_count), 2 * int(max_instances))


def proposals_at_test_reason(experiment_count, experiment_stride, stride):
  """The YAML comment of `test_num_proposals` (see `proposals_at_test`)."""
  if stride >= experiment_stride:
    return 'at least 2 x max_num_instances (the experiment: %d)' % (
        experiment_count)
  return ('twice the experiment\'s %d at stride %d < %d: room for the small '
          'instances\' proposals (64 beat 32, 128 and 300 on held-back '
          'images); at least 2 x max_num_instances'
          % (experiment_count, stride, experiment_stride))


def pre_nms_settings(proposal_generator, experiment_stride, stride):
  """Pre-NMS proposal counts grown with the anchor positions: (s0 / s)^2."""
  if stride == experiment_stride:
    return []
  factor = (float(experiment_stride) / stride) ** 2
  return [(key, int(round(factor * getattr(proposal_generator, name))),
           'the experiment\'s %d x %g: a stride-%d map has (%d / %d)^2 '
           'times the anchor positions of stride %d'
           % (getattr(proposal_generator, name), factor, stride,
              experiment_stride, stride, experiment_stride))
          for key, name in (
              ('task.model.proposal_generator.pre_nms_top_k',
               'pre_nms_top_k'),
              ('task.model.proposal_generator.test_pre_nms_top_k',
               'test_pre_nms_top_k'))]


def _format_value(value):
  if isinstance(value, bool):
    return 'true' if value else 'false'
  if isinstance(value, (list, tuple)):
    return '[' + ', '.join(_format_value(v) for v in value) + ']'
  if isinstance(value, float):
    return repr(round(value, 4))
  if isinstance(value, str):
    return "'%s'" % value.replace("'", "''")
  return str(value)


def to_yaml(settings, header_lines=()):
  """The settings as nested YAML, each leaf with its reason as a comment.

  Args:
    settings: list of (dotted key, value, reason).
    header_lines: comment lines written first.

  Returns:
    str, YAML text.
  """
  tree = {}
  for key, value, reason in settings:
    node = tree
    parts = key.split('.')
    for part in parts[:-1]:
      node = node.setdefault(part, {})
    node[parts[-1]] = (value, reason)
  lines = ['# ' + line if line else '#' for line in header_lines]

  def emit(node, depth):
    for name, child in node.items():
      pad = '  ' * depth
      if isinstance(child, dict):
        lines.append('%s%s:' % (pad, name))
        emit(child, depth + 1)
      else:
        value, reason = child
        lines.append('%s%s: %s  # %s' % (pad, name, _format_value(value),
                                         reason.replace('\n', ' ')))
  emit(tree, 0)
  return '\n'.join(lines) + '\n'
