# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""SavedModel export: stock-TF equivalence, signatures, inputs, serving bodies.

Tolerances (untrained tiny model, custom RoI-warp op or its twin in process
vs the twin in the SavedModel): scores 1e-4 absolute, boxes 1e-2 px, classes
equal, >= 99.5 % of each mask's pixels equal.
"""
import base64
import io
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from mnc_tf.configs import data as data_config
from mnc_tf.data import parser as parser_lib
from mnc_tf.evaluation import original_image
from mnc_tf.modeling import factory
from mnc_tf.ops import mask_paste
from mnc_tf.serving import export_lib
from mnc_tf.serving import export_module as export_module_lib
from official.vision.ops import preprocess_ops
from tests.serving import conftest

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUTS = ('num_detections', 'detection_boxes', 'detection_classes',
           'detection_scores', 'detection_masks', 'image_info')


def in_process_detections(model, image, parser, padded=None):
  """The model in this process, preprocessing as the data parser does."""
  padded = padded or data_config.resolve_padded_size(parser)
  normalized = preprocess_ops.normalize_image(
      tf.constant(image), data_config.MEAN_NORM, data_config.STDDEV_NORM)
  scaled = parser_lib.compute_scaled_size(tf.shape(image)[:2], parser.scale,
                                          parser.max_size)
  net_image, info = preprocess_ops.resize_and_crop_image(
      normalized, scaled, padded_size=padded, keep_aspect_ratio=False)
  outputs = model(net_image[None], info[None], training=False)
  det = mask_paste.original_image_detections(outputs, info[None])
  result = {k: np.asarray(v) for k, v in det.items()}
  result['network_boxes'] = outputs['detection_boxes'][0].numpy()
  result['image_info'] = info.numpy()
  return result


def assert_same_detections(actual, expected):
  n = int(expected['num_detections'])
  assert int(np.asarray(actual['num_detections']).reshape(-1)[0]) == n
  np.testing.assert_array_equal(actual['detection_classes'][0][:n],
                                expected['detection_classes'][:n])
  np.testing.assert_allclose(actual['detection_scores'][0][:n],
                             expected['detection_scores'][:n], atol=1e-4)
  np.testing.assert_allclose(actual['detection_boxes'][0][:n],
                             expected['detection_boxes'][:n], atol=1e-2)
  masks, want = actual['detection_masks'][0][:n], expected['detection_masks'][:n]
  assert masks.shape == want.shape
  agreement = (masks == want).mean(axis=(1, 2))
  assert np.all(agreement >= 0.995), agreement


@pytest.mark.slow
def test_stock_tensorflow_process_matches_in_process_model(exported,
                                                           tmp_path):
  image = conftest.test_image()
  np.save(tmp_path / 'image.npy', image)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  subprocess.run([sys.executable, os.path.join(HERE, 'stock_tf_runner.py'),
                  exported['export_dir'], str(tmp_path / 'image.npy'),
                  str(tmp_path / 'out.npz')], check=True, env=env,
                 cwd=str(tmp_path))
  out = dict(np.load(tmp_path / 'out.npz'))
  assert not out['mnc_tf_imported']
  assert out['unregistered'].size == 0, out['unregistered']
  assert not any('RoiWarp' in op for op in out['ops'])
  params = exported['params']
  expected = in_process_detections(exported['model'], image,
                                   params.task.validation_data.parser)
  assert expected['num_detections'] > 0  # a comparison of something
  assert_same_detections(out, expected)
  # docs/design.md §6 dtypes and shapes.
  n_max = params.task.model.detection_generator.max_num_detections
  assert out['num_detections'].dtype == np.int32
  assert out['detection_boxes'].shape == (1, n_max, 4)
  assert out['detection_classes'].dtype == np.int32
  assert out['detection_masks'].dtype == np.uint8
  assert out['detection_masks'].shape == (1, n_max) + image.shape[:2]
  # Boxes in original pixels: NumPy inverse of the resize.
  n = int(expected['num_detections'])
  np.testing.assert_allclose(
      out['detection_boxes'][0][:n],
      original_image.boxes_to_original(expected['network_boxes'][:n],
                                       expected['image_info']), atol=1e-2)
  valid_classes = set(params.task.model.class_ids)
  assert set(out['detection_classes'][0][:n].tolist()) <= valid_classes
  # Rows past num_detections are zero.
  assert not out['detection_masks'][0][n:].any()
  assert not out['detection_scores'][0][n:].any()


@pytest.mark.slow
def test_saved_model_cli_lists_signatures(exported):
  cli = os.path.join(os.path.dirname(sys.executable), 'saved_model_cli')
  result = subprocess.run(
      [cli, 'show', '--dir', exported['export_dir'], '--all'], check=True,
      capture_output=True, text=True,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))
  for name in ('serving_default', 'image_tensor', 'image_bytes',
               'tf_example'):
    assert f"signature_def['{name}']" in result.stdout
  for name in OUTPUTS:
    assert f"outputs['{name}']" in result.stdout


def test_bytes_and_example_signatures_match_tensor(loaded):
  image = conftest.test_image(seed=3)
  png = io.BytesIO()
  Image.fromarray(image).save(png, format='PNG')
  png = png.getvalue()
  example = tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': tf.train.Feature(
          bytes_list=tf.train.BytesList(value=[png]))})).SerializeToString()
  want = loaded.signatures['image_tensor'](tf.constant(image[None]))
  for name, value in (('image_bytes', png), ('tf_example', example)):
    got = loaded.signatures[name](tf.constant([value]))
    for key in OUTPUTS:
      np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())


def test_wrong_dtype_and_rank_are_rejected(loaded):
  serve = loaded.signatures['serving_default']
  image = conftest.test_image()
  errors = (TypeError, ValueError, tf.errors.InvalidArgumentError)
  with pytest.raises(errors, match='expected to be a uint8 tensor but is a '
                     'float tensor'):
    serve(tf.constant(image[None].astype(np.float32)))
  with pytest.raises(errors, match=r'not compatible with expected shape'):
    serve(tf.constant(image))
  with pytest.raises(tf.errors.InvalidArgumentError, match='no pixels'):
    serve(tf.zeros([1, 0, 5, 3], tf.uint8))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'not compatible with expected shape \[1,\?,\?,3\]'):
    serve(tf.constant(np.stack([image, image])))


def test_in_process_module_rejects_bad_inputs(exported):
  module = export_module_lib.MncExportModule(exported['params'],
                                             model=exported['model'])
  with pytest.raises(TypeError, match='uint8'):
    module.preprocess(tf.zeros([1, 8, 8, 3], tf.float32))
  with pytest.raises(ValueError, match=r'\[B, H, W, 3\]'):
    module.preprocess(tf.zeros([8, 8, 3], tf.uint8))
  with pytest.raises(ValueError, match='input_type'):
    export_module_lib.MncExportModule(exported['params'], input_type='jpeg',
                                      model=exported['model'])


def test_large_image_is_resized(loaded, exported):
  parser = exported['params'].task.validation_data.parser
  image = np.asarray(Image.fromarray(conftest.test_image()).resize(
      (1650, 1080), Image.BILINEAR))
  out = loaded.signatures['serving_default'](tf.constant(image[None]))
  info = out['image_info'].numpy()[0]
  np.testing.assert_allclose(info[0], [1080, 1650])
  # 1080 x 1650 -> longer side capped at max_size (96): 63 x 96.
  np.testing.assert_allclose(info[1], [63, 96])
  assert max(info[1]) <= parser.max_size
  assert out['detection_masks'].shape[2:] == (1080, 1650)
  n = int(out['num_detections'][0])
  boxes = out['detection_boxes'].numpy()[0][:n]
  assert np.all(boxes >= 0) and np.all(boxes[:, 2] <= 1080)
  assert np.all(boxes[:, 3] <= 1650)


def test_image_with_nothing_in_it_returns_no_detections(exported):
  """A model whose classifier calls everything background (bias +30).

  With a score floor: the default (0, the original release's) keeps every
  candidate whose class score is above 0, however small.
  """
  params = exported['params']
  module = export_module_lib.MncExportModule(params)
  floor = dict(module.model.detection_generator.get_config(),
               score_threshold=0.01)
  module.model.detection_generator = type(
      module.model.detection_generator).from_config(floor)
  module.model.set_weights(exported['model'].get_weights())
  bias = module.model.classifier_head._cls_mask.bias  # pylint: disable=protected-access
  bias.assign(tf.tensor_scatter_nd_update(bias, [[0]], [30.0]))
  image = np.full((50, 70, 3), 128, np.uint8)
  out = module.inference_from_image_tensors(tf.constant(image[None]))
  assert out['num_detections'].numpy().tolist() == [0]
  assert out['detection_masks'].shape == (
      1, params.task.model.detection_generator.max_num_detections, 50, 70)
  assert not out['detection_masks'].numpy().any()
  assert not out['detection_boxes'].numpy().any()


def test_rest_request_body(loaded):
  """TF Serving's REST row format, through JSON and back."""
  image = conftest.test_image(seed=5)
  body = json.dumps({'signature_name': 'serving_default',
                     'instances': [image.tolist()]})
  request = json.loads(body)
  signature = loaded.signatures[request['signature_name']]
  got = signature(tf.constant(np.array(request['instances'], np.uint8)))
  want = loaded.signatures['image_tensor'](tf.constant(image[None]))
  for key in OUTPUTS:
    np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())
  # Binary inputs travel as {"b64": ...} in REST bodies.
  png = io.BytesIO()
  Image.fromarray(image).save(png, format='PNG')
  body = json.dumps({'signature_name': 'image_bytes', 'instances': [
      {'b64': base64.b64encode(png.getvalue()).decode('ascii')}]})
  request = json.loads(body)
  values = [base64.b64decode(i['b64']) for i in request['instances']]
  got = loaded.signatures[request['signature_name']](tf.constant(values))
  for key in OUTPUTS:
    np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())


def test_grpc_predict_request(loaded):
  """A `PredictRequest` as a gRPC client builds it, fed to the signature."""
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  image = conftest.test_image(seed=6)
  request = predict_pb2.PredictRequest()
  request.model_spec.name = 'mnc'
  request.model_spec.signature_name = 'serving_default'
  signature = loaded.signatures['serving_default']
  input_name = list(signature.structured_input_signature[1])[0]
  request.inputs[input_name].CopyFrom(tf.make_tensor_proto(image[None]))
  request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
  inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
  got = loaded.signatures[request.model_spec.signature_name](
      **{k: tf.constant(v) for k, v in inputs.items()})
  want = loaded.signatures['image_tensor'](tf.constant(image[None]))
  for key in OUTPUTS:
    np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())


def test_export_refuses_to_overwrite(exported):
  before = sorted(os.listdir(exported['export_dir']))
  with pytest.raises(export_lib.ExportExistsError, match='--overwrite'):
    export_lib.export_saved_model(exported['params'], exported['export_dir'])
  assert sorted(os.listdir(exported['export_dir'])) == before
  leftovers = [n for n in os.listdir(os.path.dirname(exported['export_dir']))
               if '.tmp-' in n]
  assert not leftovers


def export_variant(exported, export_dir, edit):
  """Exports the fixture's checkpoint under edited params.

  Args:
    exported: the `exported` fixture.
    export_dir: where the SavedModel goes.
    edit: called on the params' dict, changes it in place.

  Returns:
    (params, loaded SavedModel).
  """
  params = exported['params'].as_dict()
  edit(params)
  params = type(exported['params'])(params)
  export_dir = export_lib.export_saved_model(
      params, str(export_dir), checkpoint_path=exported['checkpoint'])
  return params, tf.saved_model.load(export_dir)


@pytest.mark.slow
def test_padding_follows_the_orientation_when_padded_size_is_unset(
    exported, tmp_path):
  """No `padded_size`: landscape runs at [64, 96], portrait at [96, 64]."""
  params, loaded = export_variant(
      exported, tmp_path / 'oriented',
      lambda p: p['task']['validation_data']['parser'].update(padded_size=[]))
  serve = loaded.signatures['serving_default']  # `loaded` kept alive
  parser = params.task.validation_data.parser
  assert export_module_lib.oriented_padded_sizes(parser) == [[64, 96],
                                                             [96, 64]]
  landscape = conftest.test_image(72, 110, seed=1)
  portrait = conftest.test_image(110, 72, seed=2)
  for image, padded in ((landscape, [64, 96]), (portrait, [96, 64]),
                        (conftest.test_image(80, 80, seed=3), [64, 96])):
    out = {k: v.numpy() for k, v in serve(tf.constant(image[None])).items()}
    expected = in_process_detections(exported['model'], image, parser,
                                     padded=padded)
    np.testing.assert_allclose(out['image_info'][0], expected['image_info'])
    assert_same_detections(out, expected)


@pytest.mark.slow
def test_test_time_flip_and_scales_are_exported(exported, tmp_path):
  """`cascade.test_horizontal_flip` and `test_extra_scales`: the SavedModel
  runs the mirror and resized passes too, with stock ops, and matches the
  in-process model that runs them."""
  params, loaded = export_variant(
      exported, tmp_path / 'flip',
      lambda p: p['task']['model']['cascade'].update(
          test_horizontal_flip=True, test_extra_scales=[0.75, 1.25]))
  serve = loaded.signatures['serving_default']
  model = factory.build_mnc_model(params.task.model, build=True)
  tf.train.Checkpoint(model=model).read(
      exported['checkpoint']).assert_existing_objects_matched()
  parser = params.task.validation_data.parser
  image = conftest.test_image(72, 110, seed=4)
  out = {k: v.numpy() for k, v in serve(tf.constant(image[None])).items()}
  expected = in_process_detections(model, image, parser)
  assert_same_detections(out, expected)
  # The extra passes change the result (so the comparison above is one).
  unflipped = in_process_detections(exported['model'], image, parser)
  n = min(int(expected['num_detections']), int(unflipped['num_detections']))
  assert n > 0
  assert not (np.allclose(expected['detection_scores'][:n],
                          unflipped['detection_scores'][:n], atol=1e-4)
              and np.allclose(expected['detection_boxes'][:n],
                              unflipped['detection_boxes'][:n], atol=1e-2))
