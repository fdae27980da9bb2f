// Fuzzes the IMAP command reader (imap::command_reader over a line_buffer): commands with literals in
// fuzz-sized reads must give the same results as in one read, stay within the size limit, and tokenize to
// arguments that survive the gateway's own encoding (imap::encode_command) unchanged.
#include "protocols/common/ascii.hpp"
#include "protocols/common/line_buffer.hpp"
#include "protocols/imap/command_reader.hpp"
#include "protocols/imap/string_encoding.hpp"
#include "tests/fuzz/fuzz_common.hpp"

#include <optional>

namespace {

using namespace mailgate::fuzz;
namespace imap = mailgate::protocols::imap;
using mailgate::protocols::line_buffer;
using status = imap::command_reader::status;

const char* status_name(status s) {
    switch (s) {
    case status::need_more: return "need_more";
    case status::complete: return "complete";
    case status::send_continuation: return "send_continuation";
    case status::too_long: return "too_long";
    case status::bad_literal: return "bad_literal";
    case status::bare_lf: return "bare_lf";
    }
    return "?";
}

// Encodes `args` as the gateway does toward a provider and reads them back: they must come out unchanged.
void check_round_trip(const std::vector<std::string>& args, bool literal_plus) {
    std::vector<std::string_view> views(args.begin(), args.end());
    auto pieces = imap::encode_command("t1 X", views, literal_plus);
    if (!pieces) {
        bool has_nul = false;
        for (const auto& a : args) has_nul = has_nul || a.find('\0') != std::string::npos;
        FUZZ_CHECK(has_nul, "encode_command refused arguments without NUL");
        return;
    }
    std::size_t total = 0;
    for (const auto& p : *pieces) total += p.size();
    line_buffer input(total + 2);
    imap::command_reader reader(total + 2);
    for (std::size_t i = 0; i < pieces->size(); ++i) {
        input.append((*pieces)[i]);
        auto s = reader.next(input);
        if (i + 1 < pieces->size()) {
            FUZZ_CHECK(s == status::send_continuation, std::string("a synchronizing literal expected, got ") +
                                                           status_name(s) + ": " + (*pieces)[i]);
            s = reader.next(input);
            FUZZ_CHECK(s == status::need_more, status_name(s));
            continue;
        }
        FUZZ_CHECK(s == status::complete, std::string("the encoded command did not read back: ") +
                                              status_name(s) + ": " + (*pieces)[i]);
    }
    const auto& c = reader.current();
    FUZZ_CHECK(c.tag == "t1" && c.name == "X" && c.args_valid, (*pieces)[0]);
    FUZZ_CHECK(c.args == args, "arguments changed through encode_command: " + (*pieces)[0]);
}

struct reader_run {
    std::size_t max_command;
    bool round_trip;
    bool literal_plus;

    trace operator()(source& src) const {
        trace t;
        line_buffer input(max_command + 2); // as imap::server sets it up
        imap::command_reader reader(max_command);
        std::size_t appended = 0;
        std::size_t consumed_before = 0; // input consumed before the current command
        std::optional<std::pair<std::string, std::string>> head;
        for (;;) {
            auto s = reader.next(input);
            std::size_t consumed = appended - input.buffered();
            switch (s) {
            case status::need_more: {
                auto bytes = src.read();
                if (bytes.empty()) return t;
                appended += bytes.size();
                input.append(bytes);
                continue;
            }
            case status::send_continuation:
                FUZZ_CHECK(consumed - consumed_before <= max_command, "a literal accepted beyond the limit");
                if (!head) head = reader.head();
                FUZZ_CHECK(reader.head() == *head, "the command's head changed between literals");
                t.event("continue", head->first + ' ' + head->second);
                continue;
            case status::complete: {
                const auto& c = reader.current();
                FUZZ_CHECK(consumed - consumed_before <= max_command,
                           "a command of " + std::to_string(consumed - consumed_before) +
                               " bytes over the limit");
                if (head)
                    FUZZ_CHECK(head->first == c.tag && head->second == c.name,
                               "head() and the command differ");
                FUZZ_CHECK(mailgate::protocols::ascii_upper(c.name) == c.name,
                           "command name not upper-cased");
                t.event("command", c.tag + '\0' + c.name + '\0' + (c.args_valid ? "valid" : "invalid"));
                for (const auto& a : c.args) t.event("arg", a);
                if (round_trip && c.args_valid) check_round_trip(c.args, literal_plus);
                reader.reset();
                head.reset();
                consumed_before = consumed;
                continue;
            }
            case status::too_long:
            case status::bad_literal:
            case status::bare_lf: t.event(status_name(s)); return t;
            }
        }
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    auto bits = fdp.ConsumeIntegral<std::uint8_t>();
    static constexpr std::size_t limits[] = {64 * 1024, 16, 100, 1000};
    reader_run run{
        .max_command = limits[bits & 3], .round_trip = (bits & 4) == 0, .literal_plus = (bits & 8) != 0};
    live_source live(fdp);
    trace in_reads = run(live);
    replay_source whole(live);
    check_same_trace(in_reads, run(whole), "the same command bytes in other reads were read differently");
    return 0;
}
