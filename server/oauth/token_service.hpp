// The one owner of OAuth2 access tokens in this process (DESIGN.md "Credentials"). Per account: the access token in
// memory (and sealed in the store, so a restart or another process reuses it), exactly one refresh in flight
// (concurrent logins wait for it), the rotated refresh token persisted before any waiter proceeds, refresh ahead of
// expiry for accounts in use, a weekly keep-alive for idle ones, and exponential backoff after transient failures.
// Consent is not done here: needs_consent and config_error make logins fail at once, with no token request.
#pragma once

#include "server/domain/oauth_client.hpp"
#include "server/store/account.hpp"
#include "server/store/oauth_grant.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace mailgate::oauth {

enum class token_problem { none, needs_consent, config_error, unavailable, internal };
std::string_view to_string(token_problem p);

// What a login gets. `token` is a secret: the caller moves it into the codec (which wipes it) or wipes it.
struct access_grant {
    std::string token;
    std::int64_t generation = 0;
    domain::sasl_mechanism mechanism = domain::sasl_mechanism::xoauth2;
    token_problem problem = token_problem::none;
    std::string reason; // why not, for the log and the admin; never a token
};

struct token_counters {
    std::atomic<std::uint64_t> ok{0}, transient{0}, needs_consent{0}, config_error{0};
};

// In-memory facts the admin page shows next to the stored grant.
struct token_view {
    bool refreshing = false;
    std::int64_t access_expires_at = 0;
    std::int64_t backoff_until = 0; // unix seconds; 0: none
};

class token_service {
public:
    token_service(store::store_service& store, boost::asio::any_io_executor executor,
                  boost::asio::ssl::context& tls, std::chrono::seconds timeout);
    ~token_service();

    // A token that stays valid for the login ahead: the one held, or one refreshed now.
    boost::asio::awaitable<access_grant> token_for(store::account account);
    // The provider refused the token of `generation`: one refresh for everyone who saw that generation.
    boost::asio::awaitable<access_grant> replace_rejected(store::account account, std::int64_t generation);
    // Forget what is held for the account (consent replaced the tokens, the account was removed).
    void forget(std::int64_t account_id);

    // The keep-alive scan: at start and hourly, refreshes grants whose last refresh is older than a week.
    void start();
    void stop();

    const token_counters& counters() const { return counters_; }
    token_view view(std::int64_t account_id);

private:
    struct flight;
    struct entry;
    boost::asio::awaitable<access_grant> obtain(store::account account, std::int64_t rejected_generation);
    boost::asio::awaitable<access_grant> refresh(const store::account& account, entry& e);
    boost::asio::awaitable<access_grant> refresh_under_lease(const store::account& account, entry& e);
    boost::asio::awaitable<void> background_refresh(store::account account);
    boost::asio::awaitable<void> keep_alive_loop();
    void schedule_ahead(const store::account& account, entry& e);
    access_grant grant_from(const entry& e) const;

    store::store_service& store_;
    boost::asio::strand<boost::asio::any_io_executor> strand_;
    boost::asio::ssl::context& tls_;
    std::chrono::seconds timeout_;
    std::map<std::int64_t, std::shared_ptr<entry>> entries_; // on strand_ only
    token_counters counters_;
    std::shared_ptr<bool> stopped_ = std::make_shared<bool>(false);
    boost::asio::steady_timer keep_alive_;
    std::mutex view_mutex_;
    std::map<std::int64_t, token_view> views_;
};

} // namespace mailgate::oauth
