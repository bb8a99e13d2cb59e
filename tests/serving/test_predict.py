# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""`python -m mnc_tf.predict`: pictures and a COCO results JSON."""
import io
import json
import os
import subprocess
import sys

from absl import flags
import numpy as np
from PIL import Image
from pycocotools import mask as mask_util
from pycocotools.coco import COCO
import pytest
import tensorflow as tf

from mnc_tf import predict as predict_lib
from mnc_tf.data import image_io
from mnc_tf.serving import predictor
from mnc_tf.visualization import draw_instances as draw_lib
from tests.serving import conftest


def _write_images(directory):
  paths = []
  for k, (h, w) in enumerate(((72, 110), (90, 64))):
    path = os.path.join(directory, f'img_{k}.png')
    Image.fromarray(conftest.test_image(h, w, seed=k)).save(path)
    paths.append(path)
  return paths


def _gt_json(paths, path):
  """A COCO ground truth naming the images (one box each) and 3 classes."""
  images, annotations = [], []
  for k, p in enumerate(paths):
    h, w = np.asarray(Image.open(p)).shape[:2]
    images.append({'id': 10 + k, 'file_name': os.path.basename(p),
                   'height': h, 'width': w})
    annotations.append({'id': k + 1, 'image_id': 10 + k, 'category_id': 1,
                        'bbox': [2, 2, 20, 20], 'area': 400, 'iscrowd': 0,
                        'segmentation': [[2, 2, 22, 2, 22, 22, 2, 22]]})
  categories = [{'id': i, 'name': n} for i, n in
                ((1, 'circle'), (2, 'square'), (4, 'triangle'))]
  with open(path, 'w') as f:
    json.dump({'images': images, 'annotations': annotations,
               'categories': categories}, f)


def test_predict_files_pictures_and_coco_json(exported, loaded, tmp_path):
  paths = _write_images(str(tmp_path))
  _gt_json(paths, str(tmp_path / 'gt.json'))
  names, ids = predictor.load_categories(str(tmp_path / 'gt.json'))
  assert names == {1: 'circle', 2: 'square', 4: 'triangle'}
  predict = predictor.saved_model_predictor(exported['export_dir'])
  out_dir = str(tmp_path / 'out')
  run = predict_lib.predict_files(predict, paths, out_dir, names, ids,
                                  min_score=0.0)
  pngs, json_path, count = run.pngs, run.json_path, run.num_detections
  assert run.failures == []
  assert [os.path.basename(p) for p in pngs] == ['img_0.png', 'img_1.png']
  assert not [n for n in os.listdir(out_dir) if '.tmp-' in n]
  results = json.load(open(json_path))
  assert len(results) == count > 0
  for path, png, image_id in zip(paths, pngs, (10, 11)):
    image = image_io.read_rgb(path)
    outputs = {k: v.numpy()[0] for k, v in
               loaded.signatures['serving_default'](
                   tf.constant(image[None])).items()}
    n = int(outputs['num_detections'])
    mine = [r for r in results if r['image_id'] == image_id]
    assert len(mine) == n
    for k, r in enumerate(mine):
      np.testing.assert_array_equal(
          mask_util.decode(r['segmentation']), outputs['detection_masks'][k])
      ymin, xmin, ymax, xmax = outputs['detection_boxes'][k]
      np.testing.assert_allclose(r['bbox'], [xmin, ymin, xmax - xmin,
                                             ymax - ymin], atol=1e-4)
      assert r['category_id'] == outputs['detection_classes'][k]
      assert abs(r['score'] - outputs['detection_scores'][k]) < 1e-6
    # The picture is draw_instances' drawing of those detections.
    want = draw_lib.draw_instances(
        image, outputs['detection_boxes'][:n],
        outputs['detection_classes'][:n], outputs['detection_scores'][:n],
        outputs['detection_masks'][:n], class_names=names, min_score=0.0)
    np.testing.assert_array_equal(np.asarray(Image.open(png)), want)
    if n:
      assert (want != image).any()
  gt = COCO(str(tmp_path / 'gt.json'))
  detections = gt.loadRes(json_path)
  assert len(detections.getAnnIds()) == count
  areas = [a['area'] for a in detections.loadAnns(detections.getAnnIds())]
  assert np.all(np.asarray(areas) >= 0)


def test_checkpoint_predictor_matches_saved_model(exported, loaded):
  predict = predictor.checkpoint_predictor(exported['params'],
                                           exported['checkpoint'])
  image = conftest.test_image(seed=9)
  got = predict(image[None])
  want = loaded.signatures['serving_default'](tf.constant(image[None]))
  n = int(want['num_detections'][0])
  assert int(got['num_detections'][0]) == n
  np.testing.assert_array_equal(got['detection_classes'].numpy()[0][:n],
                                want['detection_classes'].numpy()[0][:n])
  np.testing.assert_allclose(got['detection_scores'].numpy()[0][:n],
                             want['detection_scores'].numpy()[0][:n],
                             atol=1e-4)
  np.testing.assert_allclose(got['detection_boxes'].numpy()[0][:n],
                             want['detection_boxes'].numpy()[0][:n],
                             atol=1e-2)


def _stub_predict(images):
  """Outputs like serving_default's: one box and mask from the image itself."""
  image = images[0]
  height, width = image.shape[:2]
  return {'num_detections': np.array([1], np.int32),
          'detection_boxes': np.array([[[1, 2, height - 1, width - 3]]],
                                      np.float32),
          'detection_classes': np.array([[4]], np.int32),
          'detection_scores': np.array([[0.75]], np.float32),
          'detection_masks': (image[None, None, :, :, 0] > 127).astype(
              np.uint8)}


def _write_bad_images(directory):
  """A text file named .jpg and a truncated PNG."""
  not_image = os.path.join(directory, 'not_image.jpg')
  with open(not_image, 'w') as f:
    f.write('I am not a picture')
  buffer = io.BytesIO()
  Image.fromarray(conftest.test_image(40, 50, seed=3)).save(buffer, 'PNG')
  truncated = os.path.join(directory, 'truncated.png')
  with open(truncated, 'wb') as f:
    f.write(buffer.getvalue()[:len(buffer.getvalue()) // 2])
  return [not_image, truncated]


def test_bad_images_are_reported_and_the_rest_go_on(tmp_path):
  good = _write_images(str(tmp_path))
  bad = _write_bad_images(str(tmp_path))
  paths = sorted(good + bad)
  lines = []
  out_dir = str(tmp_path / 'out')
  run = predict_lib.predict_files(_stub_predict, paths, out_dir,
                                  report=lines.append)
  assert [p for p, _ in run.failures] == sorted(bad)
  assert len(lines) == 2
  for line, path in zip(lines, sorted(bad)):
    assert '\n' not in line and path in line and 'corrupt_image' in line
  assert sorted(os.listdir(out_dir)) == ['coco_results.json', 'img_0.png',
                                         'img_1.png']
  results = json.load(open(run.json_path))
  # Image ids are positions in `paths`: the good images are 1 and 2.
  assert sorted(r['image_id'] for r in results) == [
      paths.index(g) + 1 for g in good]
  for path in good:
    image = image_io.read_rgb(path)
    (result,) = [r for r in results
                 if r['image_id'] == paths.index(path) + 1]
    np.testing.assert_array_equal(mask_util.decode(result['segmentation']),
                                  (image[..., 0] > 127).astype(np.uint8))
    assert result['category_id'] == 4 and result['score'] == 0.75


def test_predict_sees_what_the_converter_stores(tmp_path):
  """16-bit and EXIF-rotated files: predict's input is the training image."""
  deep = (np.arange(30 * 40, dtype=np.uint32).reshape(30, 40) * 50).astype(
      np.uint16)  # mostly > 255: clipping would make it white
  Image.fromarray(deep).save(tmp_path / 'deep.png')
  exif = Image.Exif()
  exif[0x0112] = 8  # shown rotated 90 degrees counter-clockwise
  Image.fromarray(conftest.test_image(30, 40, seed=5)).save(
      tmp_path / 'rotated.png', exif=exif)
  seen = []

  def recording_predict(images):
    seen.append(images[0])
    return _stub_predict(images)
  paths = [str(tmp_path / 'deep.png'), str(tmp_path / 'rotated.png')]
  run = predict_lib.predict_files(recording_predict, paths,
                                  str(tmp_path / 'out'))
  assert run.failures == []
  for path, image in zip(paths, seen):
    stored = image_io.load_image(path)[0]  # what the converter writes
    np.testing.assert_array_equal(
        image, tf.io.decode_image(stored, channels=3).numpy())
  np.testing.assert_array_equal(
      seen[0][..., 0], np.round(deep / 257.0).astype(np.uint8))
  assert seen[1].shape == (40, 30, 3)


def test_files_sharing_a_stem_get_a_picture_each(tmp_path):
  paths = []
  for k, name in enumerate(('a.jpg', 'a.png', 'b.png')):
    paths.append(str(tmp_path / name))
    Image.fromarray(conftest.test_image(20, 30, seed=k)).save(paths[-1])
  run = predict_lib.predict_files(_stub_predict, paths, str(tmp_path / 'o'))
  assert sorted(os.listdir(tmp_path / 'o')) == [
      'a.jpg.png', 'a.png.png', 'b.png', 'coco_results.json']
  assert run.pngs == [str(tmp_path / 'o' / n)
                      for n in ('a.jpg.png', 'a.png.png', 'b.png')]


def _main(*args):
  flag_values = flags.FlagValues()
  predict_lib.define_flags(flag_values)
  flag_values(['predict', *args])
  return predict_lib.main(['predict'], flag_values)


def test_unusable_model_flags_are_one_line(tmp_path, capsys):
  _write_images(str(tmp_path))
  common = [f'--images={tmp_path}/img_*.png', f'--output_dir={tmp_path}/o']
  checkpoint = tf.train.Checkpoint(v=tf.Variable(1.0)).write(
      str(tmp_path / 'ckpts' / 'ckpt-3'))
  cases = [
      ([f'--saved_model={tmp_path}'], 'holds no SavedModel'),
      (['--experiment=mnc_shapes_demo', f'--checkpoint_path={tmp_path}'],
       f'no checkpoint in directory {tmp_path}'),
      (['--experiment=mnc_nope', f'--checkpoint_path={tmp_path}/ckpt-1'],
       'ckpt-1 does not exist'),
      (['--experiment=mnc_nope', f'--checkpoint_path={checkpoint}'],
       'unknown --experiment=mnc_nope'),
      ([f'--saved_model={tmp_path}', '--experiment=mnc_shapes_demo'],
       'either --saved_model or --experiment'),
      ([f'--saved_model={tmp_path}', f'--images={tmp_path}/nothing_*.png'],
       'no files match'),  # the last --images wins
  ]
  for args, message in cases:
    assert _main(*common, *args) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
  assert not (tmp_path / 'o').exists()


def _run_predict_cli(saved_model, images, out_dir):
  return subprocess.run(
      [sys.executable, '-m', 'mnc_tf.predict', f'--saved_model={saved_model}',
       f'--images={images}', f'--output_dir={out_dir}'],
      capture_output=True, text=True,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))


@pytest.mark.slow
def test_predict_cli(exported, tmp_path):
  _write_images(str(tmp_path))
  out_dir = tmp_path / 'cli_out'
  result = _run_predict_cli(exported['export_dir'], f'{tmp_path}/img_*.png',
                            out_dir)
  assert result.returncode == 0, result.stderr[-2000:]
  assert sorted(os.listdir(out_dir)) == ['coco_results.json', 'img_0.png',
                                         'img_1.png']
  ids = {r['image_id'] for r in json.load(open(out_dir / 'coco_results.json'))}
  assert ids <= {1, 2}
  # One good and one bad image: the good one is written, the bad one is
  # named in one line, the exit status is 1.
  mixed = tmp_path / 'mixed'
  os.makedirs(mixed)
  os.replace(tmp_path / 'img_0.png', mixed / 'good.png')
  (bad_path, _) = _write_bad_images(str(mixed))
  os.remove(mixed / 'truncated.png')
  mixed_out = tmp_path / 'mixed_out'
  result = _run_predict_cli(exported['export_dir'], f'{mixed}/*', mixed_out)
  assert result.returncode == 1, result.stderr[-2000:]
  assert sorted(os.listdir(mixed_out)) == ['coco_results.json', 'good.png']
  assert 'Traceback' not in result.stderr
  skipped = [l for l in result.stderr.splitlines() if 'skipped' in l]
  assert len(skipped) == 1 and bad_path in skipped[0]
  assert '1 of 2 images could not be predicted' in result.stderr


def test_predict_module_registers_the_experiments():
  """`--experiment` needs the registry: a fresh process importing only predict."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  code = ('import mnc_tf.predict\n'
          'from official.core import exp_factory\n'
          'exp_factory.get_exp_config("mnc_shapes_demo")\n')
  result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, check=False, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
