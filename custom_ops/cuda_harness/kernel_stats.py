"""Static resource report of the RoI-warp CUDA kernels (no GPU needed).

Usage: python kernel_stats.py [--arch sm_90] [--json PATH] [--markdown PATH]
                              [--filter REGEX] [--keep DIR]

Compiles kernel_inventory.cu (every kernel variant the TensorFlow op can
launch) to a cubin with `nvcc -Xptxas -v`, the harness's flags (-O3
-fmad=false), and reports per kernel: registers, spill stores / loads and
stack frame (ptxas), and, when nvdisasm (or cuobjdump) is found on PATH,
NVDISASM_PATH or $CUDA_HOME/bin, SASS instruction counts: all, global loads
(LDG), local-memory accesses (LDL/STL), global float atomics (RED/ATOMG) and
integer-ALU instructions (IMAD, IADD3, LEA, SHF, LOP3, ISETP, ...), of which
64-bit halves (IMAD.WIDE*, *.X carries).  Static counts say what the code
issues per loop trip, not how often a loop runs; they are not timings.
Writes the JSON / Markdown to a temporary name, then renames.  Standard
library only.  Exit status 0, or 1 if nvcc fails.
"""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OP_DIR = os.path.join(os.path.dirname(HERE), 'roi_warp')
SOURCE = os.path.join(HERE, 'kernel_inventory.cu')
NVCC_FLAGS = ['-O3', '-std=c++17', '-fmad=false', '-Xptxas', '-v']

_ENTRY = re.compile(r"ptxas info\s+: Compiling entry function '([^']+)' for '(\w+)'")
_FRAME = re.compile(r'(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads')
_REGS = re.compile(r'Used (\d+) registers')
_SASS_FN = re.compile(r'^\s*\.text\.(\S+?):\s*$')
_SASS_INSN = re.compile(r'/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)')
_INT_OPS = ('IMAD', 'IADD3', 'IADD', 'LEA', 'SHF', 'LOP3', 'ISETP', 'IMNMX', 'IABS',
            'SGXT', 'BMSK', 'FLO', 'POPC', 'IDP', 'IMUL', 'SEL', 'PRMT', 'I2F', 'F2I')


def find_tool(name):
  """Path of a CUDA tool on NVDISASM_PATH, PATH or $CUDA_HOME/bin, or None."""
  for env in ('NVDISASM_PATH',):
    d = os.environ.get(env)
    if d and os.path.exists(os.path.join(d, name)):
      return os.path.join(d, name)
  found = shutil.which(name)
  if found:
    return found
  home = os.environ.get('CUDA_HOME') or os.environ.get('CUDA_PATH') or '/usr/local/cuda'
  path = os.path.join(home, 'bin', name)
  return path if os.path.exists(path) else None


def short_name(mangled):
  """'RoiWarpForwardKernel<float, unsigned char, int, 4, 2>' from a mangled name."""
  cxxfilt = shutil.which('c++filt')
  name = mangled
  if cxxfilt:
    name = subprocess.run([cxxfilt, mangled], capture_output=True, text=True).stdout.strip()
  name = re.sub(r'\(.*\)$', '', name)
  name = re.sub(r'^void ', '', name)
  name = name.replace('mnc_tf::roi_warp::cuda::', '').replace('mnc_tf::roi_warp::', '')
  return name.replace('unsigned char', 'uint8').replace('long', 'int64')


def parse_ptxas(text, arch=None):
  """{mangled: {'registers', 'stack_frame', 'spill_stores', 'spill_loads'}}
  from `ptxas -v` output, for the entries compiled for `arch` (all if None)."""
  stats, current = {}, None
  for line in text.splitlines():
    m = _ENTRY.search(line)
    if m:
      current = m.group(1) if arch is None or m.group(2) == arch else None
      if current is not None:
        stats[current] = {}
      continue
    if current is None:
      continue
    m = _FRAME.search(line)
    if m:
      stats[current].update(stack_frame=int(m.group(1)), spill_stores=int(m.group(2)),
                            spill_loads=int(m.group(3)))
    m = _REGS.search(line)
    if m:
      stats[current]['registers'] = int(m.group(1))
  return stats


def parse_sass(text):
  """{mangled: Counter of instruction classes} from nvdisasm / cuobjdump text."""
  counts, current = {}, None
  for line in text.splitlines():
    m = _SASS_FN.match(line)
    if m:
      current = m.group(1)
      counts.setdefault(current, collections.Counter())
      continue
    m = re.match(r'\s*Function : (\S+)', line)  # cuobjdump -sass layout
    if m:
      current = m.group(1)
      counts.setdefault(current, collections.Counter())
      continue
    if current is None:
      continue
    m = _SASS_INSN.search(line)
    if not m:
      continue
    op = m.group(1)
    base = op.split('.')[0]
    c = counts[current]
    if base == 'NOP':
      continue
    c['instructions'] += 1
    if base == 'LDG':
      c['ldg'] += 1
    if base in ('LDL', 'STL'):
      c['local'] += 1
    if base in ('RED', 'REDG', 'ATOMG', 'ATOM'):
      c['atomics'] += 1
    if base in _INT_OPS:
      c['integer'] += 1
      if '.WIDE' in op or op.endswith('.X') or '.X.' in op or '.HI.X' in op:
        c['integer_64bit'] += 1
  return counts


def disassemble(cubin):
  nvdisasm = find_tool('nvdisasm')
  if nvdisasm:
    run = subprocess.run([nvdisasm, '-c', cubin], capture_output=True, text=True)
    if run.returncode == 0:
      return run.stdout, 'nvdisasm'
  cuobjdump = find_tool('cuobjdump')
  if cuobjdump:
    run = subprocess.run([cuobjdump, '-sass', cubin], capture_output=True, text=True)
    if run.returncode == 0:
      return run.stdout, 'cuobjdump'
  return None, None


def collect(arch='sm_90', nvcc=None, keep=None, defines=()):
  """Compiles the inventory and returns (rows, sass_tool)."""
  nvcc = nvcc or find_tool('nvcc')
  if nvcc is None:
    raise RuntimeError('kernel_stats: nvcc not found (set CUDA_HOME or put nvcc on PATH)')
  workdir = keep or tempfile.mkdtemp(prefix='roi_warp_kernel_stats_')
  os.makedirs(workdir, exist_ok=True)
  cubin = os.path.join(workdir, 'kernel_inventory.cubin')
  run = subprocess.run([nvcc, '-cubin', f'-arch={arch}', *NVCC_FLAGS, f'-I{OP_DIR}',
                        *[f'-D{d}' for d in defines], SOURCE, '-o', cubin],
                       capture_output=True, text=True)
  if run.returncode != 0:
    raise RuntimeError('kernel_stats: nvcc failed:\n' + run.stderr[-4000:])
  with open(os.path.join(workdir, 'ptxas.txt'), 'w') as f:
    f.write(run.stderr)
  ptxas = parse_ptxas(run.stderr, arch)
  sass_text, tool = disassemble(cubin)
  sass = parse_sass(sass_text) if sass_text else {}
  rows = []
  for mangled, s in ptxas.items():
    row = {'kernel': short_name(mangled), 'mangled': mangled, **s}
    if mangled in sass:
      row.update({k: sass[mangled].get(k, 0) for k in
                  ('instructions', 'ldg', 'local', 'atomics', 'integer', 'integer_64bit')})
    rows.append(row)
  rows.sort(key=lambda r: r['kernel'])
  if keep is None:
    shutil.rmtree(workdir, ignore_errors=True)
  return rows, tool


def markdown(rows, arch, tool):
  cols = ['registers', 'spill_stores', 'spill_loads', 'stack_frame']
  sass_cols = ['instructions', 'ldg', 'local', 'atomics', 'integer', 'integer_64bit']
  have_sass = any('instructions' in r for r in rows)
  head = ['kernel'] + cols + (sass_cols if have_sass else [])
  lines = [f'Static kernel resources, {arch} (nvcc -O3 -fmad=false -Xptxas -v'
           + (f'; SASS by {tool}' if have_sass else '; no SASS: nvdisasm not found') + ').',
           '', '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  for r in rows:
    lines.append('| ' + ' | '.join(str(r.get(c, '-')) for c in head) + ' |')
  spilling = [f"{r['kernel']} ({r.get('spill_stores', 0)} B)" for r in rows
              if r.get('spill_stores', 0) or r.get('spill_loads', 0)]
  lines += ['', 'spills: ' + ('; '.join(spilling) if spilling else 'none')]
  return lines


def _write(path, text):
  tmp = path + '.partial'
  with open(tmp, 'w') as f:
    f.write(text)
  os.replace(tmp, path)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--arch', default='sm_90')
  parser.add_argument('--nvcc', default=None)
  parser.add_argument('--filter', default=None, help='only kernels matching this regex')
  parser.add_argument('--json', default=None)
  parser.add_argument('--markdown', default=None)
  parser.add_argument('--keep', default=None, help='keep the cubin and ptxas log here')
  args = parser.parse_args(argv)
  try:
    rows, tool = collect(args.arch, args.nvcc, args.keep)
  except RuntimeError as e:
    print(e, file=sys.stderr)
    return 1
  if args.filter:
    rows = [r for r in rows if re.search(args.filter, r['kernel'])]
  text = '\n'.join(markdown(rows, args.arch, tool)) + '\n'
  print(text, end='')
  if args.markdown:
    _write(args.markdown, text)
  if args.json:
    _write(args.json, json.dumps({'arch': args.arch, 'sass_tool': tool, 'kernels': rows},
                                 indent=1) + '\n')
  return 0


if __name__ == '__main__':
  sys.exit(main())
