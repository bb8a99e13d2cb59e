// A CPU emulation of the small part of CUDA that the RoI-warp kernels and the
// harness use, so that the very kernel code can be executed and checked on a
// machine without a GPU (build: `make -C custom_ops/cuda_harness emulated`,
// force-included with -DMNC_ROI_WARP_CUDA_EMULATION).
//
// Each block runs its threads as cooperative fibers (ucontext) on one OS
// thread: a thread runs until it finishes or reaches __syncthreads() or a
// warp shuffle, and a barrier is released only when every thread of the block
// (every lane of the warp) has reached it; a barrier that can never be
// released (divergent __syncthreads, a shuffle with a lane missing) aborts
// with a message.  Blocks run one after another; "device" memory is host
// memory.  This checks indexing, bounds, reductions and barrier use; it says
// nothing about speed, and since threads never run truly in parallel it
// cannot find data races (that is compute-sanitizer racecheck's job on a GPU).
#ifndef MNC_TF_CUSTOM_OPS_CUDA_HARNESS_CUDA_EMULATION_H_
#define MNC_TF_CUSTOM_OPS_CUDA_HARNESS_CUDA_EMULATION_H_

#include <ucontext.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
};
struct int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned int x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline int2 make_int2(int x, int y) { return int2{x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }
inline uint2 make_uint2(unsigned int x, unsigned int y) { return uint2{x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, sizeof(f));
  return f;
}

enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };
using cudaStream_t = struct EmulatedStream*;
using cudaEvent_t = std::chrono::steady_clock::time_point*;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount };
constexpr unsigned int cudaStreamNonBlocking = 1;
struct cudaDeviceProp {
  char name[256];
  int major, minor, multiProcessorCount;
};

namespace cuda_emulation {

// Multiprocessors reported to the launchers: few, so that grid-stride loops
// take several turns even on small inputs.
constexpr int kEmulatedSms = 2;
constexpr size_t kFiberStack = 64 * 1024;  // kernels use a few hundred bytes

enum class FiberState { kRunnable, kAtBlockBarrier, kAtWarpBarrier, kDone };

struct BlockRun {
  ucontext_t scheduler;
  std::vector<ucontext_t> contexts;
  std::vector<FiberState> states;
  std::unique_ptr<char[]> stacks;  // uninitialised: no page touched up front
  std::function<void()> body;
  int current = 0;
  std::vector<float> shuffle_slots;  // one per thread
};

inline BlockRun*& Current() {
  static BlockRun* run = nullptr;
  return run;
}
inline dim3& ThreadIdx() { static dim3 v; return v; }
inline dim3& BlockIdx() { static dim3 v; return v; }
inline dim3& BlockDim() { static dim3 v; return v; }
inline dim3& GridDim() { static dim3 v; return v; }

[[noreturn]] inline void Fail(const char* message) {
  std::fprintf(stderr, "cuda_emulation: %s\n", message);
  std::abort();
}

inline void FiberEntry() {
  BlockRun* run = Current();
  run->body();
  run->states[run->current] = FiberState::kDone;
  // returning resumes run->scheduler through uc_link
}

// Parks the current thread in `state` until the scheduler releases it.
inline void Wait(FiberState state) {
  BlockRun* run = Current();
  if (run == nullptr) Fail("barrier outside a kernel");
  const int me = run->current;
  run->states[me] = state;
  swapcontext(&run->contexts[me], &run->scheduler);
}

// Runs every thread of one block to completion, releasing barriers.
inline void RunBlock(BlockRun* run, int threads) {
  for (;;) {
    bool ran = false;
    for (int t = 0; t < threads; ++t) {
      if (run->states[t] != FiberState::kRunnable) continue;
      run->current = t;
      ThreadIdx().x = static_cast<unsigned int>(t);
      swapcontext(&run->scheduler, &run->contexts[t]);
      ran = true;
    }
    int done = 0, at_block = 0;
    for (int t = 0; t < threads; ++t) {
      done += run->states[t] == FiberState::kDone;
      at_block += run->states[t] == FiberState::kAtBlockBarrier;
    }
    if (done == threads) return;
    bool released = false;
    for (int w = 0; w * 32 < threads; ++w) {  // a warp barrier needs all 32 lanes
      const int lo = w * 32, hi = std::min(threads, lo + 32);
      bool all = true;
      for (int t = lo; t < hi; ++t) all &= run->states[t] == FiberState::kAtWarpBarrier;
      if (all) {
        for (int t = lo; t < hi; ++t) run->states[t] = FiberState::kRunnable;
        released = true;
      }
    }
    if (at_block == threads) {
      for (int t = 0; t < threads; ++t) run->states[t] = FiberState::kRunnable;
      released = true;
    }
    if (!ran && !released) {
      Fail("deadlock: a barrier can never be released (divergent __syncthreads or "
           "a warp shuffle with missing lanes)");
    }
  }
}

template <typename... Params>
cudaError_t Launch(void (*kernel)(Params...), int blocks, int threads, cudaStream_t,
                   Params... args) {
  if (blocks < 1 || threads < 1 || threads > 1024 || threads % 32 != 0) {
    return cudaErrorInvalidValue;
  }
  BlockRun run;
  run.body = [&] { kernel(args...); };
  run.contexts.resize(threads);
  run.states.resize(threads);
  run.stacks.reset(new char[static_cast<size_t>(threads) * kFiberStack]);
  run.shuffle_slots.resize(threads);
  BlockDim().x = static_cast<unsigned int>(threads);
  GridDim().x = static_cast<unsigned int>(blocks);
  Current() = &run;
  for (int b = 0; b < blocks; ++b) {
    BlockIdx().x = static_cast<unsigned int>(b);
    for (int t = 0; t < threads; ++t) {
      ucontext_t& ctx = run.contexts[t];
      getcontext(&ctx);
      ctx.uc_stack.ss_sp = run.stacks.get() + static_cast<size_t>(t) * kFiberStack;
      ctx.uc_stack.ss_size = kFiberStack;
      ctx.uc_link = &run.scheduler;
      makecontext(&ctx, FiberEntry, 0);
      run.states[t] = FiberState::kRunnable;
    }
    RunBlock(&run, threads);
  }
  Current() = nullptr;
  return cudaSuccess;
}

}  // namespace cuda_emulation

#define threadIdx (::cuda_emulation::ThreadIdx())
#define blockIdx (::cuda_emulation::BlockIdx())
#define blockDim (::cuda_emulation::BlockDim())
#define gridDim (::cuda_emulation::GridDim())

inline void __syncthreads() { cuda_emulation::Wait(cuda_emulation::FiberState::kAtBlockBarrier); }

inline float __shfl_down_sync(unsigned int mask, float v, unsigned int offset) {
  if (mask != 0xffffffffu) cuda_emulation::Fail("only full-warp shuffles are emulated");
  cuda_emulation::BlockRun* run = cuda_emulation::Current();
  const int me = run->current;
  const int lane = me % 32;
  run->shuffle_slots[me] = v;
  cuda_emulation::Wait(cuda_emulation::FiberState::kAtWarpBarrier);  // all lanes wrote
  const float r = lane + static_cast<int>(offset) < 32 ? run->shuffle_slots[me + offset] : v;
  cuda_emulation::Wait(cuda_emulation::FiberState::kAtWarpBarrier);  // all lanes read
  return r;
}

template <typename T>
inline T __ldg(const T* p) { return *p; }

namespace cuda_emulation {
// Float atomic adds issued by the kernels (the harness reads them to report
// atomics per output element): `ops` atomic instructions, `elements` floats
// updated (a float4 atomic is one op, four elements).
struct AtomicCounts {
  uint64_t ops = 0;
  uint64_t elements = 0;
};
inline AtomicCounts& FloatAtomics() {
  static AtomicCounts counts;
  return counts;
}
}  // namespace cuda_emulation

inline float atomicAdd(float* p, float v) {
  ++cuda_emulation::FloatAtomics().ops;
  ++cuda_emulation::FloatAtomics().elements;
  const float old = *p;
  *p = old + v;
  return old;
}
inline float4 atomicAdd(float4* p, float4 v) {  // sm_90 vector atomic
  ++cuda_emulation::FloatAtomics().ops;
  cuda_emulation::FloatAtomics().elements += 4;
  const float4 old = *p;
  *p = make_float4(old.x + v.x, old.y + v.y, old.z + v.z, old.w + v.w);
  return old;
}
inline unsigned int atomicOr(unsigned int* p, unsigned int v) { const unsigned int old = *p; *p |= v; return old; }
inline int __ffs(int x) { return __builtin_ffs(x); }  // 1 + index of the lowest set bit, 0 if none
inline int atomicMin(int* p, int v) { const int old = *p; *p = std::min(old, v); return old; }
inline int atomicMax(int* p, int v) { const int old = *p; *p = std::max(old, v); return old; }

// Host API.
inline const char* cudaGetErrorString(cudaError_t e) {
  return e == cudaSuccess ? "no error" : "emulated CUDA error";
}
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
template <typename T>
inline cudaError_t cudaMalloc(T** p, size_t bytes) {
  // Exact size (16-byte aligned), so AddressSanitizer builds see any overrun.
  *p = static_cast<T*>(std::malloc(std::max<size_t>(bytes, 1)));
  if (*p == nullptr) return cudaErrorMemoryAllocation;
  std::memset(static_cast<void*>(*p), 0xA5, bytes);  // garbage, like real cudaMalloc
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes) std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  std::memset(p, value, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) {
  return cudaMemset(p, value, bytes);
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) { *s = nullptr; return cudaSuccess; }
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = new std::chrono::steady_clock::time_point(); return cudaSuccess; }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) { *e = std::chrono::steady_clock::now(); return cudaSuccess; }
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(*b - *a).count();
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) {
  *v = cuda_emulation::kEmulatedSms;
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::snprintf(p->name, sizeof(p->name), "CPU emulation (not a GPU)");
  p->major = 0;
  p->minor = 0;
  p->multiProcessorCount = cuda_emulation::kEmulatedSms;
  return cudaSuccess;
}
inline cudaError_t cudaRuntimeGetVersion(int* v) { *v = 0; return cudaSuccess; }
inline cudaError_t cudaDriverGetVersion(int* v) { *v = 0; return cudaSuccess; }

#endif  // MNC_TF_CUSTOM_OPS_CUDA_HARNESS_CUDA_EMULATION_H_
