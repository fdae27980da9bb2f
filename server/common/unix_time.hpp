// Wall-clock time as the store keeps it: whole seconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>

namespace mailgate {

inline std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace mailgate
