// Fuzzes the SMTP DATA decoder (smtp::data_decoder) against a plain model of RFC 5321 §4.5.2 with the gateway's
// rules: the data ends at the first strict <CRLF>.<CRLF>, bytes pass unchanged, a bare CR or LF anywhere
// refuses the message (SMTP smuggling, CVE-2023-51764), and refused LF-only data also ends, marked loose, at the
// first lone dot between any LF line ends after the refusal; SIZE counts as RFC 1870 does. In normalize mode a
// bare LF is a CRLF: the model is the strict one run on the input with a CR put before every bare LF. Fed in one
// piece and in fuzz-sized pieces (optionally abandoned midway), it must behave exactly as the model says.
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
    bool loose = false;
};

// Where the loose-end tracker (see data_decoder.hpp) finds a lone dot line ending in LF, scanning from `from`
// in state `line_start` (else mid-line); npos when none.
std::size_t loose_end(std::string_view in, std::size_t from, bool line_start) {
    enum { mid, start, dot, dot_cr } state = line_start ? start : mid;
    for (std::size_t j = from; j < in.size(); ++j) {
        char c = in[j];
        if (c == '\n') {
            if (state == dot || state == dot_cr) return j + 1;
            state = start;
        } else if (c == '.') {
            state = state == start ? dot : mid;
        } else if (c == '\r') {
            state = state == dot ? dot_cr : mid;
        } else {
            state = mid;
        }
    }
    return npos;
}

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
    if (why == reason::bare_line_end) {
        // The tracker starts at the refusal: after a bare LF at a line start, after a bare CR mid-line with the
        // byte that showed it. A bare LF right after a lone dot is a loose end by itself.
        bool bare_lf = in[violation] == '\n';
        std::size_t loose = npos;
        if (bare_lf && violation > 0 && in[violation - 1] == '.' &&
            (violation == 1 || in[violation - 2] == '\n'))
            loose = violation + 1;
        else
            loose = bare_lf ? loose_end(in, violation + 1, true) : loose_end(in, violation, false);
        if (loose != npos && (!found || loose < e.consumed)) {
            e.consumed = loose;
            e.loose = true;
            found = true;
        }
    }
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

// The normalize-mode model: the strict model on `in` with a CR before each bare LF, mapped back.
expectation normalized_model(std::string_view in, std::uint64_t max_size, std::size_t abandon_at) {
    std::string t;
    std::vector<std::size_t> origin; // origin[k]: how many bytes of `in` the first k bytes of t stand for
    origin.push_back(0);
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
            t += '\r';
            origin.push_back(i);
        }
        t += in[i];
        origin.push_back(i + 1);
    }
    std::size_t t_abandon = npos;
    if (abandon_at != npos) {
        t_abandon = 0;
        while (t_abandon < t.size() && origin[t_abandon + 1] <= abandon_at) ++t_abandon;
        // An inserted CR is the bare LF's: abandoning before that LF is before the CR too.
        if (t_abandon > 0 && origin[t_abandon] == origin[t_abandon - 1]) --t_abandon;
    }
    auto e = model(t, max_size, t_abandon);
    e.consumed = origin[e.consumed];
    return e;
}

std::string describe(const char* how, data_decoder::line_ends mode, std::uint64_t max_size) {
    return std::string(how) + (mode == data_decoder::line_ends::normalize ? ", normalize" : ", strict") +
           ", limit " + std::to_string(max_size);
}

struct result {
    status st = status::more;
    std::size_t consumed = 0;
    reason why = reason::none;
    std::string out;
    std::uint64_t size = 0;
    bool loose = false;
};

void check(const result& r, const expectation& e, std::string_view in, const std::string& how) {
    std::string where = how + " (model: status " + std::to_string(static_cast<int>(e.st)) + " consumed " +
                        std::to_string(e.consumed) + " reason " + std::to_string(static_cast<int>(e.why)) +
                        (e.loose ? " loose" : "") + "; decoder: status " +
                        std::to_string(static_cast<int>(r.st)) + " consumed " + std::to_string(r.consumed) +
                        " reason " + std::to_string(static_cast<int>(r.why)) + (r.loose ? " loose" : "") +
                        "), input: " + escape(in, 300);
    FUZZ_CHECK(r.st == e.st, "status differs from the model; " + where);
    FUZZ_CHECK(r.consumed == e.consumed, "end of data differs from the model: " + std::to_string(r.consumed) +
                                             " instead of " + std::to_string(e.consumed) + "; " + where);
    FUZZ_CHECK(r.why == e.why, "refusal reason differs from the model; " + where);
    FUZZ_CHECK(r.loose == e.loose, "loose end differs from the model; " + where);
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
    auto mode = (bits & 16) != 0 ? data_decoder::line_ends::normalize : data_decoder::line_ends::strict;
    std::size_t abandon_chunk = fdp.ConsumeIntegral<std::uint8_t>();

    // The data in pieces; the whole input is what the pieces add up to.
    std::vector<std::string> pieces;
    live_source live(fdp);
    for (auto piece = live.read(); !piece.empty(); piece = live.read()) pieces.push_back(std::move(piece));
    const std::string& in = live.fed();
    auto expect = [&](std::size_t abandon_at) {
        return mode == data_decoder::line_ends::normalize ? normalized_model(in, max_size, abandon_at)
                                                          : model(in, max_size, abandon_at);
    };

    // In one piece.
    {
        data_decoder d(max_size, mode);
        result r;
        r.st = d.decode(in, r.out, r.consumed);
        r.why = d.why();
        r.size = d.size();
        r.loose = d.loose_end();
        FUZZ_CHECK(r.st != status::more || r.consumed == in.size(), "more, yet not everything consumed");
        check(r, expect(npos), in, describe("one piece", mode, max_size));
    }

    // In pieces, maybe abandoned before one of them or after the last.
    {
        data_decoder d(max_size, mode);
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
        r.loose = d.loose_end();
        check(r, expect(abandon_at), in, describe("in pieces", mode, max_size));
    }
    return 0;
}
