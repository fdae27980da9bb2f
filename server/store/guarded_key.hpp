// The master key in memory of its own: a page excluded from core dumps (MADV_DONTDUMP) and, where allowed, locked
// out of swap, wiped when released. The process is non-dumpable already; this still holds if an admin re-enables
// dumps or a debugger writes a core.
#pragma once

#include "server/store/crypto.hpp"

namespace mailgate::store {

class guarded_key {
public:
    // Copies `key` into the guarded page and wipes `key`.
    explicit guarded_key(master_key&& key);
    guarded_key(const guarded_key&) = delete;
    guarded_key& operator=(const guarded_key&) = delete;
    ~guarded_key();

    const master_key& get() const { return *key_; }

private:
    void* page_ = nullptr;
    master_key* key_ = nullptr;
};

} // namespace mailgate::store
