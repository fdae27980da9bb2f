// Credential, connection and login toward the provider.
#include "server/proxy/provider_login.hpp"

#include "server/proxy/upstream_login.hpp"
#include "server/store/crypto.hpp"

#include <boost/asio/this_coro.hpp>

#include <spdlog/spdlog.h>

namespace mailgate::proxy {

namespace asio = boost::asio;

namespace {

struct credential {
    std::optional<protocols::upstream_credentials> value;
    std::int64_t generation = -1;
    std::optional<net::upstream_failure> failure;
};

domain::failure kind_for(oauth::token_problem p) {
    switch (p) {
    case oauth::token_problem::needs_consent:
    case oauth::token_problem::config_error: return domain::failure::needs_consent;
    case oauth::token_problem::unavailable: return domain::failure::temporary;
    default: return domain::failure::internal;
    }
}

asio::awaitable<credential> credential_for(const provider_access& access, const store::account& account,
                                           const domain::upstream_endpoint& endpoint,
                                           std::int64_t rejected_generation) {
    credential out;
    if (account.credential == store::credential_kind::password) {
        try {
            auto secret = co_await access.store.remote_secret(account);
            out.value = protocols::upstream_credentials{account.remote_user, std::move(secret)};
            store::wipe(secret);
        } catch (const store::secret_error& e) {
            out.failure = net::upstream_failure{domain::failure::needs_consent, e.what()};
        } catch (const store::store_error& e) {
            // The database is away for a moment: nothing was sent to the provider; the client may retry.
            out.failure = net::upstream_failure{
                domain::failure::temporary, std::string("the account store does not answer: ") + e.what()};
        }
        co_return out;
    }
    // Not one conditional expression with two co_awaits: GCC 12 destroys its temporaries twice.
    oauth::access_grant grant;
    if (rejected_generation < 0)
        grant = co_await access.tokens.token_for(account);
    else
        grant = co_await access.tokens.replace_rejected(account, rejected_generation);
    if (grant.problem != oauth::token_problem::none) {
        out.failure = net::upstream_failure{kind_for(grant.problem),
                                            "OAuth2 " + std::string(oauth::to_string(grant.problem)) + ": " +
                                                grant.reason};
        co_return out;
    }
    protocols::upstream_credentials c;
    c.user = account.remote_user;
    c.secret = std::move(grant.token);
    store::wipe(grant.token);
    c.kind = protocols::credential_kind::bearer;
    c.mechanism = grant.mechanism == domain::sasl_mechanism::oauthbearer
                      ? protocols::bearer_mechanism::oauthbearer
                      : protocols::bearer_mechanism::xoauth2;
    c.host = endpoint.host;
    c.port = endpoint.port;
    out.value = std::move(c);
    out.generation = grant.generation;
    co_return out;
}

} // namespace

asio::awaitable<provider_login> log_in_to_provider(const provider_access& access,
                                                   const store::account& account,
                                                   const domain::upstream_endpoint& endpoint,
                                                   const net::step_observer& observer,
                                                   early_connection* early) {
    provider_login out;
    std::int64_t rejected = -1;
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto cred = co_await credential_for(access, account, endpoint, rejected);
        if (cred.failure) {
            if (early) early->abandon();
            out.failure = cred.failure;
            co_return out;
        }
        auto codec = make_login_codec(endpoint, std::move(*cred.value), local_helo_name());
        store::wipe(cred.value->secret); // a moved short string keeps its bytes
        std::optional<net::upstream_failure> failure;
        std::unique_ptr<net::upstream_connection> connection;
        if (early) connection = co_await early->take(endpoint);
        early = nullptr;
        bool opened_earlier = connection != nullptr;
        if (opened_earlier)
            spdlog::debug("account '{}': the provider connection opened during the password check is used",
                          account.name);
        if (!connection) {
            connection =
                std::make_unique<net::upstream_connection>(co_await asio::this_coro::executor, access.tls);
            failure = co_await connection->open(endpoint, access.timeout, observer);
        }
        if (!failure)
            failure = co_await connection->drive(*codec, net::upstream_step::login, access.timeout, observer);
        if (!failure) {
            out.connection = std::move(connection);
            out.codec = std::move(codec);
            out.failure.reset();
            co_return out;
        }
        connection->close();
        out.failure = failure;
        // A connection opened while the local check ran may have waited past the provider's pre-login patience
        // (a slow KDF under load): one more try on a fresh connection, as if it had never been opened.
        if (opened_earlier &&
            (failure->kind == domain::failure::connect || failure->kind == domain::failure::protocol)) {
            spdlog::debug(
                "account '{}': the connection opened during the password check failed ({}); connecting "
                "again",
                account.name, failure->reason);
            --attempt;
            continue;
        }
        if (failure->code != protocols::upstream_errc::token_rejected || attempt > 0) break;
        spdlog::info("account '{}': {} refused the OAuth2 access token; refreshing it and trying once more",
                     account.name, endpoint.url());
        rejected = cred.generation;
    }
    co_return out;
}

} // namespace mailgate::proxy
