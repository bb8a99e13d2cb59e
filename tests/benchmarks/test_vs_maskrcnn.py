# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""MNC vs Mask R-CNN benchmark: both configs match where they must."""

import json
import os

import pytest

from mnc_tf.benchmarks import vs_maskrcnn


def _configs(tmp_path):
  common = ('tr-*.tfrecord', 'va-*.tfrecord', 'val.json', [1, 4, 9], 40, 5,
            2, 0.01)
  return (vs_maskrcnn.mnc_params(*common),
          vs_maskrcnn.maskrcnn_params(*common, image_size=448,
                                      max_num_instances=32))


def test_same_data_depth_steps_and_optimizer(tmp_path):
  mnc, peer = _configs(tmp_path)
  assert mnc.task.model.backbone.type == peer.task.model.backbone.type
  assert mnc.task.model.backbone.resnet.model_id == 18
  assert peer.task.model.backbone.resnet.model_id == 18
  assert not mnc.task.model.backbone.resnet.freeze_batch_norm
  assert peer.task.init_checkpoint == '' and mnc.task.model.init_checkpoint == ''
  # Data-set ids: MNC maps them, Mask R-CNN indexes its outputs by them.
  assert list(mnc.task.model.class_ids) == [1, 4, 9]
  assert peer.task.model.num_classes == 10
  for a, b in ((mnc.task.train_data, peer.task.train_data),
               (mnc.task.validation_data, peer.task.validation_data)):
    assert a.input_path == b.input_path and (
        a.global_batch_size == b.global_batch_size == 2)
  assert mnc.task.annotation_file == peer.task.annotation_file == 'val.json'
  assert mnc.trainer.train_steps == peer.trainer.train_steps == 40
  assert mnc.trainer.validation_steps == peer.trainer.validation_steps == 5
  assert (mnc.trainer.optimizer_config.as_dict()
          == peer.trainer.optimizer_config.as_dict())
  lr = mnc.trainer.optimizer_config.learning_rate.stepwise
  assert list(lr.boundaries) == [32] and list(lr.values) == [0.01, 0.001]
  # The custom-data recipe is what MNC runs; Mask R-CNN's longer side
  # matches its padded input.
  assert mnc.task.train_data.parser.max_size == peer.task.model.input_size[0]
  # One test scale for both: the recipe's larger test scale is not used
  # against Mask R-CNN's single input size.
  val = mnc.task.validation_data.parser
  assert (val.scale, val.max_size) == (mnc.task.train_data.parser.scale,
                                       mnc.task.train_data.parser.max_size)
  assert list(val.padded_size) == list(peer.task.model.input_size[:2])
  # No test-time augmentation for either (the recipe flips and rescales;
  # Mask R-CNN does neither).
  assert not mnc.task.model.cascade.test_horizontal_flip
  assert not mnc.task.model.cascade.test_extra_scales
  assert peer.runtime.mixed_precision_dtype == 'float32'


def test_roi_budget_gives_mask_rcnn_the_mnc_recipes_roi_counts(tmp_path):
  mnc, model_garden = _configs(tmp_path)
  # Model Garden's own counts, unless a budget is given.
  assert model_garden.task.model.roi_sampler.num_sampled_rois == 512
  assert model_garden.task.model.mask_sampler.num_sampled_masks == 128
  common = ('tr-*.tfrecord', 'va-*.tfrecord', 'val.json', [1, 4, 9], 40, 5,
            2, 0.01)
  peer = vs_maskrcnn.maskrcnn_params(
      *common, image_size=448, max_num_instances=32,
      budget=vs_maskrcnn.roi_budget(mnc))
  model = mnc.task.model
  sampler, generator = peer.task.model.roi_sampler, peer.task.model.roi_generator
  assert sampler.num_sampled_rois == model.roi_sampler.num_samples == 64
  assert sampler.foreground_fraction == model.roi_sampler.fg_fraction
  # Masks are trained on at most the foreground RoIs.
  assert peer.task.model.mask_sampler.num_sampled_masks == round(
      64 * model.roi_sampler.fg_fraction)
  proposals = model.proposal_generator
  assert (generator.pre_nms_top_k, generator.num_proposals,
          generator.test_pre_nms_top_k, generator.test_num_proposals) == (
              proposals.pre_nms_top_k, proposals.num_proposals,
              proposals.test_pre_nms_top_k, proposals.test_num_proposals)
  assert (peer.task.model.detection_generator.max_num_detections ==
          model.detection_generator.max_num_detections == 50)


def test_table_and_bad_input(capsys):
  row = {'steps': 10, 'train_seconds': 12.0, 'inference_seconds': 0.25,
         'mask_AP': 0.1, 'mask_AP50': 0.3, 'mask_APs': 0.05,
         'box_AP': 0.12, 'eval_seconds': 1.0}
  table = vs_maskrcnn.format_table({'MNC': row})
  assert '| MNC | 10 | 12 | 0.250 | 0.100 | 0.300 | 0.050 | n/a | 0.120 |' in (
      table)
  assert vs_maskrcnn.main(['vs', '--train_input=a']) == 1
  assert '--val_input' in capsys.readouterr().err
  assert vs_maskrcnn.main(['vs', '--train_input=a', '--val_input=b',
                           '--annotation_file=/nonexistent.json',
                           '--class_ids=1']) == 1
  assert 'nonexistent.json' in capsys.readouterr().err
  json.dumps(row)


def test_equal_wall_steps():
  # 10 s for the first step (tracing), then 200 steps at 0.5 s.
  assert vs_maskrcnn.equal_wall_steps(201, 110.0, 460.0, 10.0) == 901
  assert vs_maskrcnn.equal_wall_steps(201, 110.0, 5.0, 10.0) == 1
  assert vs_maskrcnn.equal_wall_steps(3, 3.0, 3.0, 1.0) == 3
  with pytest.raises(ValueError):
    vs_maskrcnn.equal_wall_steps(1, 3.0, 3.0, 1.0)
  with pytest.raises(ValueError):
    vs_maskrcnn.equal_wall_steps(10, 3.0, 3.0, 3.0)


def test_match_wall_time_and_resume(tmp_path, monkeypatch, capsys):
  annotations = tmp_path / 'val.json'
  annotations.write_text(json.dumps({'images': [{'id': i} for i in range(5)]}))
  calls = []

  def fake_train_and_evaluate(params, model_dir, runner_class):
    del runner_class
    steps = params.trainer.train_steps
    calls.append((os.path.basename(model_dir), steps,
                  list(params.trainer.optimizer_config.learning_rate
                       .stepwise.boundaries)))
    pace = 0.5 if 'mnc' in model_dir else 2.0  # seconds per step
    # As Orbit does: every output dict printed (stdout must stay JSON).
    print('train | step: %d | output: {...}' % steps)
    return {'train_seconds': pace * steps, 'first_step_seconds': pace,
            'eval_seconds': 5.0, 'mask_AP50': 0.5}
  monkeypatch.setattr(vs_maskrcnn, 'train_and_evaluate',
                      fake_train_and_evaluate)
  argv = ['vs', '--train_input=t', '--val_input=v', '--class_ids=1,2',
          '--annotation_file=%s' % annotations, '--train_steps=40',
          '--work_dir=%s' % tmp_path, '--json']
  assert vs_maskrcnn.main(argv + ['--models=mnc',
                                  '--match_wall_time=mnc']) == 1
  assert 'both models' in capsys.readouterr().err
  assert not calls
  # MNC again in Mask R-CNN's time: 40 Mask R-CNN steps take 80 s; MNC does
  # 40 in 20 s, so 160 in 80 s, its learning-rate step at 80 % of them.
  assert vs_maskrcnn.main(argv + ['--match_wall_time=mnc']) == 0
  rows = json.loads(capsys.readouterr().out)
  assert calls == [('mnc', 40, [32]), ('maskrcnn', 40, [32]),
                   ('mnc_equal_wall', 160, [128])]
  label = "MNC ResNet-18 C4, Mask R-CNN ResNet-18 FPN's train time"
  assert rows[label]['steps'] == 160
  assert rows['Mask R-CNN ResNet-18 FPN']['inference_seconds'] == 1.0
  # Resumed: the equal-step runs are read back; Mask R-CNN in MNC's 20 s
  # does 10 steps (lr step at 8).
  calls.clear()
  assert vs_maskrcnn.main(argv + ['--match_wall_time=maskrcnn',
                                  '--resume']) == 0
  rows = json.loads(capsys.readouterr().out)
  assert calls == [('maskrcnn_equal_wall', 10, [8])]
  assert rows['MNC ResNet-18 C4']['train_seconds'] == 20.0
  # Other steps are not the same run: trained again.
  calls.clear()
  argv[argv.index('--train_steps=40')] = '--train_steps=20'
  assert vs_maskrcnn.main(argv + ['--models=mnc', '--resume']) == 0
  assert calls == [('mnc', 20, [16])]
  # A Mask R-CNN run with another RoI budget is not the same run either.
  calls.clear()
  assert vs_maskrcnn.main(argv + ['--models=maskrcnn', '--resume']) == 0
  assert vs_maskrcnn.main(argv + ['--models=maskrcnn', '--resume']) == 0
  assert vs_maskrcnn.main(argv + ['--models=maskrcnn', '--resume',
                                  '--maskrcnn_roi_budget=model_garden']) == 0
  assert calls == [('maskrcnn', 20, [16]), ('maskrcnn', 20, [16])]


def test_mnc_experiment_option_runs_the_pyramid_recipe(tmp_path, monkeypatch,
                                                       capsys):
  common = ('tr-*.tfrecord', 'va-*.tfrecord', 'val.json', [1, 4, 9], 40, 5,
            2, 0.01)
  c4 = vs_maskrcnn.mnc_params(*common)
  fpn = vs_maskrcnn.mnc_params(*common,
                               experiment='mnc_resnet18_fpn_custom_data')
  assert vs_maskrcnn.mnc_label(c4) == 'MNC ResNet-18 C4'
  assert vs_maskrcnn.mnc_label(fpn) == 'MNC ResNet-18 FPN'
  model = fpn.task.model
  assert model.decoder.type == 'fpn' and model.backbone.resnet.model_id == 18
  assert not model.backbone.resnet.freeze_batch_norm
  # The same data, optimizer and test-time settings as the C4 run.
  assert fpn.task.annotation_file == c4.task.annotation_file
  for key in ('train_data', 'validation_data'):
    a, b = getattr(fpn.task, key), getattr(c4.task, key)
    assert (a.input_path, a.global_batch_size) == (b.input_path,
                                                   b.global_batch_size)
    assert (a.parser.scale, a.parser.max_size) == (b.parser.scale,
                                                   b.parser.max_size)
  assert fpn.trainer.as_dict() == c4.trainer.as_dict()
  assert list(fpn.task.validation_data.parser.padded_size) == [448, 448]
  assert not model.cascade.test_horizontal_flip
  assert not model.cascade.test_extra_scales

  annotations = tmp_path / 'val.json'
  annotations.write_text(json.dumps({'images': [{'id': 0}]}))
  experiments = []

  def fake_train_and_evaluate(params, model_dir, runner_class):
    del model_dir, runner_class
    experiments.append(params.task.model.decoder.type)
    return {'train_seconds': 1.0, 'first_step_seconds': 0.5,
            'eval_seconds': 1.0}
  monkeypatch.setattr(vs_maskrcnn, 'train_and_evaluate',
                      fake_train_and_evaluate)
  argv = ['vs', '--train_input=t', '--val_input=v', '--class_ids=1,2',
          '--annotation_file=%s' % annotations, '--train_steps=4',
          '--work_dir=%s' % tmp_path, '--json', '--models=mnc']
  assert vs_maskrcnn.main(
      argv + ['--mnc_experiment=mnc_resnet18_fpn_custom_data']) == 0
  assert 'MNC ResNet-18 FPN' in json.loads(capsys.readouterr().out)
  # A C4 run with --resume does not reuse the pyramid's result.
  assert vs_maskrcnn.main(argv + ['--resume']) == 0
  assert experiments == ['fpn', 'identity']
  assert vs_maskrcnn.main(argv + ['--mnc_experiment=mnc_vgg16_voc']) == 1
  assert '--mnc_experiment must be one of' in capsys.readouterr().err
