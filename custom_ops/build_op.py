# Copyright 2026 The mnc_tf Authors. Licensed under the Apache License, Version 2.0.
r"""Compiles the RoI-warp custom op against the installed TensorFlow.

    python custom_ops/build_op.py [--output=mnc_tf/ops/_roi_warp_ops.so] \
        [--cuda] [--cuda_only_compile] [--verbose]

Compiler and linker flags come from `tf.sysconfig` (TensorFlow's headers as
`-isystem`, so their warnings are not ours). GPU kernels are added when
`--cuda` is given or MNC_TF_CUDA=1 is set, and nvcc is on PATH (or at
$CUDA_HOME/bin/nvcc). The library is written to a temporary name and renamed,
so an interrupted build never leaves a half-written library behind.
Host compiler flags: MNC_TF_CXXFLAGS, else "-O3 -march=native" for the
in-place build (`make install`: the library runs on the machine that built
it) and, with `portable=True` (the wheel / `pip install .`, whose library may
run on another CPU), "-O3 -march=x86-64-v3 -mtune=generic" on x86-64 (AVX2 +
FMA: every x86-64 server CPU since Haswell / Zen 1; the loader,
`mnc_tf.ops.roi_warp_custom`, refuses the library on a CPU without them, so
the pure-TF twin runs there instead of an illegal instruction) and "-O3"
elsewhere.  The kernels are written for the compiler's auto-vectorizer; on
the project's AMD EPYC (Zen 3) x86-64-v3 and native give the same vector
width (256-bit AVX2).

Quiet unless something fails: one line on success; on failure the commands
and the compiler output, then exit status 1. `--verbose` shows them always.
`make install` and the package build (`setup.py`'s `build_py`, i.e.
`pip install .` / `pip wheel .`) call `build()`.
"""

import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile

from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SRC = os.path.join(HERE, 'roi_warp')
CC_SOURCES = ['roi_warp_ops.cc', 'roi_warp_kernels.cc']
CU_SOURCES = ['roi_warp_kernels_gpu.cu.cc']
DEFAULT_OUTPUT = os.path.join(ROOT, 'mnc_tf', 'ops', '_roi_warp_ops.so')


def find_nvcc():
  cuda_home = os.environ.get('CUDA_HOME') or os.environ.get('CUDA_PATH')
  if cuda_home and os.path.exists(os.path.join(cuda_home, 'bin', 'nvcc')):
    return os.path.join(cuda_home, 'bin', 'nvcc')
  return shutil.which('nvcc')


def tf_flags():
  """TensorFlow's (compile flags, link flags), from `tf.sysconfig`."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # no start-up chatter
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.sysconfig.get_compile_flags(), tf.sysconfig.get_link_flags()


class BuildError(RuntimeError):
  """A compile or link step failed; `log` holds commands and output."""

  def __init__(self, message, log):
    super().__init__(message)
    self.log = log


class _Runner:
  """Runs build commands, keeping (or, verbose, printing) their output."""

  def __init__(self, verbose=False):
    self.verbose = verbose
    self.log = []

  def __call__(self, cmd):
    line = '+ ' + ' '.join(shlex.quote(c) for c in cmd)
    self.log.append(line)
    if self.verbose:
      print(line, flush=True)
    result = subprocess.run(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False)
    self.log.append(result.stdout)
    if self.verbose and result.stdout:
      print(result.stdout, end='', flush=True)
    if result.returncode != 0:
      raise BuildError(f'build_op: {os.path.basename(cmd[0])} failed with '
                       f'status {result.returncode}', '\n'.join(self.log))


def _system_includes(flags):
  """-I flags as -isystem: warnings inside TensorFlow's headers are silenced."""
  out = []
  for f in flags:
    out += ['-isystem', f[2:]] if f.startswith('-I') else [f]
  return out


def compile_cuda(nvcc, compile_flags, workdir, run):
  """Compiles the .cu.cc sources to objects; returns their paths."""
  objects = []
  arch = os.environ.get('MNC_TF_CUDA_ARCH', '-gencode=arch=compute_90,code=sm_90 '
                        '-gencode=arch=compute_80,code=sm_80')
  for src in CU_SOURCES:
    obj = os.path.join(workdir, src + '.o')
    # -fmad=false: no FMA contraction, so sample positions and weights are the
    # plain IEEE float results of roi_warp_math.h, bit for bit those of the CPU
    # code compiled without contraction (as the CUDA harness compiles both).
    # TensorFlow's headers as -isystem: silences their warnings, not ours.
    nvcc_flags = _system_includes(compile_flags)
    run([nvcc, '-std=c++17', '-c', os.path.join(SRC, src), '-o', obj,
         '-DGOOGLE_CUDA=1', '-DNDEBUG', '-x', 'cu', '-Xcompiler', '-fPIC',
         '--expt-relaxed-constexpr', '-O3', '-fmad=false', '-Xcompiler',
         '-Wno-deprecated-declarations', *arch.split(), *nvcc_flags])
    objects.append(obj)
  return objects


def cuda_link_flags(nvcc, workdir):
  """Links the CUDA runtime statically, from the directories nvcc itself uses.

  `nvcc --dryrun` prints them (LIBRARIES=...), which also works when `nvcc` is
  a wrapper script outside the toolkit.  Static, so the library loads without
  LD_LIBRARY_PATH, independently of the CUDA runtime TensorFlow ships with.
  """
  probe = os.path.join(workdir, 'probe.cu')
  open(probe, 'w').close()
  dry = subprocess.run([nvcc, '--dryrun', '-c', probe, '-o', probe + '.o'],
                       capture_output=True, text=True, check=False)
  dirs = []
  for line in (dry.stdout + dry.stderr).splitlines():
    if 'LIBRARIES=' in line:
      dirs += [f for f in shlex.split(line.split('LIBRARIES=', 1)[1])
               if f.startswith('-L') and not f.rstrip('/').endswith('stubs')]
  if not dirs:  # fall back to the toolkit that holds nvcc
    dirs = [f'-L{os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))}/lib64']
  # Placed before TensorFlow's libraries on the link line: libtensorflow_framework
  # exports CUDA-runtime stubs of its own (for its CUDA 12 runtime) that would
  # otherwise satisfy these symbols.  Not re-exported from our library.
  return dirs + ['-lcudart_static', '-Wl,--exclude-libs,libcudart_static.a', '-ldl',
                 '-lrt', '-lpthread']


PORTABLE_X86_64_FLAGS = '-O3 -march=x86-64-v3 -mtune=generic'
NATIVE_FLAGS = '-O3 -march=native'


def host_flags(portable):
  """Host optimisation flags (see the module docstring)."""
  if os.environ.get('MNC_TF_CXXFLAGS'):
    return shlex.split(os.environ['MNC_TF_CXXFLAGS'])
  if not portable:
    return shlex.split(NATIVE_FLAGS)
  if platform.machine().lower() in ('x86_64', 'amd64'):
    return shlex.split(PORTABLE_X86_64_FLAGS)
  return ['-O3']


def build(output, cuda=False, compile_only=False, verbose=False,
          portable=False):
  """Compiles the op into `output` (written atomically).

  Args:
    output: path of the shared library to write.
    cuda: also compile the CUDA kernels (needs nvcc).
    compile_only: with `cuda`, compile the CUDA sources and stop.
    verbose: print every command and the compiler output.
    portable: compile for a baseline CPU (a wheel) instead of this one.

  Raises:
    BuildError: a step failed (or nvcc is missing with `cuda`); `.log` holds
      the commands and their output.
  """
  run = _Runner(verbose)
  compile_flags, link_flags = tf_flags()
  cxxflags = host_flags(portable)
  cxxflags += ['-Wno-deprecated-declarations', '-fopenmp-simd', '-DMNC_TF_OMP_SIMD']
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with tempfile.TemporaryDirectory(prefix='mnc_tf_build_') as workdir:
    objects, defines, cuda_libs = [], [], []
    if cuda:
      nvcc = find_nvcc()
      if nvcc is None:
        raise BuildError('build_op: --cuda / MNC_TF_CUDA=1 given but nvcc was '
                         'not found (set CUDA_HOME or put nvcc on PATH).', '')
      objects = compile_cuda(nvcc, compile_flags, workdir, run)
      if compile_only:
        print('build_op: CUDA sources compiled (compile only).')
        return
      defines = ['-DGOOGLE_CUDA=1']
      cuda_libs = cuda_link_flags(nvcc, workdir)
    tmp_output = os.path.join(workdir, os.path.basename(output))
    run(['g++', '-std=c++17', '-shared', '-fPIC', *cxxflags, *defines,
         *[os.path.join(SRC, s) for s in CC_SOURCES], *objects,
         '-o', tmp_output, *_system_includes(compile_flags), *cuda_libs,
         *link_flags])
    partial = output + '.partial'
    shutil.copyfile(tmp_output, partial)
    os.replace(partial, output)
  print(f'build_op: wrote {output}' + (' (with CUDA kernels)' if cuda else ''))


def define_flags(flag_values=flags.FLAGS):
  """Defines the flags (called by `__main__`, as Model Garden does)."""
  flags.DEFINE_string('output', DEFAULT_OUTPUT, 'The shared library to write.',
                      flag_values=flag_values)
  flags.DEFINE_bool('cuda', os.environ.get('MNC_TF_CUDA') == '1',
                    'Also compile the CUDA kernels (default: MNC_TF_CUDA=1).',
                    flag_values=flag_values)
  flags.DEFINE_bool('cuda_only_compile', False,
                    'Compile the CUDA sources and stop (CI check).',
                    flag_values=flag_values)
  flags.DEFINE_alias('cuda-only-compile', 'cuda_only_compile',
                     flag_values=flag_values)
  flags.DEFINE_bool('verbose', False,
                    'Print the commands and the compiler output.',
                    flag_values=flag_values)


def main(argv, flag_values=flags.FLAGS):
  if len(argv) > 1:
    sys.exit(f'build_op: unexpected arguments: {" ".join(argv[1:])}')
  try:
    build(flag_values.output,
          cuda=flag_values.cuda or flag_values.cuda_only_compile,
          compile_only=flag_values.cuda_only_compile,
          verbose=flag_values.verbose)
  except BuildError as e:
    if not flag_values.verbose and e.log:
      print(e.log, file=sys.stderr)
    sys.exit(str(e))


if __name__ == '__main__':
  define_flags()
  app.run(main)
