// Shared by the OAuth2 bearer login tests of the POP3, IMAP and SMTP client codecs: credentials, tokens, the
// SASL messages spelled out from their specifications, and the check that no part of a token is shown.
#pragma once

#include "protocols/common/base64.hpp"
#include "protocols/common/upstream_codec.hpp"
#include "tests/protocols/transcript.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::test {

using protocols::bearer_mechanism;

inline protocols::upstream_credentials bearer(std::string user, std::string token,
                                              bearer_mechanism mechanism = bearer_mechanism::xoauth2,
                                              std::string host = {}, std::uint16_t port = 0) {
    return {.user = std::move(user),
            .secret = std::move(token),
            .kind = protocols::credential_kind::bearer,
            .mechanism = mechanism,
            .host = std::move(host),
            .port = port};
}

// A token of `size` bytes in the RFC 6750 b64token alphabet, pseudo-random so that no 8-byte run of it
// repeats by accident (a leak anywhere in it shows) - real ones are 1.5-3 KB.
inline std::string token_of(std::size_t size, std::uint32_t seed = 1) {
    constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    std::string token = "ya29.";
    std::uint32_t x = seed * 2654435761u + 12345u;
    while (token.size() < size) {
        x = x * 1664525u + 1013904223u; // Numerical Recipes LCG: deterministic across platforms
        token += alphabet[(x >> 24) % alphabet.size()];
    }
    token.resize(size);
    return token;
}

// The XOAUTH2 message as Google and Microsoft document it, in base64.
inline std::string xoauth2_b64(std::string_view user, std::string_view token) {
    return protocols::base64_encode("user=" + std::string(user) +
                                    "\x01"
                                    "auth=Bearer " +
                                    std::string(token) + "\x01\x01");
}

// An RFC 7628 message without authzid, host or port, in base64.
inline std::string oauthbearer_b64(std::string_view user, std::string_view token) {
    return protocols::base64_encode("n,a=" + std::string(user) +
                                    ",\x01"
                                    "auth=Bearer " +
                                    std::string(token) + "\x01\x01");
}

// One bearer login as a codec performs it.
struct bearer_case {
    protocols::upstream_credentials credentials;
    std::string mechanism;    // as advertised and named in the command
    std::string payload;      // the initial response, in base64
    std::string error_answer; // the line answering the provider's error report (RFC 7628 §3.2.3)
};

// XOAUTH2 and OAUTHBEARER for one user and token (no host or port).
inline std::vector<bearer_case> bearer_cases(const std::string& user, const std::string& token) {
    return {{bearer(user, token), "XOAUTH2", xoauth2_b64(user, token), "\r\n"},
            {bearer(user, token, bearer_mechanism::oauthbearer), "OAUTHBEARER", oauthbearer_b64(user, token),
             "AQ==\r\n"}};
}

// base64 of {"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}, Gmail's error report.
inline constexpr std::string_view gmail_error_report =
    "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
inline constexpr std::string_view gmail_error_json =
    R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})";

// The codec's diagnostics hold no 8 consecutive bytes of `token`.
inline step no_run_of(std::string token) {
    return check<protocols::upstream_codec>([token](protocols::upstream_codec& c) {
        for (std::size_t i = 0; i + 8 <= token.size(); ++i)
            ASSERT_EQ(c.diagnostics().find(token.substr(i, 8)), std::string::npos)
                << "diagnostics \"" << c.diagnostics() << "\" show bytes " << i << "..." << i + 7
                << " of the token";
    });
}

} // namespace mailgate::test
