"""Times torchvision's RoIAlign on the RoI-warp harness workloads (for comparison).

`torchvision.ops.roi_align(aligned=True, sampling_ratio=1)` samples the same
points as our RoI warp (one sample per bin at start*s - 0.5 + (i + 0.5) * bin;
checked below on boxes inside the map); its backward computes the feature
gradient only.  The VGG-16 workload adds the 2x2 max pool (F.max_pool2d).
Boxes come from the harness's generator (SplitMix64, mirrored exactly from
harness_data.h), so both programs time the same boxes.  Needs PyTorch with
torchvision and a CUDA GPU; no TensorFlow.

Usage:
  python bench_torchvision.py [--workloads vgg16,coco] [--iters 50]
      [--warmup 5] [--seed 1] [--json PATH]
  python bench_torchvision.py --print-boxes vgg16 5   # no torch needed
"""

import argparse
import json
import math
import os
import struct
import sys

# Same as harness_data.h: (B, H, W, C, K, S, P, spatial_scale).
WORKLOADS = {
    'vgg16': dict(B=1, H=38, W=63, C=512, K=300, S=28, P=14, scale=1.0 / 16),
    'coco': dict(B=2, H=50, W=84, C=1024, K=512, S=14, P=0, scale=1.0 / 16),
}
_MASK64 = (1 << 64) - 1


class SplitMix64:
  """The harness's generator: same seed, same stream of numbers."""

  def __init__(self, seed):
    self.state = seed & _MASK64

  def next(self):
    self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK64
    z = self.state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)

  def uniform(self):
    return (self.next() >> 11) * 2.0**-53


def _f32(x):
  return struct.unpack('f', struct.pack('f', x))[0]


def make_boxes(w, seed):
  """[B * K] boxes (batch, ymin, xmin, ymax, xmax) as harness_data.h MakeBoxes."""
  rng = SplitMix64(seed)
  s = w['scale']
  img_h, img_w = w['H'] / s, w['W'] / s
  min_side = 1.0 / s
  log_min = math.log(min_side)
  log_h = math.log(max(img_h, min_side))
  log_w = math.log(max(img_w, min_side))
  boxes = []
  for b in range(w['B']):
    for _ in range(w['K']):
      cy = rng.uniform() * img_h
      cx = rng.uniform() * img_w
      h = math.exp(log_min + rng.uniform() * (log_h - log_min))
      bw = math.exp(log_min + rng.uniform() * (log_w - log_min))
      box = (max(0.0, cy - h / 2), max(0.0, cx - bw / 2),
             min(img_h, cy + h / 2), min(img_w, cx + bw / 2))
      boxes.append((b,) + tuple(_f32(v) for v in box))
  return boxes


def _our_sampling(torch, feats, rois, size, scale):
  """docs/design.md §4 bilinear sampling in plain torch, for boxes inside the map."""
  outs = []
  for b, x1, y1, x2, y2 in rois.tolist():
    i = torch.arange(size, dtype=torch.float32, device=feats.device) + 0.5
    ys = y1 * scale - 0.5 + i * ((y2 - y1) * scale) / size
    xs = x1 * scale - 0.5 + i * ((x2 - x1) * scale) / size
    y0, x0 = ys.floor().long(), xs.floor().long()
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    f = feats[int(b)]
    y1i = (y0 + 1).clamp(max=f.shape[1] - 1)
    x1i = (x0 + 1).clamp(max=f.shape[2] - 1)
    g = lambda yy, xx: f[:, yy][:, :, xx]  # pylint: disable=cell-var-from-loop
    outs.append(g(y0, x0) * (1 - fy) * (1 - fx) + g(y0, x1i) * (1 - fy) * fx +
                g(y1i, x0) * fy * (1 - fx) + g(y1i, x1i) * fy * fx)
  return torch.stack(outs)


def check_sampling(torch, roi_align):
  """Max |roi_align - our formula| on random boxes well inside a map."""
  gen = torch.Generator(device='cpu').manual_seed(0)
  feats = torch.rand(2, 8, 20, 24, generator=gen).cuda()
  scale = 0.25
  lo = torch.rand(16, 2, generator=gen) * 30 + 6    # image pixels, map 80 x 96
  hi = lo + torch.rand(16, 2, generator=gen) * 30 + 1
  batch = torch.arange(16) % 2
  rois = torch.stack([batch.float(), lo[:, 1], lo[:, 0], hi[:, 1], hi[:, 0]], 1).cuda()
  theirs = roi_align(feats, rois, output_size=7, spatial_scale=scale,
                     sampling_ratio=1, aligned=True)
  ours = _our_sampling(torch, feats, rois, 7, scale)
  return float((theirs - ours).abs().max())


def time_workload(torch, roi_align, name, w, seed, warmup, iters):
  import torch.nn.functional as F  # pylint: disable=g-import-not-at-top
  dev = torch.device('cuda')
  gen = torch.Generator(device='cpu').manual_seed(seed)
  feats = (torch.rand(w['B'], w['C'], w['H'], w['W'], generator=gen) * 2 - 1).to(dev)
  feats.requires_grad_(True)
  boxes = make_boxes(w, seed)
  # torchvision wants (batch, x1, y1, x2, y2).
  rois = torch.tensor([(b, x1, y1, x2, y2) for b, y1, x1, y2, x2 in boxes],
                      dtype=torch.float32, device=dev)

  def forward():
    out = roi_align(feats, rois, output_size=w['S'], spatial_scale=w['scale'],
                    sampling_ratio=1, aligned=True)
    if w['P']:
      out = F.max_pool2d(out, kernel_size=w['S'] // w['P'])
    return out

  grad = torch.rand_like(forward()) * 2 - 1
  events = [torch.cuda.Event(enable_timing=True) for _ in range(3)]
  times = {'forward': [], 'backward': [], 'fwd_bwd': []}
  for it in range(warmup + iters):
    feats.grad = None
    events[0].record()
    out = forward()
    events[1].record()
    out.backward(grad)
    events[2].record()
    torch.cuda.synchronize()
    if it >= warmup:
      times['forward'].append(events[0].elapsed_time(events[1]))
      times['backward'].append(events[1].elapsed_time(events[2]))
      times['fwd_bwd'].append(events[0].elapsed_time(events[2]))
  summary = {}
  for key, values in times.items():
    values.sort()
    summary[key] = {'median': values[len(values) // 2], 'min': values[0],
                    'iters': len(values)}
  return {'name': name, 'dims': w, 'timings_ms': summary}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workloads', default='vgg16,coco')
  parser.add_argument('--iters', type=int, default=50)
  parser.add_argument('--warmup', type=int, default=5)
  parser.add_argument('--seed', type=int, default=1)
  parser.add_argument('--json', help='also write the results here (- = stdout)')
  parser.add_argument('--print-boxes', nargs=2, metavar=('WORKLOAD', 'N'),
                      help='print the first N boxes of WORKLOAD and exit')
  args = parser.parse_args(argv)
  names = [n for n in args.workloads.split(',') if n]
  for n in names + ([args.print_boxes[0]] if args.print_boxes else []):
    if n not in WORKLOADS:
      parser.error(f'unknown workload {n!r} (known: {", ".join(WORKLOADS)})')
  if args.iters < 1 or args.warmup < 0:
    parser.error('--iters must be >= 1 and --warmup >= 0')
  if args.print_boxes:
    for box in make_boxes(WORKLOADS[args.print_boxes[0]], args.seed)[:int(args.print_boxes[1])]:
      print(' '.join(f'{v:.9g}' for v in box[1:]))
    return 0

  try:
    import torch  # pylint: disable=g-import-not-at-top
    from torchvision.ops import roi_align  # pylint: disable=g-import-not-at-top
    import torchvision  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    sys.exit(f'bench_torchvision: needs PyTorch and torchvision ({e}).')
  if not torch.cuda.is_available():
    sys.exit('bench_torchvision: no CUDA device visible to PyTorch.')

  result = {'device': torch.cuda.get_device_name(), 'torch': torch.__version__,
            'torchvision': torchvision.__version__, 'cuda': torch.version.cuda,
            'sampling_check_max_abs_err': check_sampling(torch, roi_align),
            'workloads': []}
  print(f"device: {result['device']}, torch {result['torch']}, torchvision "
        f"{result['torchvision']}, CUDA {result['cuda']}")
  print('sampling check (roi_align vs docs/design.md §4 on interior boxes): max abs err '
        f"{result['sampling_check_max_abs_err']:.2e}")
  for name in names:
    r = time_workload(torch, roi_align, name, WORKLOADS[name], args.seed,
                      args.warmup, args.iters)
    result['workloads'].append(r)
    t = r['timings_ms']
    print(f"{name:8s} forward {t['forward']['median']:.4f} ms  backward "
          f"{t['backward']['median']:.4f} ms  fwd+bwd {t['fwd_bwd']['median']:.4f} ms "
          '(medians)')
  if args.json:
    text = json.dumps(result, indent=2)
    if args.json == '-':
      print(text)
    else:
      tmp = args.json + '.partial'
      with open(tmp, 'w') as f:
        f.write(text + '\n')
      os.replace(tmp, args.json)
  return 0


if __name__ == '__main__':
  sys.exit(main())
