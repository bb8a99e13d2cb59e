# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Training past damaged TFRecord records: what is read, what is counted."""
import os
import shutil

import pytest
import tensorflow as tf

from mnc_tf.configs import data as data_config
from mnc_tf.data import damaged_records
from mnc_tf.data import input_pipeline
from tests import mnc_test_data


def _write(path, payloads):
  with tf.io.TFRecordWriter(path) as writer:
    for payload in payloads:
      writer.write(payload)
  return path


def _cut(path, num_bytes):
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) - num_bytes)


def _read(files):
  dataset = tf.data.Dataset.from_tensor_slices(
      (files, damaged_records.file_sizes(files)))
  dataset = damaged_records.count_damaged(dataset.flat_map(
      damaged_records.read_file_skipping_damage))
  return [(record.numpy(), int(count)) for record, count in dataset]


def test_reads_up_to_the_damage_and_counts_it(tmp_path):
  intact = _write(str(tmp_path / 'a.tfrecord'), [b'a0', b'a1'])
  cut = _write(str(tmp_path / 'b.tfrecord'), [b'b0', b'b1', b'b2'])
  after = _write(str(tmp_path / 'c.tfrecord'), [b'c0'])
  assert _read([intact, cut, after]) == [
      (b'a0', 0), (b'a1', 0), (b'b0', 0), (b'b1', 0), (b'b2', 0), (b'c0', 0)]
  _cut(cut, 3)  # inside b2's checksum
  assert _read([intact, cut, after]) == [
      (b'a0', 0), (b'a1', 0), (b'b0', 0), (b'b1', 0), (b'c0', 1)]
  # An overwritten byte in b0's payload: the rest of the file is lost.
  _write(cut, [b'b0', b'b1', b'b2'])
  data = bytearray(open(cut, 'rb').read())
  data[12] ^= 0xff
  open(cut, 'wb').write(bytes(data))
  assert _read([intact, cut, after, cut]) == [
      (b'a0', 0), (b'a1', 0), (b'c0', 1)]


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
  """The tiny shapes data set: 4 training records in 2 shards."""
  return mnc_test_data.make_tiny_shapes(str(tmp_path_factory.mktemp('d')))


def _params(**kwargs):
  side = mnc_test_data.IMAGE_SIDE
  settings = dict(is_training=True, global_batch_size=1,
                  shuffle_buffer_size=1, seed=3, deterministic=True,
                  cycle_length=1, parser=data_config.Parser(
                      scale=side, max_size=side, padded_size=[side, side]))
  settings.update(kwargs)
  return data_config.DataConfig(**settings)


def _damaged_copy(shapes, tmp_path):
  """Copies the 2 shards; cuts the last record of shard 1; its path."""
  directory = str(tmp_path / 'records')
  os.makedirs(directory)
  for path in tf.io.gfile.glob(shapes['train_pattern']):
    shutil.copy(path, directory)
  damaged = sorted(tf.io.gfile.glob(os.path.join(directory, '*')))[1]
  _cut(damaged, 5)
  return os.path.join(directory, 'train-*'), damaged


def test_training_skips_and_counts_every_epoch(shapes, tmp_path):
  pattern, damaged = _damaged_copy(shapes, tmp_path)
  intact_ids = set()
  for path in tf.io.gfile.glob(shapes['train_pattern']):
    for record in tf.data.TFRecordDataset(path):
      intact_ids.add(int(tf.train.Example.FromString(record.numpy()).features
                         .feature['image/source_id'].bytes_list.value[0]))
  dataset = input_pipeline.build_dataset(
      pattern, _params(skip_damaged_records=True))
  # 3 records survive per epoch; element 10 opens the 4th epoch, after
  # the damaged file was met three times.
  elements = [(int(labels['source_id'][0]),
               int(labels[input_pipeline.DAMAGED_RECORDS_KEY][0]))
              for _, labels in dataset.take(10)]
  ids = {source_id for source_id, _ in elements}
  assert len(ids) == 3 and ids < intact_ids
  counts = [count for _, count in elements]
  assert counts == sorted(counts) and counts[-1] == 3, elements


def test_without_the_option_a_damaged_record_stops_reading(shapes, tmp_path):
  pattern, _ = _damaged_copy(shapes, tmp_path)
  with pytest.raises(tf.errors.DataLossError, match='truncated record'):
    for _ in input_pipeline.build_dataset(pattern, _params()).take(10):
      pass
  # Evaluation never skips: it would score fewer images without saying so.
  with pytest.raises(tf.errors.DataLossError):
    for _ in input_pipeline.build_dataset(pattern, _params(
        skip_damaged_records=True, is_training=False,
        drop_remainder=False)):
      pass
