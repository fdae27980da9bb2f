// Fuzzes the PROXY protocol header parser (protocols/common/proxy_header.hpp): a header is never longer than the
// bytes given or the limit, bytes after it never change the verdict, "need more" means every byte so far belongs to
// the header (so the reader may take them all), and a proxied address is one the gateway can parse back.
#include "protocols/common/proxy_header.hpp"
#include "tests/fuzz/fuzz_common.hpp"

#include <arpa/inet.h>

namespace {

namespace protocols = mailgate::protocols;
using protocols::proxy_parse_status;

bool parses_as_address(const std::string& text) {
    unsigned char binary[16];
    return inet_pton(AF_INET, text.c_str(), binary) == 1 || inet_pton(AF_INET6, text.c_str(), binary) == 1;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto whole = protocols::parse_proxy_header(bytes);
    if (whole.status == proxy_parse_status::done) {
        FUZZ_CHECK(whole.consumed > 0 && whole.consumed <= size &&
                   whole.consumed <= protocols::max_proxy_header);
        auto exact = protocols::parse_proxy_header(bytes.substr(0, whole.consumed));
        FUZZ_CHECK(exact.status == proxy_parse_status::done && exact.consumed == whole.consumed,
                   "the bytes after the header changed the verdict");
        FUZZ_CHECK(exact.header.source_address == whole.header.source_address);
        if (whole.header.proxied) {
            FUZZ_CHECK(parses_as_address(whole.header.source_address), whole.header.source_address);
            FUZZ_CHECK(parses_as_address(whole.header.destination_address));
        } else {
            FUZZ_CHECK(whole.header.source_address.empty());
        }
        // Every shorter prefix asks for more.
        for (std::size_t n = 0; n < whole.consumed; ++n)
            FUZZ_CHECK(protocols::parse_proxy_header(bytes.substr(0, n)).status ==
                           proxy_parse_status::need_more,
                       "a prefix of a valid header was refused");
    } else if (whole.status == proxy_parse_status::need_more) {
        FUZZ_CHECK(size < protocols::max_proxy_header, "asked for more past the limit");
        FUZZ_CHECK(whole.consumed == 0);
    } else {
        FUZZ_CHECK(!whole.error.empty());
        // Once refused, more bytes never make it acceptable.
        std::string longer(bytes);
        longer += "\r\n";
        FUZZ_CHECK(protocols::parse_proxy_header(longer).status == proxy_parse_status::invalid,
                   "more bytes turned a refused header into one accepted");
    }
    return 0;
}
