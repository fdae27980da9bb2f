// Client byte intake for the server codecs.
#include "protocols/common/client_input.hpp"

namespace mailgate::protocols {

bool client_input::receive(std::string_view bytes, bool tls_active) {
    if (bytes.empty()) {
        eof_ = true;
        return true;
    }
    // A TLS record (0x16 = handshake) as the very first byte of a plaintext connection.
    bool handshake = first_ && !tls_active && static_cast<unsigned char>(bytes[0]) == 0x16;
    first_ = false;
    if (handshake) return false;
    if (skipping_) {
        auto lf = bytes.find('\n');
        if (lf == std::string_view::npos) return true;
        skipping_ = false;
        bytes.remove_prefix(lf + 1);
    }
    lines_.append(bytes);
    return true;
}

std::string client_input::take_pipelined() {
    std::string rest(lines_.rest());
    lines_.clear();
    return rest;
}

} // namespace mailgate::protocols
