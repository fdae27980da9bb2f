// Fuzzes the SMTP command and path parsers (smtp::parse_command, parse_path, serialize): what the gateway
// re-serializes toward the provider must be safe to put on a command line and must parse back unchanged.
#include "protocols/smtp/command.hpp"
#include "tests/fuzz/fuzz_common.hpp"

#include <algorithm>

namespace {

using namespace mailgate::fuzz;
namespace smtp = mailgate::protocols::smtp;

bool same(const smtp::mail_path& a, const smtp::mail_path& b) {
    if (a.address != b.address || a.parameters.size() != b.parameters.size()) return false;
    for (std::size_t i = 0; i < a.parameters.size(); ++i) {
        const auto& p = a.parameters[i];
        const auto& q = b.parameters[i];
        if (p.keyword != q.keyword || p.value != q.value || p.has_value != q.has_value) return false;
    }
    return true;
}

void check_path(std::string_view argument, std::string_view prefix) {
    auto path = smtp::parse_path(argument, prefix);
    if (!path) return;
    // Nothing that could end or split the command line, or change how the provider reads the path.
    for (unsigned char c : path->address)
        FUZZ_CHECK(c > 0x20 && c != 0x7f && c != '<' && c != '>',
                   "unsafe address byte: " + std::string(argument));
    FUZZ_CHECK(path->address.size() <= 254, std::string(argument));
    for (const auto& p : path->parameters) {
        FUZZ_CHECK(!p.keyword.empty() && std::all_of(p.keyword.begin(), p.keyword.end(),
                                                     [](char c) {
                                                         return (c >= 'A' && c <= 'Z') ||
                                                                (c >= '0' && c <= '9') || c == '-';
                                                     }),
                   "bad parameter keyword: " + std::string(argument));
        FUZZ_CHECK(p.has_value || p.value.empty());
        for (unsigned char c : p.value)
            FUZZ_CHECK(c > 0x20 && c != 0x7f && c != '=', "unsafe parameter value: " + std::string(argument));
    }
    auto line = smtp::serialize(*path);
    FUZZ_CHECK(line.size() <= argument.size(), "serialized longer than parsed: " + line);
    for (unsigned char c : line) FUZZ_CHECK(c >= 0x20 && c != 0x7f, "control byte serialized: " + line);
    auto again = smtp::parse_path(std::string(prefix) + line, prefix);
    FUZZ_CHECK(again && same(*path, *again), "the serialized path does not parse back the same: " + line);
    FUZZ_CHECK(smtp::serialize(*again) == line, "serializing is not stable: " + line);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view line(reinterpret_cast<const char*>(data), size);
    auto c = smtp::parse_command(line);
    FUZZ_CHECK(std::none_of(c.verb.begin(), c.verb.end(), [](char x) { return x >= 'a' && x <= 'z'; }),
               "verb not upper-cased");
    FUZZ_CHECK(c.verb.size() + (c.argument.empty() ? 0 : c.argument.size() + 1) <= size);
    check_path(c.argument, "FROM:");
    check_path(c.argument, "TO:");
    check_path(line, "FROM:");
    return 0;
}
