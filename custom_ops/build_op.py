"""Compiles the RoI-warp custom op against the installed TensorFlow.

Usage: python custom_ops/build_op.py [--output mnc_tf/ops/_roi_warp_ops.so]
                                      [--cuda] [--cuda-only-compile]

Compiler and linker flags come from `tf.sysconfig`.  GPU kernels are added when
`--cuda` is given or MNC_TF_CUDA=1 is set, and nvcc is on PATH (or at
$CUDA_HOME/bin/nvcc).  The library is written to a temporary name and renamed,
so an interrupted build never leaves a half-written library behind.
Extra host compiler flags: MNC_TF_CXXFLAGS (default "-O3 -march=native").
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

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
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.sysconfig.get_compile_flags(), tf.sysconfig.get_link_flags()


def run(cmd):
  print('+', ' '.join(shlex.quote(c) for c in cmd), flush=True)
  subprocess.check_call(cmd)


def compile_cuda(nvcc, compile_flags, workdir):
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
    nvcc_flags = []
    for f in compile_flags:
      nvcc_flags += ['-isystem', f[2:]] if f.startswith('-I') else [f]
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


def build(output, cuda=False, compile_only=False):
  compile_flags, link_flags = tf_flags()
  cxxflags = shlex.split(os.environ.get('MNC_TF_CXXFLAGS', '-O3 -march=native'))
  cxxflags += ['-Wno-deprecated-declarations', '-fopenmp-simd', '-DMNC_TF_OMP_SIMD']
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with tempfile.TemporaryDirectory(prefix='mnc_tf_build_') as workdir:
    objects, defines, cuda_libs = [], [], []
    if cuda:
      nvcc = find_nvcc()
      if nvcc is None:
        sys.exit('build_op: --cuda / MNC_TF_CUDA=1 given but nvcc was not found '
                 '(set CUDA_HOME or put nvcc on PATH).')
      objects = compile_cuda(nvcc, compile_flags, workdir)
      if compile_only:
        print('build_op: CUDA sources compiled (compile only).')
        return
      defines = ['-DGOOGLE_CUDA=1']
      cuda_libs = cuda_link_flags(nvcc, workdir)
    tmp_output = os.path.join(workdir, os.path.basename(output))
    run(['g++', '-std=c++17', '-shared', '-fPIC', *cxxflags, *defines,
         *[os.path.join(SRC, s) for s in CC_SOURCES], *objects,
         '-o', tmp_output, *compile_flags, *cuda_libs, *link_flags])
    partial = output + '.partial'
    shutil.copyfile(tmp_output, partial)
    os.replace(partial, output)
  print(f'build_op: wrote {output}' + (' (with CUDA kernels)' if cuda else ''))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--output', default=DEFAULT_OUTPUT)
  parser.add_argument('--cuda', action='store_true',
                      default=os.environ.get('MNC_TF_CUDA') == '1')
  parser.add_argument('--cuda-only-compile', action='store_true',
                      help='compile the CUDA sources and stop (CI check)')
  args = parser.parse_args()
  build(args.output, cuda=args.cuda or args.cuda_only_compile,
        compile_only=args.cuda_only_compile)


if __name__ == '__main__':
  main()
