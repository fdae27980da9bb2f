// Off-thread local authentication with the credential cache in front of scrypt.
#include "server/store/store_service.hpp"

#include "server/store/crypto.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace mailgate::store {

void store_service::record(std::function<void(account_repository&)> write) {
    boost::asio::post(pool_, [this, write = std::move(write)] {
        try {
            write(repo_);
        } catch (const std::exception& e) {
            spdlog::error("store: could not record: {}", e.what());
        }
    });
}

boost::asio::awaitable<local_login> store_service::authenticate(std::string user, std::string password,
                                                                 std::string client) {
    struct lookup {
        std::optional<std::string> hash;
        std::string share_key;
        std::optional<local_check> known;
    };
    // SQLite and the keyed hashes on the store pool; only a check the caches cannot answer goes to the KDF.
    auto found = co_await run([this, &user, &password](account_repository& repo) {
        lookup out;
        out.hash = repo.local_password_hash(user);
        // An unknown user still costs one KDF run (against a dummy hash), so timing does not reveal which exist.
        const auto& against = out.hash ? *out.hash : repo.unknown_user_hash();
        if (out.hash && good_.contains(user, password, against)) out.known = local_check::ok;
        else if (bad_.contains(user, password, against)) out.known = local_check::repeated_wrong;
        else out.share_key = good_.key_for(user, password, against);
        return out;
    });
    local_login result;
    result.known_user = found.hash.has_value();
    if (found.known) {
        result.verdict = *found.known;
    } else {
        auto against = found.hash ? *found.hash : repo_.unknown_user_hash();
        auto verdict = co_await kdf_.async_verify(found.share_key, std::move(client), password, std::move(against),
                                                  boost::asio::use_awaitable);
        if (verdict == kdf_verdict::busy) result.verdict = local_check::busy;
        else if (verdict == kdf_verdict::match && found.hash) result.verdict = local_check::ok;
        else result.verdict = local_check::wrong;
        auto remembered = found.hash ? *found.hash : repo_.unknown_user_hash();
        if (result.verdict == local_check::ok) good_.remember(user, password, remembered);
        if (result.verdict == local_check::wrong) bad_.remember(user, password, remembered);
    }
    wipe(password);
    if (result.verdict == local_check::ok) {
        result.record = co_await run([&user](account_repository& repo) { return repo.find_by_local_user(user); });
        if (!result.record) result.verdict = local_check::wrong; // removed meanwhile
    }
    co_return result;
}

boost::asio::awaitable<bool> store_service::verify_password(std::string password, std::string encoded_hash,
                                                            std::string client) {
    // Never shared: the key is fresh random bytes.
    auto verdict = co_await kdf_.async_verify(random_bytes(16), std::move(client), std::move(password),
                                              std::move(encoded_hash), boost::asio::use_awaitable);
    co_return verdict == kdf_verdict::match;
}

} // namespace mailgate::store
