# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Data configs: the input pipeline's parser and reader settings.

`DataConfig` subclasses Model Garden's `cfg.DataConfig`, so a task's
`task.train_data` / `task.validation_data` can be one, and
`mnc_tf.data.input_pipeline.build_dataset(params.input_path, params,
input_context)` builds the batched tf.data.Dataset from it.
"""

import dataclasses
from typing import List, Optional, Sequence, Union

from official.core import config_definitions as cfg
from official.modeling import hyperparams
from official.vision.ops import preprocess_ops

# ImageNet mean / stddev of RGB values scaled to [0, 1]: Model Garden's.
MEAN_NORM = preprocess_ops.MEAN_NORM
STDDEV_NORM = preprocess_ops.STDDEV_NORM


@dataclasses.dataclass
class Parser(hyperparams.Config):
  """Resize, augmentation, normalisation and padding.

  Attributes:
    scale: the shorter image side after resizing (paper: 600).
    max_size: cap on the longer side after resizing (paper: 1000); the
      aspect ratio is kept, so the shorter side may end below `scale`.
    padded_size: [height, width] every image is padded to (bottom / right).
      Empty: a `max_size` x `max_size` square rounded up to `size_divisor`.
      Both sides must be >= `max_size` (any aspect ratio must fit).
    size_divisor: rounding of the automatic padded size (the backbone's
      largest stride).
    max_num_instances: groundtruth instances are padded / clipped to this.
    aug_rand_hflip: random horizontal flip (p = 0.5) in training.
    skip_crowd_during_training: drop is_crowd instances from training labels.
    mean: RGB mean (on [0, 1]) subtracted by the normalisation.
    stddev: RGB stddev (on [0, 1]) the normalisation divides by.
    mask_crop_size: training masks as per-instance C x C crops inside their
      gt boxes (`mnc_tf.ops.mask_crop_targets`; 100 instances cost
      100 * C^2 bytes instead of 100 * Hp * Wp) when > 0; 0: full-image
      [M, Hp, Wp] masks.  Evaluation always keeps full-image masks.
      Default 112 (1.25 MB at 100 instances; chosen by measuring 84 / 112 /
      128 against full-image masks: docs/benchmarks.md, "Training cost at paper
      scale").
    oriented_padding: pad each image to the size of its orientation instead
      of one square: a landscape (or square) image to [scale, max_size], a
      portrait one to [max_size, scale], both rounded up to `size_divisor`
      (`oriented_padded_sizes`); the input pipeline then groups the images
      by orientation so that a batch holds one shape.  For 600 / 1000 that
      is 608 x 1008 instead of 1008 x 1008 (60 % of the pixels).  Requires
      an empty `padded_size`.  The model sees two static shapes (the task
      dispatches on the orientation, `MncTask`).
    aug_scale_min: training scale jitter (Model Garden's name): each
      training image is resized to its `scale` / `max_size` size times a
      factor drawn uniformly from [aug_scale_min, aug_scale_max], and a
      random window of the unjittered size is kept where it grew, so the
      padded size and the step cost stay; boxes and masks follow
      (`mnc_tf.data.parser`).  1 / 1 (default): no jitter.  Evaluation is
      never jittered.
    aug_scale_max: upper bound of the jitter factor (>= aug_scale_min).
  """
  scale: int = 600
  max_size: int = 1000
  padded_size: List[int] = dataclasses.field(default_factory=list)
  size_divisor: int = 32
  max_num_instances: int = 100
  aug_rand_hflip: bool = True
  skip_crowd_during_training: bool = True
  mean: List[float] = dataclasses.field(
      default_factory=lambda: list(MEAN_NORM))
  stddev: List[float] = dataclasses.field(
      default_factory=lambda: list(STDDEV_NORM))
  mask_crop_size: int = 112
  oriented_padding: bool = False
  aug_scale_min: float = 1.0
  aug_scale_max: float = 1.0


def oriented_padded_sizes(parser: Parser):
  """The padded [height, width] per orientation, landscape first.

  With `parser.padded_size` set, that one size.  Otherwise an image resized
  by the parser (shorter side <= `scale`, longer <= `max_size`) is padded to
  [scale, max_size] rounded up to `size_divisor` when it is landscape or
  square, and to the transpose when it is portrait.

  Returns:
    List of one or two [height, width] lists of python ints.
  """
  if parser.padded_size:
    return [resolve_padded_size(parser)]
  divisor = max(int(parser.size_divisor), 1)
  short, long = (-(-int(v) // divisor) * divisor
                 for v in (min(parser.scale, parser.max_size),
                           parser.max_size))
  return [[short, long]] if short == long else [[short, long], [long, short]]


def resolve_padded_size(parser: Parser):
  """The [height, width] the parser pads to (see `Parser.padded_size`)."""
  if parser.padded_size:
    if parser.oriented_padding:
      raise ValueError(
          'parser.oriented_padding needs an empty padded_size (it picks the '
          'size per orientation), got padded_size %s'
          % list(parser.padded_size))
    padded = [int(v) for v in parser.padded_size]
    if len(padded) != 2:
      raise ValueError('padded_size must be [height, width], got %s' % padded)
    if min(padded) < parser.max_size:
      raise ValueError(
          'padded_size %s is smaller than max_size %d: a resized image of '
          'either orientation must fit' % (padded, parser.max_size))
    return padded
  divisor = max(int(parser.size_divisor), 1)
  side = -(-int(parser.max_size) // divisor) * divisor
  return [side, side]


@dataclasses.dataclass
class DataConfig(cfg.DataConfig):
  """Input config (train or validation).

  Attributes beyond Model Garden's `cfg.DataConfig` (input_path,
  global_batch_size, is_training, shuffle_buffer_size, cache, cycle_length,
  block_length, deterministic, seed, drop_remainder, ...):
    dtype: image dtype ('float32', 'bfloat16' or 'float16').
    parser: the `Parser` settings.
    label_map: the converters' `<prefix>-label_map.json` (informational:
      category ids and names; the records carry the ids themselves).
    num_examples: number of examples (-1: unknown).
    skip_damaged_records: training only: a damaged record (cut-off or
      overwritten TFRecord file) ends the read of its file instead of the
      run; the records before it are used and each one skipped is counted
      in the `damaged_records_skipped` training metric. Off: training stops
      with one line naming the file and record.
  `cache` caches *decoded* examples, before the random flip, so
  augmentation stays random across epochs.  `deterministic=True` fixes the
  element order, and with `seed` set the shuffles and flips too.
  """
  input_path: Union[Sequence[str], str, hyperparams.Config] = ''
  global_batch_size: int = 1
  is_training: bool = True
  dtype: str = 'float32'
  parser: Parser = dataclasses.field(default_factory=Parser)
  shuffle_buffer_size: int = 1000
  file_type: str = 'tfrecord'
  drop_remainder: bool = True
  label_map: str = ''
  num_examples: int = -1
  skip_damaged_records: bool = False
  seed: Optional[int] = None
