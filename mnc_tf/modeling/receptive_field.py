# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Theoretical receptive field of a functional Keras backbone.

The RPN scores and regresses every anchor from one feature cell (plus its
3x3 conv).  An object wider than the input window that cell sees cannot be
outlined from it: the RPN sees the inside of the object, not its edges.
This module measures that window so the data inspector can compare it with
the instance sizes an image scale produces.

The walk follows the layer graph: each `Conv2D` / pooling layer adds
`(kernel - 1) * jump` to the window (dilation included) and multiplies the
jump by its stride; `UpSampling2D` divides the jump; layers with several
inputs (add, concatenate) take the largest window of their inputs.
"""

from mnc_tf.modeling import factory

# The RPN's own 3x3 conv on top of the backbone (heads/rpn_head.py).
RPN_CONV_KERNEL = 3


def _pair(value):
  if isinstance(value, (list, tuple)):
    return int(value[0])
  return int(value)


def _layer_step(layer):
  """(kernel extent in input cells, stride, upsampling) of one layer."""
  config = layer.get_config()
  name = type(layer).__name__
  if 'Conv' in name and 'kernel_size' in config:
    kernel = _pair(config['kernel_size'])
    dilation = _pair(config.get('dilation_rate', 1))
    return (kernel - 1) * dilation + 1, _pair(config.get('strides', 1)), 1
  if 'Pooling' in name and 'pool_size' in config:
    return (_pair(config['pool_size']), _pair(config.get('strides') or
                                              config['pool_size']), 1)
  if name == 'UpSampling2D':
    return 1, 1, _pair(config['size'])
  return 1, 1, 1


def model_receptive_field(model):
  """(window, jump) in input pixels of a functional model's output.

  Args:
    model: a functional `tf_keras.Model` (one image input, one output).

  Returns:
    (receptive field side in pixels, stride of the output in pixels).
  """
  fields = {}  # layer name -> (window, jump)
  for layer in model.layers:
    inbound = []
    for node in layer._inbound_nodes:  # pylint: disable=protected-access
      parents = node.inbound_layers
      parents = parents if isinstance(parents, (list, tuple)) else [parents]
      inbound.extend(fields[p.name] for p in parents if p.name in fields)
    window, jump = max(inbound) if inbound else (1.0, 1.0)
    kernel, stride, up = _layer_step(layer)
    window += (kernel - 1) * jump
    jump = jump * stride / up
    fields[layer.name] = (window, jump)
  return fields[model.layers[-1].name]


def rpn_receptive_field(backbone_config):
  """The input window (px) one RPN position sees: backbone + the 3x3 conv.

  Args:
    backbone_config: `configs.model.Backbone`.

  Returns:
    float, the side of the square input window.
  """
  backbone = factory.build_backbone(backbone_config)
  window, jump = model_receptive_field(backbone)
  return float(window + (RPN_CONV_KERNEL - 1) * jump)
