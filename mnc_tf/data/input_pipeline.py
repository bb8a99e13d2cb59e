# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""The tf.data input pipeline: TFRecord file patterns -> batched (image, labels).

    dataset = build_dataset(params.input_path, params, input_context)

is what a Model Garden Task's `build_inputs(params, input_context)` returns.

Stages: match files -> per-input-pipeline sharding (`input_context`) ->
file shuffle (training) -> parallel interleaved TFRecord reads -> decode
(`decoder.Decoder`) -> optional cache (decoded examples, before any random
step) -> repeat + shuffle (training) -> parse (`parser.Parser`: flip, resize,
normalise, pad) -> batch (per-replica batch size; with
`parser.oriented_padding` per orientation, so a batch never mixes landscape
and portrait shapes) -> prefetch.

Why not Model Garden's `InputReader` as is: it caches *after* parsing (which
would freeze the random flips) and its parser's random ops are stateful
inside a parallel map (so runs are not reproducible).  The sharding rules
are the same as its: files are split between input pipelines when there are
at least as many files as pipelines, else records are.
"""

import random

import tensorflow as tf

from official.core import input_reader

from mnc_tf.data import damaged_records
from mnc_tf.data import decoder as decoder_lib
from mnc_tf.data import parser as parser_lib

_AUTOTUNE = tf.data.AUTOTUNE
# Base seed of the flips / shuffles when the config gives none and the
# pipeline is deterministic.
_DEFAULT_SEED = 0x5eed
# The label holding the running count of damaged records skipped (training
# with `skip_damaged_records` only).
DAMAGED_RECORDS_KEY = 'damaged_records_skipped'


def match_files(file_pattern):
  """Sorted files matching a pattern, comma-separated patterns or a list.

  Raises:
    ValueError: if nothing matches.
  """
  files = sorted(set(input_reader.match_files(file_pattern)))
  if not files:
    raise ValueError('no file matches %r' % (file_pattern,))
  return files


def build_parser(params):
  """The `parser.Parser` a `mnc_tf.configs.data.DataConfig` describes."""
  return parser_lib.Parser.from_config(params.parser, dtype=params.dtype)


def batch_by_orientation(dataset, batch_size, drop_remainder):
  """Batches (image, labels) so that a batch holds one image orientation.

  Model Garden / detectron2's aspect-ratio grouping: landscape or square
  images (height <= width) and portrait ones fill separate batches, each
  emitted when full (in arrival order, so a deterministic input stays
  deterministic); a partial batch of each orientation is kept at the end of
  a finite input unless `drop_remainder`.

  Args:
    dataset: unbatched (image [H, W, 3], labels) elements.
    batch_size: python int.
    drop_remainder: drop the partial batches at the end.

  Returns:
    The batched dataset.
  """
  def orientation(image, unused_labels):
    shape = tf.shape(image)
    return tf.cast(shape[0] > shape[1], tf.int64)  # 0 landscape, 1 portrait

  return dataset.group_by_window(
      key_func=orientation,
      reduce_func=lambda unused_key, window: window.batch(
          batch_size, drop_remainder=drop_remainder),
      window_size=batch_size)


def build_dataset(file_pattern, params, input_context=None):
  """Builds the batched input dataset.

  Args:
    file_pattern: TFRecord file(s): a glob pattern, comma-separated patterns,
      or a list of them (usually `params.input_path`).
    params: `mnc_tf.configs.data.DataConfig`.  Used fields: is_training,
      global_batch_size, drop_remainder, shuffle_buffer_size, cache,
      cycle_length, block_length, deterministic, seed, sharding, dtype,
      prefetch_buffer_size and `parser` (scale, max_size, padded_size,
      size_divisor, max_num_instances, aug_rand_hflip,
      skip_crowd_during_training, mean, stddev, mask_crop_size,
      oriented_padding, aug_scale_min, aug_scale_max) and, for training,
      skip_damaged_records (`damaged_records`: a damaged record ends the
      read of its file instead of the run, and is counted).
    input_context: optional `tf.distribute.InputContext` (what
      `strategy.distribute_datasets_from_function` passes): the data are
      sharded between its input pipelines and the batch is the per-replica
      batch, `global_batch_size / num_replicas_in_sync`.

  Returns:
    A `tf.data.Dataset` of `(images, labels)`, B = per-replica batch size,
    Hp x Wp = the parser's padded size (with `parser.oriented_padding`:
    [scale, max_size] or its transpose, one per batch, and the static shape
    is [B, None, None, 3]), N = max_num_instances:
      images: `params.dtype` [B, Hp, Wp, 3], normalised RGB.
      labels: dict of
        image_info: float32 [B, 4, 2], [[h, w], [scaled_h, scaled_w],
          [scale_y, scale_x], [0, 0]] per image;
        gt_boxes: float32 [B, N, 4], [ymin, xmin, ymax, xmax] in input
          pixels, -1 rows after the valid ones;
        gt_classes: int32 [B, N], the data set's category ids, -1 padding;
        gt_masks: uint8 [B, N, Hp, Wp], full-image 0 / 1 masks; in training
          with `parser.mask_crop_size` C > 0 a dict {'crops': uint8
          [B, N, C, C]} of per-instance crops (`parser.Parser`);
        gt_is_crowd: int32 [B, N];
        gt_num_instances: int32 [B];
        source_id: int64 [B];
        damaged_records_skipped (training with skip_damaged_records only):
          int64 [B], damaged records this pipeline skipped so far;
        groundtruths (only when not is_training): Model Garden's COCO
          evaluator dict, see `parser.Parser`.
    Training datasets repeat forever and are shuffled; evaluation datasets
    are read once, in file order.
  """
  is_training = bool(params.is_training)
  files = match_files(file_pattern)
  deterministic = params.deterministic
  seed = params.seed
  if seed is None and deterministic:
    seed = _DEFAULT_SEED

  num_pipelines = input_context.num_input_pipelines if input_context else 1
  pipeline_id = input_context.input_pipeline_id if input_context else 0
  shard_files = params.sharding and num_pipelines > 1 and (
      len(files) >= num_pipelines)
  shard_records = params.sharding and num_pipelines > 1 and not shard_files

  skip_damaged = is_training and bool(params.skip_damaged_records)
  if skip_damaged:
    dataset = tf.data.Dataset.from_tensor_slices(
        (files, damaged_records.file_sizes(files)))
    read_file = damaged_records.read_file_skipping_damage
  else:
    dataset = tf.data.Dataset.from_tensor_slices(files)
    read_file = lambda path: tf.data.TFRecordDataset(path,
                                                     buffer_size=8 << 20)
  if shard_files:
    dataset = dataset.shard(num_pipelines, pipeline_id)
  if is_training and not params.cache:
    dataset = dataset.shuffle(len(files), seed=seed,
                              reshuffle_each_iteration=True)
  # Counting damaged records over the whole run needs one endless stream
  # of files (a repeat after the count would restart it every epoch).
  repeat_files = skip_damaged and not params.cache
  if repeat_files:
    dataset = dataset.repeat()
  cycle_length = params.cycle_length or min(len(files), 8)
  dataset = dataset.interleave(
      read_file, cycle_length=cycle_length, block_length=params.block_length,
      num_parallel_calls=_AUTOTUNE, deterministic=deterministic)
  if skip_damaged:
    dataset = damaged_records.count_damaged(dataset)
  if shard_records:
    dataset = dataset.shard(num_pipelines, pipeline_id)

  decoder = decoder_lib.Decoder(keep_png_masks=not is_training)
  decode = decoder.decode
  if skip_damaged:
    decode = lambda record, count: dict(decoder.decode(record),
                                        **{DAMAGED_RECORDS_KEY: count})
  dataset = dataset.map(decode, num_parallel_calls=_AUTOTUNE,
                        deterministic=deterministic)
  if params.cache:
    dataset = dataset.cache()
  if is_training:
    if not repeat_files:
      dataset = dataset.repeat()
    dataset = dataset.shuffle(params.shuffle_buffer_size, seed=seed,
                              reshuffle_each_iteration=True)

  parse = build_parser(params).parse_fn(is_training)
  if is_training:
    base_seed = tf.constant(
        seed if seed is not None else random.SystemRandom().randrange(2 ** 31),
        tf.int64)
    # A distinct stateless stream for every element (and pipeline).
    base_seed += tf.constant(pipeline_id * 1000003, tf.int64)

    def parse_with_seed(index, data):
      data = dict(data)
      data['flip_seed'] = tf.stack([base_seed, index])
      count = data.pop(DAMAGED_RECORDS_KEY, None)
      image, labels = parse(data)
      if count is not None:
        labels = dict(labels, **{DAMAGED_RECORDS_KEY: count})
      return image, labels
    dataset = dataset.enumerate().map(
        parse_with_seed, num_parallel_calls=_AUTOTUNE,
        deterministic=deterministic)
  else:
    dataset = dataset.map(parse, num_parallel_calls=_AUTOTUNE,
                          deterministic=deterministic)

  batch_size = (input_context.get_per_replica_batch_size(
      params.global_batch_size) if input_context else params.global_batch_size)
  if params.parser.oriented_padding:
    dataset = batch_by_orientation(dataset, batch_size,
                                   params.drop_remainder)
  else:
    dataset = dataset.batch(batch_size,
                            drop_remainder=params.drop_remainder)
  options = tf.data.Options()
  if deterministic is not None:
    options.deterministic = bool(deterministic)
  # Sharding is done above; keep tf.distribute from re-sharding.
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.OFF)
  dataset = dataset.with_options(options)
  return dataset.prefetch(params.prefetch_buffer_size or _AUTOTUNE)
