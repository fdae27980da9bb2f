// What a CLI command needs to use an account's provider credential like the gateway does: the store on a small
// pool and a token service of its own (coordinated with a running gateway through the store's refresh lease).
#pragma once

#include "server/oauth/token_service.hpp"
#include "server/proxy/provider_login.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/thread_pool.hpp>

namespace mailgate::cli {

class cli_store {
public:
    cli_store(store::account_repository& repo, boost::asio::any_io_executor executor,
              boost::asio::ssl::context& tls, std::chrono::seconds timeout)
        : store_(repo, pool_, {1, 4, 1}), tokens_(store_, executor, tls, timeout), tls_(tls),
          timeout_(timeout) {}
    ~cli_store() {
        tokens_.stop();
        store_.stop();
        pool_.join();
    }

    store::store_service& store() { return store_; }
    oauth::token_service& tokens() { return tokens_; }
    proxy::provider_access access() { return {store_, tokens_, tls_, timeout_}; }

private:
    boost::asio::thread_pool pool_{1};
    store::store_service store_;
    oauth::token_service tokens_;
    boost::asio::ssl::context& tls_;
    std::chrono::seconds timeout_;
};

} // namespace mailgate::cli
