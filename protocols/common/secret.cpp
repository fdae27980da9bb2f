// Credential wiping shared by the codecs.
#include "protocols/common/secret.hpp"

#include <algorithm>

namespace mailgate::protocols {

void secure_wipe(void* data, std::size_t size) noexcept {
    auto* p = static_cast<volatile unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) p[i] = 0;
}

void wipe(std::string& s) noexcept {
    // resize() up to the capacity never allocates; it makes the bytes past the end part of the string, so the
    // wipe below touches only memory the string owns.
    s.resize(s.capacity());
    secure_wipe(s.data(), s.size());
    s.clear();
}

void append_wiping(std::string& out, std::string_view bytes) {
    if (out.size() + bytes.size() <= out.capacity()) {
        out.append(bytes);
        return;
    }
    std::string grown;
    grown.reserve(std::max(out.capacity() * 2, out.size() + bytes.size()));
    grown.append(out);
    grown.append(bytes);
    wipe(out);
    out.swap(grown); // the wiped buffer goes with `grown`
}

secret_string& secret_string::operator=(secret_string&& other) noexcept {
    if (this != &other) {
        wipe(value_);
        value_.swap(other.value_);
        wipe(other.value_);
    }
    return *this;
}

void secret_string::assign(std::string_view value) {
    wipe(value_);
    value_.reserve(value.size()); // from an empty string: at most one allocation, nothing old to leak
    value_.assign(value);
}

} // namespace mailgate::protocols
