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

std::int64_t store_service::steady_milliseconds() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

bool store_service::external_changes_checked_recently() const {
    constexpr std::int64_t recent_ms = 2000;
    return steady_milliseconds() - external_checked_at_.load(std::memory_order_relaxed) < recent_ms;
}

boost::asio::awaitable<local_login>
store_service::authenticate(std::string user, std::string password, std::string client,
                            const std::function<void(const account&)>* before_kdf) {
    // A known user's lookup read under the current generation is served from memory; otherwise one trip to the
    // store pool. Only what the credential caches cannot answer goes to the KDF.
    auto found = kept(lookups_, user);
    if (!found) {
        auto [generation, looked] = co_await run_fresh([&user](account_repository& repo) {
            login_lookup out;
            // From here on the stored name the typed one stands for (LAN\alice, alice@office -> alice).
            out.user = repo.resolve_local_user(user).value_or(user);
            auto hash = repo.local_password_hash(out.user);
            if (hash) out.record = repo.find_by_local_user(out.user);
            out.against = out.record ? *hash : repo.unknown_user_hash();
            return out;
        });
        if (looked.record) lookups_.remember(user, generation, looked);
        found = std::move(looked);
    }
    std::optional<local_check> known;
    if (found->record && good_.contains(found->user, password, found->against))
        known = local_check::ok;
    else if (bad_.contains(found->user, password, found->against))
        known = local_check::repeated_wrong;
    local_login result;
    result.known_user = found->record.has_value();
    if (known) {
        result.verdict = *known;
    } else {
        if (found->record && before_kdf && *before_kdf) (*before_kdf)(*found->record);
        auto verdict = co_await kdf_.async_verify(good_.key_for(found->user, password, found->against),
                                                  std::move(client), password, found->against,
                                                  boost::asio::use_awaitable);
        if (verdict == kdf_verdict::busy)
            result.verdict = local_check::busy;
        else if (verdict == kdf_verdict::match && found->record)
            result.verdict = local_check::ok;
        else
            result.verdict = local_check::wrong;
        if (result.verdict == local_check::ok) good_.remember(found->user, password, found->against);
        if (result.verdict == local_check::wrong) bad_.remember(found->user, password, found->against);
    }
    wipe(password);
    if (result.verdict == local_check::ok) result.record = std::move(found->record);
    co_return result;
}

boost::asio::awaitable<std::string> store_service::remote_secret(const account& a) {
    auto sealed = kept(sealed_secrets_, a.id);
    if (!sealed) {
        auto [generation, read] =
            co_await run_fresh([&a](account_repository& repo) { return repo.sealed_remote_secret(a); });
        sealed_secrets_.remember(a.id, generation, read);
        sealed = std::move(read);
    }
    co_return repo_.open_remote_secret(a, *sealed);
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
    auto now = steady_milliseconds() / 1000;
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
