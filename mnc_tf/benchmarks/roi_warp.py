"""Benchmark of RoI warping: custom op vs pure-TF twin vs crop_and_resize.

    python -m mnc_tf.benchmarks.roi_warp [--json] [--runs=7] [--repeats=3]
        [--workload=vgg16|resnet_light|small] [--implementations=custom,builtin]
        [--backward_from=upstream|loss]

Times, in one process, the forward pass and the forward + backward pass
(gradients w.r.t. features AND boxes) of:
  * `custom`: the compiled op (`mnc_tf.ops.roi_warp(implementation='custom')`),
  * `twin`: the pure-TF twin (`implementation='tf'`),
  * `crop_and_resize`: the stock-op form exported graphs use
    (`implementation='crop_and_resize'`, exact zero padding),
  * `builtin`: `tf.image.crop_and_resize` sampling the same points (normalized
    boxes set to the first and last sample positions) + `tf.nn.max_pool2d`.
Each is a `tf.function`, warmed up once, then timed `--runs` times (median).
By default the op alone is timed: the forward's output is not reduced, the
backward gets a fixed random upstream gradient (`output_gradients`), no loss
op; `--backward_from=loss` times it inside sum(out ** 2) and its gradient
(three more passes over the output, the same for every implementation).
With `--repeats` R > 1 the whole comparison runs R times, interleaved, and
the speed-ups over `builtin` are reported per repeat and as their median and
range (on a shared machine the ratio within one repeat is what is comparable).

Boxes are spread like RPN proposals: centres uniform over the image, areas
log-uniform between 16^2 and 600^2 px, aspect ratios (h / w) log-uniform in
[0.5, 2], clipped to the image.
"""

import json
import statistics
import sys
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from mnc_tf.benchmarks import machine as machine_lib
from mnc_tf.ops import roi_warp
from mnc_tf.ops import roi_warp_custom
from mnc_tf.ops import targets

# name: (features shape [B, H, W, C], boxes per image, output_size, pooled_size)
WORKLOADS = {
    'vgg16': ((1, 38, 63, 512), 300, 28, 14),
    # The ResNet experiments' 256-channel map (`roi_feature_channels`).
    'resnet_light': ((1, 38, 63, 256), 300, 28, 14),
    'small': ((1, 19, 32, 64), 64, 14, 7),
}
SPATIAL_SCALE = 1.0 / 16


# Proposal-like boxes (see the module docstring).
MIN_SIDE, MAX_SIDE = 16.0, 600.0
MIN_ASPECT, MAX_ASPECT = 0.5, 2.0


def proposal_boxes(rng, batch, num_boxes, img_h, img_w):
  """[batch, num_boxes, 4] boxes (ymin, xmin, ymax, xmax) like RPN proposals.

  Centres uniform over the image; sqrt(area) log-uniform in [16, 600] px;
  aspect h / w log-uniform in [0.5, 2]; clipped to the image.
  """
  shape = (batch, num_boxes)
  side = np.exp(rng.uniform(np.log(MIN_SIDE), np.log(MAX_SIDE), shape))
  aspect = np.exp(rng.uniform(np.log(MIN_ASPECT), np.log(MAX_ASPECT), shape))
  h, w = side * np.sqrt(aspect), side / np.sqrt(aspect)
  cy, cx = rng.uniform(0, img_h, shape), rng.uniform(0, img_w, shape)
  return np.stack([np.clip(cy - h / 2, 0, img_h), np.clip(cx - w / 2, 0, img_w),
                   np.clip(cy + h / 2, 0, img_h), np.clip(cx + w / 2, 0, img_w)],
                  -1)


def make_inputs(workload, seed=0):
  """Random features and proposal-like boxes for a workload."""
  (b, h, w, c), k, _, _ = WORKLOADS[workload]
  rng = np.random.default_rng(seed)
  features = rng.standard_normal((b, h, w, c)).astype(np.float32)
  boxes = proposal_boxes(rng, b, k, h / SPATIAL_SCALE, w / SPATIAL_SCALE)
  return tf.constant(features), tf.constant(boxes.astype(np.float32))


def builtin_warp(features, boxes, output_size, pooled_size):
  """crop_and_resize at the op's sample points, then max pool. [B*K,n,n,C]."""
  shape = tf.shape(features)
  b, k = tf.shape(boxes)[0], tf.shape(boxes)[1]
  # On the feature map (scale 1 after multiplying by s), the normalized boxes
  # whose first and last crop_and_resize samples are the op's.
  norm = targets.mask_sample_positions(boxes * SPATIAL_SCALE, output_size,
                                       (shape[1], shape[2]))
  box_indices = tf.repeat(tf.range(b), k)
  out = tf.image.crop_and_resize(features, tf.reshape(norm, [-1, 4]),
                                 box_indices, [output_size, output_size])
  if pooled_size:
    window = output_size // pooled_size
    out = tf.nn.max_pool2d(out, window, window, 'VALID')
  return out


IMPLEMENTATIONS = ('custom', 'twin', 'crop_and_resize', 'builtin')


def _implementations(names=IMPLEMENTATIONS):
  impls = {}
  if 'custom' in names and roi_warp_custom.load() is not None:
    impls['custom'] = lambda f, b, s, p: roi_warp(
        f, b, s, SPATIAL_SCALE, p, implementation='custom')
  if 'twin' in names:
    impls['twin'] = lambda f, b, s, p: roi_warp(
        f, b, s, SPATIAL_SCALE, p, implementation='tf')
  if 'crop_and_resize' in names:
    impls['crop_and_resize'] = lambda f, b, s, p: roi_warp(
        f, b, s, SPATIAL_SCALE, p, implementation='crop_and_resize')
  impls['builtin'] = builtin_warp  # the yardstick, always timed
  return impls


def _time(fn, runs):
  fn()  # trace + warm up
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    result = fn()
    tf.nest.map_structure(lambda t: t.numpy(), result)
    times.append((time.perf_counter() - start) * 1e3)
  return statistics.median(times)


def _timed_functions(features, boxes, output_size, pooled_size, names,
                     backward_from='upstream'):
  """{name: (forward fn, forward + backward fn)} as tf.functions.

  With `backward_from='upstream'` the op alone is timed, not a loss around
  it: the forward returns one element of the output (so the whole output is
  computed but not read again), the backward gets a fixed upstream gradient
  (`output_gradients`, as a caller's loss would hand it over) -- the same
  for every implementation.  With 'loss' (the timing before 2026-11-30) the
  forward returns the output's sum and the backward differentiates
  sum(out ** 2): three more passes over the output, inside the timing.
  """
  (b, _, _, c), k = features.shape, boxes.shape[1]
  side = pooled_size or output_size
  upstream = tf.constant(np.random.default_rng(1).standard_normal(
      b * k * side * side * c).astype(np.float32))
  fns = {}
  for name, warp in _implementations(names).items():

    @tf.function
    def forward(warp=warp):
      out = warp(features, boxes, output_size, pooled_size)
      if backward_from == 'loss':
        return tf.reduce_sum(out)
      return tf.reshape(out, [-1])[:1]

    @tf.function
    def forward_backward(warp=warp):
      with tf.GradientTape() as tape:
        tape.watch([features, boxes])
        out = warp(features, boxes, output_size, pooled_size)
        if backward_from == 'loss':
          out_grad = None
          out = tf.reduce_sum(out * out)
        else:
          out_grad = tf.reshape(upstream, tf.shape(out))
      return tape.gradient(out, [features, boxes], output_gradients=out_grad)

    fns[name] = (forward, forward_backward)
  return fns


def run(workload='vgg16', runs=7, repeats=1, names=IMPLEMENTATIONS,
        backward_from='upstream'):
  """Result rows (dicts) for one workload, medians over the repeats.

  Each row holds the median forward / forward + backward times (ms) and
  speed-ups over `builtin`; with repeats > 1 also `*_per_repeat` lists (each
  repeat times every implementation once, in turn) and `*_range` [min, max].
  """
  features, boxes = make_inputs(workload)
  _, _, output_size, pooled_size = WORKLOADS[workload]
  fns = _timed_functions(features, boxes, output_size, pooled_size, names,
                         backward_from)
  per = {name: {'forward_ms': [], 'forward_backward_ms': []} for name in fns}
  for _ in range(repeats):
    for name, (forward, forward_backward) in fns.items():
      per[name]['forward_ms'].append(_time(forward, runs))
      per[name]['forward_backward_ms'].append(_time(forward_backward, runs))
  rows = []
  builtin = per['builtin']
  for name, t in per.items():
    row = {'implementation': name}
    for key in ('forward', 'forward_backward'):
      ms = t[key + '_ms']
      ratios = [b / m for b, m in zip(builtin[key + '_ms'], ms)]
      row[key + '_ms'] = statistics.median(ms)
      row[key + '_speedup_vs_builtin'] = statistics.median(ratios)
      if repeats > 1:
        row[key + '_ms_per_repeat'] = ms
        row[key + '_speedup_per_repeat'] = ratios
        row[key + '_speedup_range'] = [min(ratios), max(ratios)]
    rows.append(row)
  return rows


def define_flags(flag_values=flags.FLAGS):
  """The CLI's flags on `flag_values` (the CLI: absl's global FLAGS)."""
  define = dict(flag_values=flag_values)
  flags.DEFINE_bool('json', False, 'Print JSON only.', **define)
  flags.DEFINE_integer('runs', 7, 'Timed runs per measurement (median; >= 5).',
                       lower_bound=5, **define)
  flags.DEFINE_integer('repeats', 1, 'Times the whole comparison is repeated '
                       '(interleaved); the speed-ups are reported per repeat '
                       'and as median and range.', lower_bound=1, **define)
  flags.DEFINE_enum('workload', 'vgg16', sorted(WORKLOADS), 'Workload.',
                    **define)
  flags.DEFINE_list('implementations', list(IMPLEMENTATIONS),
                    'Which implementations to time (builtin always is).',
                    **define)
  flags.DEFINE_enum('backward_from', 'upstream', ['upstream', 'loss'],
                    'upstream: time the op alone (fixed upstream gradient); '
                    'loss: time it inside sum(out ** 2) and its gradient.',
                    **define)


def report(flag_values):
  """Runs the benchmark for parsed `flag_values`; returns the report dict."""
  unknown = set(flag_values.implementations) - set(IMPLEMENTATIONS)
  if unknown:
    raise ValueError(f'unknown --implementations {sorted(unknown)}; known: '
                     f'{", ".join(IMPLEMENTATIONS)}')
  rows = run(flag_values.workload, flag_values.runs, flag_values.repeats,
             tuple(flag_values.implementations), flag_values.backward_from)
  (b, h, w, c), k, s, p = WORKLOADS[flag_values.workload]
  return {'workload': {'name': flag_values.workload, 'features': [b, h, w, c],
                       'boxes_per_image': k, 'output_size': s,
                       'pooled_size': p, 'runs': flag_values.runs,
                       'backward_from': flag_values.backward_from,
                       'repeats': flag_values.repeats,
                       'boxes': 'proposal-like: sqrt(area) log-uniform in '
                                f'[{MIN_SIDE:g}, {MAX_SIDE:g}] px, aspect '
                                f'log-uniform in [{MIN_ASPECT:g}, '
                                f'{MAX_ASPECT:g}], centres uniform, clipped'},
          'machine': machine_lib.describe(), 'results': rows}


def format_table(rep):
  """The human-readable table of a report."""
  wl = rep['workload']
  b, h, w, c = wl['features']
  lines = [f'RoI warp, {wl["name"]}: features {b}x{h}x{w}x{c}, '
           f'{wl["boxes_per_image"]} boxes ({wl["boxes"]}), '
           f'S={wl["output_size"]}, P={wl["pooled_size"]}, median of '
           f'{wl["runs"]} runs x {wl["repeats"]} repeats '
           f'({rep["machine"]["cpu_count"]} CPUs, load '
           f'{rep["machine"]["load_average_1min"]:.1f})',
           f'{"implementation":<16} {"forward ms":>11} {"fwd+bwd ms":>11} '
           f'{"fwd x":>7} {"fwd+bwd x":>10} {"fwd+bwd x range":>16}']
  for r in rep['results']:
    rng = r.get('forward_backward_speedup_range')
    lines.append(
        f'{r["implementation"]:<16} {r["forward_ms"]:>11.1f} '
        f'{r["forward_backward_ms"]:>11.1f} '
        f'{r["forward_speedup_vs_builtin"]:>7.2f} '
        f'{r["forward_backward_speedup_vs_builtin"]:>10.2f} '
        + (f'{rng[0]:>7.2f} - {rng[1]:<6.2f}' if rng else f'{"-":>16}'))
  lines.append('x = speed-up over builtin (crop_and_resize + max_pool2d), '
               'median over repeats; fwd+bwd = gradients w.r.t. features and '
               f'boxes (backward from: {wl["backward_from"]})')
  return '\n'.join(lines)


def main(argv):
  """Parses `argv` (program name first) on fresh flags; returns the report.

  Raises:
    SystemExit(1) with a one-line message on bad flags.
  """
  flag_values = flags.FlagValues()
  define_flags(flag_values)
  try:
    flag_values(argv)
    rep = report(flag_values)
  except (flags.Error, ValueError) as e:
    print(f'roi_warp benchmark: error: {e}', file=sys.stderr)
    raise SystemExit(1) from e
  print(json.dumps(rep, indent=2) if flag_values.json else format_table(rep))
  return rep


if __name__ == '__main__':
  define_flags()

  def _main(argv):
    try:
      rep = report(flags.FLAGS)
    except ValueError as e:
      print(f'roi_warp benchmark: error: {e}', file=sys.stderr)
      return 1
    print(json.dumps(rep, indent=2) if flags.FLAGS.json else format_table(rep))
    del argv
    return 0

  app.run(lambda argv: sys.exit(_main(argv)))
