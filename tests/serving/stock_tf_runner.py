# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Runs a SavedModel with stock TensorFlow only (never imports mnc_tf).

    python stock_tf_runner.py SAVED_MODEL_DIR IMAGE.npy OUT.npz

Writes the `serving_default` outputs, the op types of the saved graph and
whether each is registered in this (stock) TensorFlow.
"""
import sys

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry


def graph_op_types(saved_model_dir):
  proto = saved_model_pb2.SavedModel()
  with open(f'{saved_model_dir}/saved_model.pb', 'rb') as f:
    proto.ParseFromString(f.read())
  ops = set()
  for meta_graph in proto.meta_graphs:
    ops.update(node.op for node in meta_graph.graph_def.node)
    for function in meta_graph.graph_def.library.function:
      ops.update(node.op for node in function.node_def)
  return sorted(ops)


def main(saved_model_dir, image_path, out_path):
  loaded = tf.saved_model.load(saved_model_dir)
  image = np.load(image_path)
  outputs = loaded.signatures['serving_default'](tf.constant(image[None]))
  ops = graph_op_types(saved_model_dir)
  unregistered = [op for op in ops if op_def_registry.get(op) is None]
  np.savez(out_path, ops=np.array(ops), unregistered=np.array(unregistered),
           mnc_tf_imported=np.array('mnc_tf' in sys.modules),
           **{k: v.numpy() for k, v in outputs.items()})


if __name__ == '__main__':
  main(*sys.argv[1:4])
