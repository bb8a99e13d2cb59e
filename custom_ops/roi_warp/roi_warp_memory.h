// Memory advice for the op's large CPU buffers.
//
// On a virtual machine a first write to a fresh 4 KiB page costs a page fault
// that is far dearer than the write itself: measured on the project's CI-class
// VM (AMD EPYC, 2 vCPU, KVM), filling 120 MB of fresh memory took ~135 ms with
// 4 KiB pages and ~15 ms with 2 MiB pages, against ~10 ms for memory already
// mapped.  The VGG-16 forward writes 150 MB (output + argmax) into buffers
// TensorFlow has just allocated (large blocks come straight from mmap), so its
// time was mostly page faults.  AdviseHugePages asks the kernel for
// transparent huge pages on the 2 MiB-aligned interior of such a buffer
// before the first write.  It is only a hint: the contents, the addresses and
// the results do not change; with THP disabled (or off Linux) it does nothing.
#ifndef MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_MEMORY_H_
#define MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_MEMORY_H_

#include <cstddef>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace mnc_tf {
namespace roi_warp {

constexpr std::size_t kHugePage = std::size_t(2) << 20;

// Advises huge pages for the whole 2 MiB pages inside [data, data + bytes).
// Buffers under two huge pages are left alone.  Returns true if advice was
// given and accepted.
inline bool AdviseHugePages(void* data, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (data == nullptr || bytes < 2 * kHugePage) return false;
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t last = (begin + bytes) & ~(kHugePage - 1);
  if (last <= first) return false;
  return madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE) == 0;
#else
  (void)data;
  (void)bytes;
  return false;
#endif
}

}  // namespace roi_warp
}  // namespace mnc_tf

#endif  // MNC_TF_CUSTOM_OPS_ROI_WARP_ROI_WARP_MEMORY_H_
