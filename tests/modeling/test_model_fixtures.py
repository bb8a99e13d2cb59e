# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The model reproduces its recorded checkpoint layout and numbers.

The fixtures (`model_fixtures.py` wrote them) hold every registered
experiment's checkpoint keys and variable shapes, and the seeded tiny
model's weights, losses, gradient norms and detections on one synthetic
image: code reorganizations must keep saved checkpoints loadable and the
training signal and outputs unchanged.
"""
import json

import numpy as np
import pytest

from tests.modeling import model_fixtures


def _load(path):
  with open(path) as f:
    return json.load(f)


@pytest.fixture(scope='module')
def recorded():
  return _load(model_fixtures.FIXED_WEIGHTS)


@pytest.fixture(scope='module')
def computed():
  return model_fixtures.fixed_weight_numbers()


def _assert_same_keys(name):
  want = _load(model_fixtures.CHECKPOINT_KEYS)[name]
  got = model_fixtures.experiment_checkpoint_keys(name)
  assert sorted(set(want) - set(got)) == [], f'{name}: keys no longer saved'
  assert sorted(set(got) - set(want)) == [], f'{name}: new keys'
  assert {k: got[k] for k in want} == want, f'{name}: shapes differ'


@pytest.mark.parametrize('name', model_fixtures.SMALL_EXPERIMENTS)
def test_checkpoint_keys_of_small_experiments(name):
  _assert_same_keys(name)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(set(model_fixtures.EXPERIMENTS) -
                                        set(model_fixtures.SMALL_EXPERIMENTS)))
def test_checkpoint_keys_of_paper_experiments(name):
  _assert_same_keys(name)


def _assert_same_numbers(got, want, rtol):
  """Same names, each number within `rtol` of the recorded one."""
  assert got.keys() == want.keys()
  for name, value in want.items():
    np.testing.assert_allclose(got[name], value, rtol=rtol, err_msg=name)


def test_seeded_weights_and_their_names(recorded, computed):
  _assert_same_numbers(computed['weight_sums'], recorded['weight_sums'],
                       rtol=1e-6)


def test_losses_on_fixed_weights(recorded, computed):
  _assert_same_numbers(computed['losses'], recorded['losses'], rtol=1e-5)


def test_gradient_norms_on_fixed_weights(recorded, computed):
  _assert_same_numbers(computed['gradient_norms'],
                       recorded['gradient_norms'], rtol=1e-5)


def test_box_gradient_clip_counts_on_fixed_weights(recorded, computed):
  np.testing.assert_allclose(computed['clip_counts'], recorded['clip_counts'])
  # Both pathways' clips ran on some elements (column 1: elements seen).
  assert np.asarray(recorded['clip_counts'])[:, 1].min() > 0


@pytest.mark.parametrize('passes', ['plain', 'tta'])
def test_detections_on_fixed_weights(recorded, computed, passes):
  want, got = recorded['inference'][passes], computed['inference'][passes]
  assert got.keys() == want.keys()
  assert got['num_detections'] == want['num_detections']
  assert got['detection_classes'] == want['detection_classes']
  for name in set(want) - {'num_detections', 'detection_classes'}:
    np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-4,
                               err_msg=name)
