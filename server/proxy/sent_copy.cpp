// Sent copies: the spool file beside the submission, and the background APPEND.
#include "server/proxy/sent_copy.hpp"

#include "protocols/imap/mailbox_client.hpp"
#include "server/net/codec_driver.hpp"
#include "server/net/timed.hpp"
#include "server/proxy/login_flow.hpp"
#include "server/store/crypto.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <array>

namespace mailgate::proxy {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

std::string random_name() { return "sent-" + store::to_hex(store::random_bytes(12)) + ".eml"; }

enum class attempt { done, retry, give_up };

struct copy_job {
    const gateway_settings& settings;
    store::account account;
    std::string peer;
    session_context label;
    fs::path path;
    std::uint64_t size;
    std::string failure; // the last attempt's reason, for the log and the event
};

// Runs the mailbox client over `upstream` until its command is done. False when it failed.
asio::awaitable<bool> complete(protocols::imap::mailbox_client& mailbox, net::upstream_connection& upstream,
                               std::chrono::seconds timeout) {
    std::array<char, 8192> buffer;
    net::codec_io io{upstream.stream(), buffer, [timeout](protocols::read_deadline) { return timeout; },
                     []() -> asio::awaitable<void> { co_return; }};
    for (;;) {
        auto step = co_await net::run_io(mailbox, io);
        if (auto* s = std::get_if<protocols::client_step>(&step))
            co_return *s == protocols::client_step::done;
    }
}

asio::awaitable<attempt> append_once(copy_job& job) {
    auto login = co_await open_provider_session(job.settings, job.label, domain::mail_protocol::imap,
                                                job.account, nullptr, provider_use::background);
    if (!login.ok()) {
        job.failure = "IMAP login failed (" + std::string(domain::to_string(*login.failed)) + ")";
        co_return *login.failed == domain::failure::internal ? attempt::give_up : attempt::retry;
    }
    auto& upstream = *login.upstream;
    auto timeout = job.settings.upstream_timeout;
    protocols::imap::mailbox_client mailbox(provider_capabilities_of(login));
    const auto& folder = job.account.mailbox.sent_folder;
    try {
        mailbox.append(folder, job.size);
        if (!co_await complete(mailbox, upstream, timeout)) {
            job.failure = "APPEND to '" + folder + "' refused: " + mailbox.diagnostics();
            upstream.close();
            // A refusal (no such folder, over quota) is not cured by trying again in a minute.
            co_return mailbox.error() == protocols::upstream_errc::command_refused ? attempt::give_up
                                                                                   : attempt::retry;
        }
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(job.path.c_str(), "rb"),
                                                             &std::fclose);
        if (!file) {
            job.failure = "spool file is gone";
            upstream.close();
            co_return attempt::give_up;
        }
        std::array<char, 64 * 1024> chunk;
        std::uint64_t sent = 0;
        while (sent < job.size) {
            auto n = std::fread(chunk.data(), 1, chunk.size(), file.get());
            if (n == 0) break;
            n = static_cast<std::size_t>(std::min<std::uint64_t>(n, job.size - sent));
            co_await net::timed(upstream.stream().write(asio::buffer(chunk.data(), n)), timeout);
            sent += n;
        }
        if (sent != job.size) {
            job.failure = "spool file is shorter than its message";
            upstream.close(); // the literal is incomplete: the provider must never file it
            co_return attempt::give_up;
        }
        mailbox.literal_written();
        if (!co_await complete(mailbox, upstream, timeout)) {
            job.failure = "APPEND to '" + folder + "' failed: " + mailbox.diagnostics();
            upstream.close();
            co_return mailbox.error() == protocols::upstream_errc::command_refused ? attempt::give_up
                                                                                   : attempt::retry;
        }
        mailbox.logout();
        co_await complete(mailbox, upstream, std::chrono::seconds(10));
    } catch (const boost::system::system_error& e) {
        job.failure = "provider connection failed: " +
                      (e.code() == asio::error::timed_out ? std::string("timed out") : e.code().message());
        upstream.close();
        co_return attempt::retry;
    }
    upstream.close();
    co_return attempt::done;
}

asio::awaitable<void> copy_to_sent(const gateway_settings& settings, store::account account, std::uint64_t id,
                                   std::string peer, fs::path path, std::uint64_t size) {
    copy_job job{settings, std::move(account), std::move(peer), {}, std::move(path), size, {}};
    job.label = session_context{"smtp", id, job.peer};
    try {
        for (std::size_t tries = 0;; ++tries) {
            auto result = co_await append_once(job);
            if (result == attempt::done) {
                job.label.info("account '{}': Sent copy filed in '{}' ({} octets)", job.account.name,
                               job.account.mailbox.sent_folder, size);
                break;
            }
            if (result == attempt::give_up || tries >= settings.sent_copy_retries.size()) {
                job.label.warn("account '{}': Sent copy given up: {} (the message itself was sent)",
                               job.account.name, job.failure);
                settings.live.record({std::chrono::system_clock::now(), event_kind::sent_copy_failed, "smtp",
                                      job.peer, job.account.name, "Sent copy failed: " + job.failure});
                break;
            }
            job.label.info("account '{}': Sent copy failed, retrying in {} s: {}", job.account.name,
                           settings.sent_copy_retries[tries].count(), job.failure);
            asio::steady_timer timer(co_await asio::this_coro::executor, settings.sent_copy_retries[tries]);
            co_await timer.async_wait(asio::use_awaitable);
        }
    } catch (const std::exception& e) {
        job.label.warn("account '{}': Sent copy stopped: {}", job.account.name, e.what());
    }
    std::error_code ignored;
    fs::remove(job.path, ignored);
}

} // namespace

std::unique_ptr<sent_copy_file> sent_copy_file::create(const fs::path& spool_dir) {
    std::error_code ec;
    fs::create_directories(spool_dir, ec);
    auto path = spool_dir / random_name();
    std::FILE* file = std::fopen(path.c_str(), "wbx");
    if (!file) return nullptr;
    return std::unique_ptr<sent_copy_file>(new sent_copy_file(std::move(path), file));
}

sent_copy_file::~sent_copy_file() {
    if (file_) std::fclose(file_);
    if (!handed_over_) {
        std::error_code ignored;
        fs::remove(path_, ignored);
    }
}

bool sent_copy_file::write(std::string_view wire) {
    if (!ok_ || !file_) return false;
    buffer_.clear();
    unstuffer_.feed(wire, buffer_);
    if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size())
        ok_ = false;
    size_ += buffer_.size();
    return ok_;
}

bool sent_copy_file::finish(fs::path& path, std::uint64_t& size) {
    if (!file_) return false;
    bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!ok_ || !closed || !unstuffer_.ended()) return false;
    handed_over_ = true;
    path = path_;
    size = size_;
    return true;
}

void clear_sent_spool(const fs::path& spool_dir) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(spool_dir, ec))
        if (entry.path().filename().string().starts_with("sent-")) fs::remove(entry.path(), ec);
}

void send_sent_copy(asio::any_io_executor executor, const gateway_settings& settings, store::account account,
                    std::uint64_t session_id, std::string peer, fs::path path, std::uint64_t size) {
    asio::co_spawn(
        executor,
        copy_to_sent(settings, std::move(account), session_id, std::move(peer), std::move(path), size),
        asio::detached);
}

} // namespace mailgate::proxy
