// Wiping credentials out of memory once a codec is done with them: one helper for every protocol, and a
// string type for the credentials a codec keeps, wiped when replaced, cleared, moved from or destroyed.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::protocols {

// Overwrites `size` bytes at `data` with zeros through a volatile pointer, so the compiler cannot drop the
// stores as dead (why OPENSSL_cleanse and explicit_bzero exist; protocols/ must not depend on OpenSSL).
void secure_wipe(void* data, std::size_t size) noexcept;

// Overwrites the whole buffer of `s` - its capacity, not just its size: a moved-from or shrunk string keeps
// old bytes past its end (small-string buffers included) - then empties it. The capacity is kept.
void wipe(std::string& s) noexcept;
// Hands memory back only after wiping it: for containers whose elements may hold credentials, so that growing
// them (which moves the elements and frees the old storage) leaves no copy behind in the heap.
template <class T> struct wiping_allocator {
    using value_type = T;
    wiping_allocator() = default;
    template <class U> wiping_allocator(const wiping_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
        secure_wipe(p, n * sizeof(T));
        std::allocator<T>{}.deallocate(p, n);
    }
    template <class U> bool operator==(const wiping_allocator<U>&) const noexcept { return true; }
};

// Strings that may hold credentials (command segments, literals, pieces waiting to be sent).
using secret_strings = std::vector<std::string, wiping_allocator<std::string>>;

// Wipes every element (see above), then empties the vector.
template <class Allocator> void wipe(std::vector<std::string, Allocator>& v) noexcept {
    for (auto& s : v) wipe(s);
    v.clear();
}

// Appends `bytes` to `out` without leaving a copy behind: when `out` must grow, the old buffer is wiped
// before it is freed (a plain append would hand it back to the heap with its contents).
void append_wiping(std::string& out, std::string_view bytes);

// A credential held by a codec. Never copied implicitly; every buffer it gives up is wiped first.
class secret_string {
public:
    secret_string() = default;
    explicit secret_string(std::string_view value) { assign(value); }
    secret_string(const secret_string&) = delete;
    secret_string& operator=(const secret_string&) = delete;
    secret_string(secret_string&& other) noexcept : value_(std::move(other.value_)) { wipe(other.value_); }
    secret_string& operator=(secret_string&& other) noexcept;
    ~secret_string() { wipe(value_); }

    void assign(std::string_view value);
    void clear() noexcept { wipe(value_); }
    bool empty() const noexcept { return value_.empty(); }
    std::size_t size() const noexcept { return value_.size(); }
    const std::string& str() const noexcept { return value_; }
    operator std::string_view() const noexcept { return value_; }

private:
    std::string value_;
};

} // namespace mailgate::protocols
