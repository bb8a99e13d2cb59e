# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""`make demo`: the whole job end to end on the synthetic shapes.

    python -m mnc_tf.demo [--output_dir=demo_out] [--num_train=...] \
        [--train_steps=...] [--keep_model]

1. writes the synthetic data set (images + COCO JSON) and converts it to
   TFRecords (`python -m mnc_tf.data.synthetic_shapes`,
   `python -m mnc_tf.data.create_coco_tfrecord`);
2. trains the `mnc_shapes_demo` experiment with `train.py`
   (`--flagfile=configs/mnc_shapes_demo.flags`, mode train_and_eval), which
   evaluates on the validation split (COCO mask / box AP, SDS mAP^r) and draws
   predictions;
3. prints the evaluation, checks mask AP50 against the target (0.8), and
   where the pictures, the TensorBoard logs and the metrics are.
4. exports the trained model as a SavedModel
   (`export/export_saved_model.py`) and runs `python -m mnc_tf.predict` with
   it on the validation images (pictures + COCO results JSON).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from mnc_tf.data import create_coco_tfrecord
from mnc_tf.data import synthetic_shapes

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_MASK_AP50 = 0.8


def _stage(message):
  print(f'\n=== demo: {message}', flush=True)


def make_data(output_dir, num_train, num_val, seed, regenerate=False):
  """Synthetic images + COCO JSON, then TFRecords; reuses existing ones.

  Returns:
    dict with `val_json`, `train_pattern`, `val_pattern`.
  """
  shapes_dir = os.path.join(output_dir, 'shapes')
  data_dir = os.path.join(output_dir, 'data')
  stamp = os.path.join(data_dir, 'DONE.json')
  wanted = {'num_train': num_train, 'num_val': num_val, 'seed': seed}
  if not regenerate and os.path.exists(stamp):
    with open(stamp) as f:
      if json.load(f) == wanted:
        print(f'reusing the data set in {output_dir} ({wanted})')
        return _data_paths(output_dir)
  for directory in (shapes_dir, data_dir):
    shutil.rmtree(directory, ignore_errors=True)
  start = time.time()
  paths = synthetic_shapes.generate(shapes_dir, num_train=num_train,
                                    num_val=num_val, seed=seed)
  print(f'synthetic shapes: {num_train} train / {num_val} val images in '
        f'{time.time() - start:.1f} s -> {shapes_dir}')
  os.makedirs(data_dir, exist_ok=True)
  for split, shards in (('train', 4), ('val', 1)):
    create_coco_tfrecord.convert(
        os.path.join(shapes_dir, split), paths[split],
        os.path.join(data_dir, split), num_shards=shards, log_every=10 ** 9)
  with open(stamp + '.tmp', 'w') as f:
    json.dump(wanted, f)
  os.replace(stamp + '.tmp', stamp)
  print(f'TFRecords in {data_dir} ({time.time() - start:.1f} s in all)')
  return _data_paths(output_dir)


def _data_paths(output_dir):
  return {
      'val_json': os.path.join(output_dir, 'shapes', 'val.json'),
      'train_pattern': os.path.join(output_dir, 'data', 'train-*.tfrecord'),
      'val_pattern': os.path.join(output_dir, 'data', 'val-*.tfrecord'),
  }


def train_and_evaluate(paths, model_dir, train_steps=None, extra_override=''):
  """Runs `train.py --flagfile=configs/mnc_shapes_demo.flags`."""
  override = [f"task.annotation_file='{paths['val_json']}'",
              f"task.train_data.input_path='{paths['train_pattern']}'",
              f"task.validation_data.input_path='{paths['val_pattern']}'"]
  if train_steps:
    override.append(f'trainer.train_steps={int(train_steps)}')
  if extra_override:
    override.append(extra_override)
  command = [sys.executable, os.path.join(REPO_ROOT, 'train.py'),
             '--flagfile=' + os.path.join(REPO_ROOT, 'configs',
                                          'mnc_shapes_demo.flags'),
             f'--model_dir={model_dir}', '--mode=train_and_eval',
             '--params_override=' + ','.join(override)]
  print(' '.join(command), flush=True)
  env = dict(os.environ)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  subprocess.run(command, check=True, cwd=REPO_ROOT, env=env)


def export_and_predict(paths, model_dir, output_dir):
  """Exports the trained model and predicts the validation images with it.

  Returns:
    (SavedModel directory, predictions directory).
  """
  saved_model = os.path.join(output_dir, 'saved_model')
  predictions = os.path.join(output_dir, 'predictions')
  env = dict(os.environ)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  val_images = os.path.join(os.path.dirname(paths['val_json']), 'val', '*')
  for command in (
      [sys.executable, os.path.join(REPO_ROOT, 'export',
                                    'export_saved_model.py'),
       '--experiment=mnc_shapes_demo', f'--checkpoint_path={model_dir}',
       f'--export_dir={saved_model}', '--overwrite'],
      [sys.executable, '-m', 'mnc_tf.predict', f'--saved_model={saved_model}',
       f'--images={val_images}', f'--output_dir={predictions}',
       f"--annotation_file={paths['val_json']}"]):
    print(' '.join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO_ROOT, env=env)
  return saved_model, predictions


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m mnc_tf.demo',
                                   description=__doc__.split('\n\n')[0])
  parser.add_argument('--output_dir', default=os.path.join(REPO_ROOT,
                                                           'demo_out'))
  parser.add_argument('--num_train', type=int, default=1000)
  parser.add_argument('--num_val', type=int, default=50)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--train_steps', type=int, default=0,
                      help='0: the experiment default')
  parser.add_argument('--params_override', default='',
                      help='extra train.py overrides (comma-separated)')
  parser.add_argument('--keep_model', action='store_true',
                      help='resume the previous demo model instead of '
                           'training a fresh one')
  parser.add_argument('--regenerate_data', action='store_true')
  args = parser.parse_args(sys.argv[1:] if argv is None else argv)
  start = time.time()
  output_dir = os.path.abspath(args.output_dir)
  model_dir = os.path.join(output_dir, 'model')

  _stage('1/3 synthetic data -> TFRecords')
  paths = make_data(output_dir, args.num_train, args.num_val, args.seed,
                    regenerate=args.regenerate_data)
  data_seconds = time.time() - start

  _stage('2/3 train mnc_shapes_demo (train.py), evaluating on the val split')
  if not args.keep_model:
    shutil.rmtree(model_dir, ignore_errors=True)
  train_start = time.time()
  train_and_evaluate(paths, model_dir, args.train_steps, args.params_override)
  train_seconds = time.time() - train_start

  _stage('3/3 results')
  with open(os.path.join(model_dir, 'eval_metrics.json')) as f:
    latest = json.load(f)['latest']
  metrics = latest['metrics']
  for name in ('mask_AP', 'mask_AP50', 'mask_AP75', 'box_AP', 'box_AP50',
               'mAPr50', 'mAPr70'):
    print(f'  {name:10s} {metrics.get(name)}')
  ap50 = metrics.get('mask_AP50') or 0.0
  verdict = 'reached' if ap50 >= TARGET_MASK_AP50 else 'NOT reached'
  print(f'mask AP50 {ap50:.3f}: target {TARGET_MASK_AP50} {verdict} '
        f'(step {latest["step"]})')
  pictures = os.path.join(model_dir, 'validation_predictions',
                          f'step_{int(latest["step"]):07d}')
  print(f'time: data {data_seconds:.0f} s, training + evaluation '
        f'{train_seconds:.0f} s, total {time.time() - start:.0f} s')
  print(f'pictures of predictions: {pictures}')
  print(f'TensorBoard logs:        tensorboard --logdir {model_dir}')
  print(f'metrics (every eval):    {os.path.join(model_dir, "eval_metrics.json")}')
  print(f'resolved params:         {os.path.join(model_dir, "params.yaml")}')
  _stage('export the SavedModel and predict the val images with it')
  saved_model, predictions = export_and_predict(paths, model_dir, output_dir)
  print(f'SavedModel:              {saved_model}')
  print(f'predictions (SavedModel): {predictions}')
  return 0 if ap50 >= TARGET_MASK_AP50 else 1


if __name__ == '__main__':
  sys.exit(main())
