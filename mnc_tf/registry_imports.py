# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
"""Imports that register MNC's experiments and task (Model Garden's habit).

`train.py`, the exporter and anything else resolving `--experiment=<name>`
import this module once; `exp_factory` and `task_factory` then know
`mnc_vgg16_voc`, `mnc_resnet101_coco`, `mnc_resnet50_coco`,
`mnc_shapes_demo` and the `MncTask` config.
"""
# pylint: disable=unused-import
from mnc_tf.configs import mnc_experiments
from mnc_tf.tasks import mnc_task
