// Fuzzes SASL PLAIN, LOGIN and CRAM-MD5 (sasl::server_exchange, the client's sasl::plain_initial_response) and the strict
// base64 under them: the server side on client lines, the client encoding read back by the server side, and
// base64 round trips (only canonical encodings decode, RFC 4648 §3.5).
#include "protocols/common/base64.hpp"
#include "protocols/sasl/client_mechanisms.hpp"
#include "protocols/sasl/server_exchange.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace {

using namespace mailgate::fuzz;
namespace sasl = mailgate::protocols::sasl;
using mailgate::protocols::base64_decode;
using mailgate::protocols::base64_encode;
using result = sasl::server_exchange::result;

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// The credential the server side took must be exactly what a client encoding it would have sent.
void check_done(const sasl::server_exchange& x) {
    FUZZ_CHECK(!x.user().empty(), "done without a user");
    FUZZ_CHECK(!has_nul(x.user()) && !has_nul(x.password()), "NUL in a credential");
    auto response = sasl::plain_initial_response(x.user(), x.password());
    FUZZ_CHECK(response.has_value());
    sasl::server_exchange again;
    FUZZ_CHECK(again.start(sasl::mechanism::plain, *response) == result::done);
    FUZZ_CHECK(again.user() == x.user() && again.password() == x.password(), "PLAIN does not read back");
    if (x.proof().kind == mailgate::protocols::proof_kind::cram_md5) {
        FUZZ_CHECK(mailgate::protocols::md5_digest_text(x.password()).value_or("") == x.password(),
                   "a CRAM-MD5 answer that is not a lower-case MD5 digest");
        FUZZ_CHECK(x.proof().challenge == "<f1.2@gw>", "a CRAM-MD5 answer tied to another challenge");
    }
}

void check_step(const sasl::server_exchange& x, result r) {
    switch (r) {
    case result::challenge:
        FUZZ_CHECK(base64_decode(x.challenge()).has_value(),
                   "a challenge that is not base64: " + x.challenge());
        FUZZ_CHECK(x.password().empty(), "a password held before the exchange is done");
        return;
    case result::done: return check_done(x);
    case result::failed:
    case result::cancelled:
        // A refused exchange leaves no credential behind.
        FUZZ_CHECK(x.user().empty() && x.password().empty(), "a credential left after a refused exchange");
        return;
    }
}

// The server side on client lines: mechanism, optional initial response, then one response per line.
void server_side(FuzzedDataProvider& fdp) {
    while (fdp.remaining_bytes() > 0) {
        sasl::server_exchange x;
        auto bits = fdp.ConsumeIntegral<std::uint8_t>();
        auto m = (bits & 4)   ? sasl::mechanism::cram_md5
                 : (bits & 1) ? sasl::mechanism::login
                              : sasl::mechanism::plain;
        std::optional<std::string> initial;
        if (bits & 2) initial = fdp.ConsumeRandomLengthString(200);
        auto r = x.start(m, initial, "<f1.2@gw>");
        check_step(x, r);
        for (int steps = 0; r == result::challenge && steps < 4 && fdp.remaining_bytes() > 0; ++steps) {
            r = x.step(fdp.ConsumeRandomLengthString(200));
            check_step(x, r);
        }
    }
}

// The client's encoding read back by the server side, for both mechanisms.
void client_to_server(FuzzedDataProvider& fdp) {
    auto user = fdp.ConsumeRandomLengthString(100);
    auto secret = fdp.ConsumeRemainingBytesAsString();
    bool nul = has_nul(user) || has_nul(secret);
    auto response = sasl::plain_initial_response(user, secret);
    FUZZ_CHECK(response.has_value() == !nul, "PLAIN refuses exactly what it cannot carry (NUL)");
    if (response) {
        sasl::server_exchange x;
        auto r = x.start(sasl::mechanism::plain, *response);
        check_step(x, r);
        FUZZ_CHECK(r == (user.empty() ? result::failed : result::done));
        if (r == result::done) FUZZ_CHECK(x.user() == user && x.password() == secret);
    }
    sasl::server_exchange x;
    auto r = x.start(sasl::mechanism::login, base64_encode(user));
    check_step(x, r);
    if (user.empty() || has_nul(user)) {
        FUZZ_CHECK(r == result::failed);
        return;
    }
    FUZZ_CHECK(r == result::challenge);
    r = x.step(base64_encode(secret));
    check_step(x, r);
    FUZZ_CHECK(r == (has_nul(secret) ? result::failed : result::done));
    if (r == result::done) FUZZ_CHECK(x.user() == user && x.password() == secret);
}

void base64_round_trips(FuzzedDataProvider& fdp) {
    auto text = fdp.ConsumeRemainingBytesAsString();
    if (auto decoded = base64_decode(text))
        FUZZ_CHECK(base64_encode(*decoded) == text, "a non-canonical encoding decoded: " + text);
    auto encoded = base64_encode(text);
    FUZZ_CHECK(encoded.size() == (text.size() + 2) / 3 * 4);
    auto back = base64_decode(encoded);
    FUZZ_CHECK(back && *back == text, "base64 does not round-trip");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    switch (fdp.ConsumeIntegral<std::uint8_t>() % 3) {
    case 0: server_side(fdp); break;
    case 1: client_to_server(fdp); break;
    case 2: base64_round_trips(fdp); break;
    }
    return 0;
}
