// Off-thread local authentication with the credential cache in front of scrypt.
#include "server/store/store_service.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace mailgate::store {

std::optional<account> store_service::authenticate_blocking(const std::string& user, const std::string& password) {
    if (auto hash = repo_.local_password_hash(user); hash && cache_.contains(user, password, *hash))
        return repo_.find_by_local_user(user);
    auto verified = repo_.verify_local(user, password);
    if (verified) {
        if (auto hash = repo_.local_password_hash(user)) cache_.remember(user, password, *hash);
    }
    return verified;
}

void store_service::record(std::function<void(account_repository&)> write) {
    boost::asio::post(pool_, [this, write = std::move(write)] {
        try {
            write(repo_);
        } catch (const std::exception& e) {
            spdlog::error("store: could not record: {}", e.what());
        }
    });
}

boost::asio::awaitable<std::optional<account>> store_service::authenticate(std::string user, std::string password) {
    auto result = co_await run([this, &user, &password](account_repository&) { return authenticate_blocking(user, password); });
    wipe(password);
    co_return result;
}

} // namespace mailgate::store
