// Off-thread local authentication with the credential cache in front of scrypt.
#include "server/store/store_service.hpp"

#include "server/store/challenge_digest.hpp"
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

boost::asio::awaitable<local_login>
store_service::authenticate(std::string user, std::string password, std::string client,
                            const std::function<void(const account&)>* before_kdf) {
    struct lookup {
        std::optional<account> record; // the user's account, whatever the password
        std::string against; // its password hash, or for an unknown user a dummy one (same KDF cost)
        std::optional<local_check> known;
    };
    // SQLite and the keyed caches in one trip to the store pool; only what the caches cannot answer goes to the KDF.
    auto found = co_await run([this, &user, &password](account_repository& repo) {
        lookup out;
        // `user` from here on is the stored name the typed one stands for (LAN\alice, alice@office -> alice).
        if (auto local_user = repo.resolve_local_user(user)) user = std::move(*local_user);
        auto hash = repo.local_password_hash(user);
        if (hash) out.record = repo.find_by_local_user(user);
        out.against = out.record ? *hash : repo.unknown_user_hash();
        if (out.record && good_.contains(user, password, out.against))
            out.known = local_check::ok;
        else if (bad_.contains(user, password, out.against))
            out.known = local_check::repeated_wrong;
        return out;
    });
    local_login result;
    result.known_user = found.record.has_value();
    if (found.known) {
        result.verdict = *found.known;
    } else {
        if (found.record && before_kdf && *before_kdf) (*before_kdf)(*found.record);
        auto verdict =
            co_await kdf_.async_verify(good_.key_for(user, password, found.against), std::move(client),
                                       password, found.against, boost::asio::use_awaitable);
        if (verdict == kdf_verdict::busy)
            result.verdict = local_check::busy;
        else if (verdict == kdf_verdict::match && found.record)
            result.verdict = local_check::ok;
        else
            result.verdict = local_check::wrong;
        if (result.verdict == local_check::ok) good_.remember(user, password, found.against);
        if (result.verdict == local_check::wrong) bad_.remember(user, password, found.against);
    }
    wipe(password);
    if (result.verdict == local_check::ok) result.record = std::move(found.record);
    co_return result;
}

boost::asio::awaitable<local_login> store_service::check_challenge(std::string user, std::string answer,
                                                                   protocols::login_proof proof) {
    auto result = co_await run([&](account_repository& repo) {
        local_login out;
        auto local_user = repo.resolve_local_user(user);
        auto record = local_user ? repo.find_by_local_user(*local_user) : std::nullopt;
        out.known_user = record.has_value();
        if (!record) return out;
        std::optional<std::string> secret;
        try {
            secret = repo.challenge_secret(*record);
        } catch (const secret_error& e) {
            spdlog::error("store: {}", e.what());
        }
        out.challenge_not_allowed = !secret;
        if (secret && challenge_answer_matches(proof, *secret, answer)) {
            out.verdict = local_check::ok;
            out.record = std::move(record);
        }
        if (secret) wipe(*secret);
        return out;
    });
    wipe(answer);
    co_return result;
}

bool store_service::challenge_logins_enabled() {
    // At most one refresh in flight, at most every few seconds: a connection never waits for SQLite here.
    constexpr std::int64_t refresh_seconds = 5;
    auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    if (now - challenge_checked_at_.load(std::memory_order_relaxed) >= refresh_seconds &&
        !challenge_refresh_queued_.exchange(true)) {
        challenge_checked_at_.store(now, std::memory_order_relaxed);
        boost::asio::post(pool_, [this] {
            try {
                repo_.refresh_challenge_logins_in_use();
            } catch (const std::exception& e) {
                spdlog::error("store: could not check for APOP/CRAM-MD5 accounts: {}", e.what());
            }
            challenge_refresh_queued_.store(false);
        });
    }
    return repo_.challenge_logins_in_use();
}

boost::asio::awaitable<bool> store_service::verify_password(std::string password, std::string encoded_hash,
                                                            std::string client) {
    // Never shared: the key is fresh random bytes.
    auto verdict = co_await kdf_.async_verify(random_bytes(16), std::move(client), std::move(password),
                                              std::move(encoded_hash), boost::asio::use_awaitable);
    co_return verdict == kdf_verdict::match;
}

} // namespace mailgate::store
