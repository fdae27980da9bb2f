// Fuzzes the SMTP DATA decoder (smtp::data_decoder) against a plain model of RFC 5321 §4.5.2 with the gateway's
// rules: the data ends at the first strict <CRLF>.<CRLF> only, bytes pass unchanged, a bare CR or LF anywhere
// refuses the message (SMTP smuggling, CVE-2023-51764), SIZE counts as RFC 1870 does. Fed in one piece and in
// fuzz-sized pieces (optionally abandoned midway), it must behave exactly as the model says.
#include "protocols/smtp/data_decoder.hpp"
#include "tests/fuzz/fuzz_common.hpp"

#include <limits>

namespace {

using namespace mailgate::fuzz;
using mailgate::protocols::smtp::data_decoder;
using status = data_decoder::status;
using reason = data_decoder::reason;

constexpr std::size_t npos = std::string::npos;

struct expectation {
    status st = status::more;
    std::size_t consumed = 0;
    reason why = reason::none;
    std::string out;
    std::uint64_t size = 0; // meaningful when why == none
};

// The model. `abandon_at`: abandon() was called once this many bytes had been fed (npos: never).
expectation model(std::string_view in, std::uint64_t max_size, std::size_t abandon_at) {
    expectation e;
    // The first strict terminator, counting the CRLF that ended the DATA command line.
    std::string prefixed = "\r\n" + std::string(in);
    auto p = prefixed.find("\r\n.\r\n");
    bool found = p != npos;
    std::size_t region = found ? p : in.size(); // the message before its terminator's "."
    e.consumed = found ? p + 3 : in.size();

    // The first refusal: the index of the byte that shows it, and how much was forwarded before it.
    std::size_t violation = npos, emitted = 0;
    reason why = reason::none;
    std::uint64_t size = 0;
    bool line_start = true;
    for (std::size_t i = 0; i < region && violation == npos; ++i) {
        char c = in[i];
        if (c == '\r') {
            if (i + 1 < in.size() && in[i + 1] != '\n') { // seen bare once the next byte arrives
                violation = i + 1;
                why = reason::bare_line_end;
                emitted = i;
            }
            continue;
        }
        if (c == '\n') {
            if (i == 0 || in[i - 1] != '\r') {
                violation = i;
                why = reason::bare_line_end;
                emitted = i;
                break;
            }
            size += 2;
            line_start = true;
        } else {
            bool stuffing = line_start && c == '.'; // a dot opening a line is not message content
            line_start = false;
            if (!stuffing) ++size;
        }
        if (size > max_size) { // the byte that crosses the limit still goes out
            violation = i;
            why = reason::too_big;
            emitted = i + 1;
        }
    }
    bool abandoned = abandon_at != npos && (violation == npos || abandon_at <= violation);
    if (abandoned) {
        why = reason::abandoned;
        emitted = abandon_at > 0 && in[abandon_at - 1] == '\r' ? abandon_at - 1 : abandon_at; // a CR waits
    }
    e.why = why;
    if (why == reason::none) {
        e.st = found ? status::end : status::more;
        std::size_t n = e.consumed;
        if (!found && n > 0 && in[n - 1] == '\r') --n; // held back until its LF arrives
        e.out = std::string(in.substr(0, n));
        e.size = size;
        return e;
    }
    e.st = found ? status::rejected : status::more;
    e.out = std::string(in.substr(0, emitted));
    return e;
}

struct result {
    status st = status::more;
    std::size_t consumed = 0;
    reason why = reason::none;
    std::string out;
    std::uint64_t size = 0;
};

void check(const result& r, const expectation& e, std::string_view in, const char* how) {
    std::string where = std::string(how) + ", input: " + escape(in, 300);
    FUZZ_CHECK(r.st == e.st, "status differs from the model; " + where);
    FUZZ_CHECK(r.consumed == e.consumed, "end of data differs from the model: " + std::to_string(r.consumed) +
                                             " instead of " + std::to_string(e.consumed) + "; " + where);
    FUZZ_CHECK(r.why == e.why, "refusal reason differs from the model; " + where);
    FUZZ_CHECK(r.out == e.out, "forwarded bytes differ from the model: " + escape(r.out, 200) + "; " + where);
    if (e.why == reason::none) FUZZ_CHECK(r.size == e.size, "SIZE count differs from the model; " + where);
    // What the provider sees: strict line ends, and an end of data only at the very end, if at all.
    FUZZ_CHECK(strict_line_ends(r.out), "a bare CR or LF forwarded; " + where);
    auto terminator = ("\r\n" + r.out).find("\r\n.\r\n");
    if (r.st == status::end)
        FUZZ_CHECK(terminator == r.out.size() - 3, "forwarded data ends anywhere but at its end; " + where);
    else
        FUZZ_CHECK(terminator == npos, "forwarded data holds an end of data; " + where);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    static constexpr std::uint64_t limits[] = {
        std::numeric_limits<std::uint64_t>::max(), 50ull * 1024 * 1024, 0, 1, 7, 64, 300, 4096};
    auto bits = fdp.ConsumeIntegral<std::uint8_t>();
    std::uint64_t max_size = limits[bits & 7];
    bool abandon = (bits & 8) != 0;
    std::size_t abandon_chunk = fdp.ConsumeIntegral<std::uint8_t>();

    // The data in pieces; the whole input is what the pieces add up to.
    std::vector<std::string> pieces;
    live_source live(fdp);
    for (auto piece = live.read(); !piece.empty(); piece = live.read()) pieces.push_back(std::move(piece));
    const std::string& in = live.fed();

    // In one piece.
    {
        data_decoder d(max_size);
        result r;
        r.st = d.decode(in, r.out, r.consumed);
        r.why = d.why();
        r.size = d.size();
        FUZZ_CHECK(r.st != status::more || r.consumed == in.size(), "more, yet not everything consumed");
        check(r, model(in, max_size, npos), in, "one piece");
    }

    // In pieces, maybe abandoned before one of them or after the last.
    {
        data_decoder d(max_size);
        result r;
        std::size_t offset = 0, abandon_at = npos;
        std::size_t abandon_before = abandon ? abandon_chunk % (pieces.size() + 1) : npos;
        for (std::size_t i = 0;; ++i) {
            if (i == abandon_before) {
                d.abandon();
                FUZZ_CHECK(d.discarding());
                abandon_at = offset;
            }
            if (i == pieces.size()) break;
            std::size_t consumed = 0;
            auto st = d.decode(pieces[i], r.out, consumed);
            FUZZ_CHECK(consumed <= pieces[i].size());
            offset += consumed;
            if (st != status::more) {
                r.st = st;
                break;
            }
            FUZZ_CHECK(consumed == pieces[i].size(), "more, yet not everything consumed");
        }
        r.consumed = offset;
        r.why = d.why();
        r.size = d.size();
        check(r, model(in, max_size, abandon_at), in, "in pieces");
    }
    return 0;
}
