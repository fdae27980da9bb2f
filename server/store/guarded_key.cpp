// mmap'd, dump-excluded storage for the master key.
#include "server/store/guarded_key.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>
#include <stdexcept>

namespace mailgate::store {
namespace {

std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

void cleanse(void* p, std::size_t n) {
    auto* v = static_cast<volatile unsigned char*>(p);
    while (n--) *v++ = 0;
}

} // namespace

guarded_key::guarded_key(master_key&& key) {
    page_ = ::mmap(nullptr, page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page_ == MAP_FAILED) throw std::runtime_error("cannot allocate memory for the master key");
    ::madvise(page_, page_size(), MADV_DONTDUMP);
    ::mlock(page_,
            page_size()); // best effort: RLIMIT_MEMLOCK may forbid it, and then swap is the admin's choice
    key_ = new (page_) master_key(key);
    cleanse(key.data(), key.size());
}

guarded_key::~guarded_key() {
    if (!page_) return;
    cleanse(page_, page_size());
    ::munlock(page_, page_size());
    ::munmap(page_, page_size());
}

} // namespace mailgate::store
