// Bytes the allocator has handed out and not taken back (glibc's mallinfo2), for /metrics and the memory benches.
#pragma once

#include <malloc.h>

#include <cstdint>
#include <string>

namespace mailgate {

inline std::uint64_t heap_in_use_bytes() { return mallinfo2().uordblks; }

inline std::string heap_metrics() {
    return "# HELP mailgate_heap_in_use_bytes Heap bytes allocated and not freed (glibc mallinfo2).\n"
           "# TYPE mailgate_heap_in_use_bytes gauge\nmailgate_heap_in_use_bytes " +
           std::to_string(heap_in_use_bytes()) + "\n";
}

} // namespace mailgate
