// Uninitialised heap buffers for the big, long-lived arrays (weights made or converted in
// memory, KV caches): only the pages written are faulted in, and large ones are offered to
// the kernel as transparent huge pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace lumen {

// Frees with the alignment the buffer was allocated with.
struct LargeBufferFree {
  size_t alignment = 64;
  void operator()(uint8_t* p) const;
};
using LargeBuffer = std::unique_ptr<uint8_t[], LargeBufferFree>;

// nbytes of uninitialised memory, 64-byte aligned; from 4 MB up, 2 MB aligned and advised
// MADV_HUGEPAGE. Throws std::bad_alloc like operator new.
LargeBuffer allocate_large_buffer(size_t nbytes);

// The alignment allocate_large_buffer(nbytes) uses, for freeing a released pointer.
size_t large_buffer_alignment(size_t nbytes);

}  // namespace lumen
