"""Benchmark of RoI warping: custom op vs pure-TF twin vs crop_and_resize.

    python -m mnc_tf.benchmarks.roi_warp [--json] [--runs 7] [--workload vgg16]

Times, in one process, the forward pass and the forward + backward pass
(gradients w.r.t. features AND boxes) of:
  * `custom`: the compiled op (`mnc_tf.ops.roi_warp(implementation='custom')`),
  * `twin`: the pure-TF twin (`implementation='tf'`),
  * `crop_and_resize`: the stock-op form exported graphs use
    (`implementation='crop_and_resize'`, exact zero padding),
  * `builtin`: `tf.image.crop_and_resize` sampling the same points (normalized
    boxes set to the first and last sample positions) + `tf.nn.max_pool2d`.
Each is a `tf.function`, warmed up once, then timed `--runs` times; the table
shows the median and the speed-up of `custom` over `builtin`.
"""

import argparse
import json
import platform
import statistics
import time

import numpy as np
import tensorflow as tf

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


def make_inputs(workload, seed=0):
  """Random features and boxes (inside the image) for a workload."""
  (b, h, w, c), k, _, _ = WORKLOADS[workload]
  rng = np.random.default_rng(seed)
  features = rng.standard_normal((b, h, w, c)).astype(np.float32)
  img_h, img_w = h / SPATIAL_SCALE, w / SPATIAL_SCALE
  y = np.sort(rng.uniform(0, img_h, size=(b, k, 2)), axis=-1)
  x = np.sort(rng.uniform(0, img_w, size=(b, k, 2)), axis=-1)
  boxes = np.stack([y[..., 0], x[..., 0], y[..., 1], x[..., 1]], -1)
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


def _implementations():
  impls = {}
  if roi_warp_custom.load() is not None:
    impls['custom'] = lambda f, b, s, p: roi_warp(
        f, b, s, SPATIAL_SCALE, p, implementation='custom')
  impls['twin'] = lambda f, b, s, p: roi_warp(
      f, b, s, SPATIAL_SCALE, p, implementation='tf')
  impls['crop_and_resize'] = lambda f, b, s, p: roi_warp(
      f, b, s, SPATIAL_SCALE, p, implementation='crop_and_resize')
  impls['builtin'] = builtin_warp
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


def run(workload='vgg16', runs=7):
  """Returns a list of result rows (dicts) for one workload."""
  features, boxes = make_inputs(workload)
  _, _, output_size, pooled_size = WORKLOADS[workload]
  rows = []
  for name, warp in _implementations().items():

    @tf.function
    def forward(warp=warp):
      return tf.reduce_sum(warp(features, boxes, output_size, pooled_size))

    @tf.function
    def forward_backward(warp=warp):
      with tf.GradientTape() as tape:
        tape.watch([features, boxes])
        out = warp(features, boxes, output_size, pooled_size)
        loss = tf.reduce_sum(out * out)
      return tape.gradient(loss, [features, boxes])

    rows.append({'implementation': name,
                 'forward_ms': _time(forward, runs),
                 'forward_backward_ms': _time(forward_backward, runs)})
  builtin = next(r for r in rows if r['implementation'] == 'builtin')
  for r in rows:
    r['forward_speedup_vs_builtin'] = builtin['forward_ms'] / r['forward_ms']
    r['forward_backward_speedup_vs_builtin'] = (
        builtin['forward_backward_ms'] / r['forward_backward_ms'])
  return rows


def machine():
  return {'machine': platform.machine(), 'processor': platform.processor(),
          'cpus': len(__import__('os').sched_getaffinity(0)),
          'tensorflow': tf.__version__}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--json', action='store_true', help='print JSON only')
  parser.add_argument('--runs', type=int, default=7)
  parser.add_argument('--workload', choices=sorted(WORKLOADS), default='vgg16')
  args = parser.parse_args(argv)
  if args.runs < 5:
    parser.error('--runs must be >= 5 (the table reports a median)')
  rows = run(args.workload, args.runs)
  (b, h, w, c), k, s, p = WORKLOADS[args.workload]
  report = {'workload': {'name': args.workload, 'features': [b, h, w, c],
                         'boxes_per_image': k, 'output_size': s,
                         'pooled_size': p, 'runs': args.runs},
            'machine': machine(), 'results': rows}
  if args.json:
    print(json.dumps(report, indent=2))
    return report
  print(f'RoI warp, {args.workload}: features {b}x{h}x{w}x{c}, {k} boxes, '
        f'S={s}, P={p}, median of {args.runs} runs ({report["machine"]["cpus"]} CPUs)')
  print(f'{"implementation":<16} {"forward ms":>11} {"fwd+bwd ms":>11} '
        f'{"fwd x":>7} {"fwd+bwd x":>10}')
  for r in rows:
    print(f'{r["implementation"]:<16} {r["forward_ms"]:>11.1f} '
          f'{r["forward_backward_ms"]:>11.1f} '
          f'{r["forward_speedup_vs_builtin"]:>7.2f} '
          f'{r["forward_backward_speedup_vs_builtin"]:>10.2f}')
  print('x = speed-up over builtin (crop_and_resize + max_pool2d); '
        'fwd+bwd = gradients w.r.t. features and boxes')
  return report


if __name__ == '__main__':
  main()
