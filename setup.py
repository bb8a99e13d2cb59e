"""Installs mnc_tf (Multi-task Network Cascades for TensorFlow / Model Garden).

`make install` is the development path: it creates `.venv`, installs the pinned
dependencies, installs this package in editable mode and compiles the RoI-warp
op with `custom_ops/build_op.py` (flags from `tf.sysconfig`).

`pip install .` and `pip wheel .` compile the op too: `build_py` below runs the
same `build_op.build()` into the build directory, so the wheel carries
`mnc_tf/ops/_roi_warp_ops.so` (and is tagged for this platform). The op is
compiled against the TensorFlow of the build environment, which
`pyproject.toml` pins to the runtime's version; `--no-build-isolation` uses the
installed one instead (no download). A failed compile fails the install with
the compiler's output; `MNC_TF_SKIP_OP=1` installs without the op (the pure-TF
twin then runs, ~10x slower). `python setup.py build_op` compiles the op in
place, as `make install` does.
"""
import importlib.util
import os
import sys

import setuptools
from setuptools.command import build_py

_HERE = os.path.dirname(os.path.abspath(__file__))
_OP_LIBRARY = os.path.join('mnc_tf', 'ops', '_roi_warp_ops.so')


def _build_op_module():
  """custom_ops/build_op.py as a module (it is not part of the package)."""
  path = os.path.join(_HERE, 'custom_ops', 'build_op.py')
  spec = importlib.util.spec_from_file_location('mnc_tf_build_op', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _compile_op(output, portable=False):
  """Compiles the op into `output`; exits with the compiler's log on failure.

  portable: for a wheel (build_op's baseline CPU flags, not -march=native).
  """
  build_op = _build_op_module()
  try:
    build_op.build(output, cuda=os.environ.get('MNC_TF_CUDA') == '1',
                   verbose=os.environ.get('MNC_TF_VERBOSE_BUILD') == '1',
                   portable=portable)
  except build_op.BuildError as e:
    print(e.log, file=sys.stderr)
    sys.exit(f'{e}. Fix the error above, or set MNC_TF_SKIP_OP=1 to install '
             'without the op (the pure-TF twin, ~10x slower).')


class BuildPyWithOp(build_py.build_py):
  """`build_py` that also compiles the RoI-warp op into the build directory.

  Skipped for editable installs (`make install` compiles the op in place) and
  when MNC_TF_SKIP_OP=1.
  """

  def run(self):
    super().run()
    if getattr(self, 'editable_mode', False):
      return
    if os.environ.get('MNC_TF_SKIP_OP') == '1':
      print('MNC_TF_SKIP_OP=1: the RoI-warp op is not compiled; the pure-TF '
            'twin will run.', file=sys.stderr)
      return
    _compile_op(os.path.join(self.build_lib, _OP_LIBRARY), portable=True)


class BuildOp(setuptools.Command):
  """`python setup.py build_op`: compiles mnc_tf/ops/_roi_warp_ops.so."""

  description = ('compile the RoI-warp custom op against the installed '
                 'TensorFlow')
  user_options = []

  def initialize_options(self):
    pass

  def finalize_options(self):
    pass

  def run(self):
    _compile_op(os.path.join(_HERE, _OP_LIBRARY))


class BinaryDistribution(setuptools.Distribution):
  """The wheel holds a compiled library: tag it for this platform."""

  def has_ext_modules(self):
    return True


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
    python_requires='>=3.10',
    install_requires=_requirements(),
    distclass=BinaryDistribution,
    cmdclass={'build_py': BuildPyWithOp, 'build_op': BuildOp},
)
