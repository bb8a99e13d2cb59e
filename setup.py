"""Installs mnc_tf (Multi-task Network Cascades for TensorFlow / Model Garden).

`make install` is the supported path: it creates `.venv`, installs the pinned
dependencies, installs this package in editable mode and compiles the RoI-warp
op with `custom_ops/build_op.py` (flags from `tf.sysconfig`).  `python setup.py
build_op` runs the same compilation step by hand.
"""
import os
import subprocess
import sys

import setuptools

_HERE = os.path.dirname(os.path.abspath(__file__))


class BuildOp(setuptools.Command):
  """`python setup.py build_op`: compiles mnc_tf/ops/_roi_warp_ops.so."""

  description = 'compile the RoI-warp custom op against the installed TensorFlow'
  user_options = []

  def initialize_options(self):
    pass

  def finalize_options(self):
    pass

  def run(self):
    subprocess.check_call([sys.executable,
                           os.path.join(_HERE, 'custom_ops', 'build_op.py')])


def _requirements():
  with open(os.path.join(_HERE, 'requirements.txt')) as f:
    lines = (line.split('#', 1)[0].strip() for line in f)
    return [line for line in lines if line]


setuptools.setup(
    name='mnc_tf',
    version='0.1.0',
    description='Multi-task Network Cascades (Dai, He & Sun, CVPR 2016) '
                'for TensorFlow Model Garden',
    packages=setuptools.find_packages(include=['mnc_tf', 'mnc_tf.*']),
    package_data={'mnc_tf.ops': ['*.so']},
    python_requires='>=3.10',
    install_requires=_requirements(),
    cmdclass={'build_op': BuildOp},
)
