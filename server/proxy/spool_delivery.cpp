// Re-originating one spooled message at the provider.
#include "server/proxy/spool_delivery.hpp"

#include "server/net/timed.hpp"
#include "server/proxy/login_flow.hpp"

#include <array>
#include <cstdio>

namespace mailgate::proxy {

namespace asio = boost::asio;
using spool::recipient_outcome;

namespace {

constexpr std::chrono::seconds command_reply_timeout{300}; // RFC 5321 §4.5.3.2
constexpr std::chrono::seconds data_end_reply_timeout{600};
constexpr std::chrono::seconds data_block_timeout{180};

std::string reply_text(const protocols::smtp::reply& r) {
    return std::to_string(r.code) + " " + (r.lines.empty() ? std::string() : spool::one_line(r.lines.back()));
}

class provider_transaction {
public:
    provider_transaction(login_result& login) : login_(login), client_(*login.codec.smtp()) {}

    // The provider's reply to `line`, or nullopt when the connection failed (why() tells).
    asio::awaitable<std::optional<protocols::smtp::reply>> send(std::string line) {
        client_.transact(std::move(line));
        co_return co_await reply(command_reply_timeout);
    }
    asio::awaitable<std::optional<protocols::smtp::reply>> verdict() {
        client_.await_verdict();
        co_return co_await reply(data_end_reply_timeout);
    }
    asio::awaitable<void> quit() {
        try {
            client_.logout();
            co_await login_.upstream->drive(*login_.codec, net::upstream_step::logout,
                                            std::chrono::seconds(10));
        } catch (const std::exception&) {}
        login_.upstream->close();
    }
    const std::string& why() const { return why_; }

private:
    asio::awaitable<std::optional<protocols::smtp::reply>> reply(std::chrono::seconds timeout) {
        auto failure = co_await login_.upstream->drive(*login_.codec, net::upstream_step::login, timeout);
        if (failure) {
            why_ = "provider connection failed: " + failure->reason;
            co_return std::nullopt;
        }
        co_return client_.last_reply();
    }

    login_result& login_;
    protocols::smtp::client& client_;
    std::string why_;
};

// The DATA bytes of the spool file (already dot-stuffed, ending in CRLF "." CRLF), written to the provider.
// The last 3 octets (the "." CRLF of the end marker) are left for the caller.
asio::awaitable<bool> stream_file(net::mail_stream& stream, const std::filesystem::path& file,
                                  const spool::queued_message& message, std::string& why) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(file.c_str(), "rb"), &std::fclose);
    if (!in || std::fseek(in.get(), static_cast<long>(message.data_offset), SEEK_SET) != 0) {
        why = "the spool file cannot be read";
        co_return false;
    }
    auto chunk = std::make_unique_for_overwrite<char[]>(64 * 1024);
    if (message.data_size < 5) {
        why = "the spool file holds no message";
        co_return false;
    }
    std::uint64_t left = message.data_size - 3;
    while (left > 0) {
        auto n = std::fread(chunk.get(), 1,
                            static_cast<std::size_t>(std::min<std::uint64_t>(left, 64 * 1024)), in.get());
        if (n == 0) {
            why = "the spool file is shorter than its message";
            co_return false;
        }
        co_await net::timed(stream.write(asio::buffer(chunk.get(), n)), data_block_timeout);
        left -= n;
    }
    co_return true;
}

} // namespace

asio::awaitable<std::string> deliver_spooled(const gateway_settings& settings, const session_context& label,
                                             const store::account& account,
                                             const spool::queued_message& message,
                                             const std::filesystem::path& file, spool::delivery_state& state,
                                             const delivery_hooks& hooks,
                                             std::optional<login_result>& session) {
    const auto& head = message.head;
    if (session) { // the account's session from its previous message: RSET proves it is still there
        provider_transaction probe(*session);
        auto reset = co_await probe.send("RSET\r\n");
        if (!reset || reset->code / 100 != 2) {
            session->upstream->close();
            session.reset();
        }
    }
    if (!session) {
        auto opened = co_await open_provider_session(settings, label, domain::mail_protocol::smtp, account,
                                                     nullptr, provider_use::background);
        if (!opened.ok()) {
            state.last_error = "provider login failed (" + std::string(domain::to_string(*opened.failed)) +
                               (opened.reason.empty() ? ")" : "): " + opened.reason);
            co_return "connect";
        }
        session.emplace(std::move(opened));
    }
    auto& login = *session;
    auto* connection = login.upstream.get();
    hooks.set_closer([connection] { connection->close(); });
    provider_transaction provider(login);
    auto fail_all_pending = [&](const std::vector<std::size_t>& which, const std::string& why) {
        for (auto i : which) state.set(i, {recipient_outcome::kind::failed, why});
    };
    std::string result = "deferred";
    bool broken = false;
    try {
        auto mail = co_await provider.send(head.mail + "\r\n");
        std::vector<std::size_t> pending;
        for (std::size_t i = 0; i < head.rcpt.size(); ++i)
            if (state.outcome(i) == recipient_outcome::kind::pending) pending.push_back(i);
        if (!mail) {
            state.last_error = provider.why();
        } else if (mail->code / 100 == 5) {
            fail_all_pending(pending, reply_text(*mail));
            result = "refused";
        } else if (mail->code / 100 != 2) {
            state.last_error = "MAIL: " + reply_text(*mail);
        } else {
            std::vector<std::size_t> accepted;
            bool lost = false;
            for (auto i : pending) {
                auto r = co_await provider.send(head.rcpt[i] + "\r\n");
                if (!r) {
                    state.last_error = provider.why();
                    lost = true;
                    break;
                }
                if (r->code / 100 == 2)
                    accepted.push_back(i);
                else if (r->code / 100 == 5) {
                    state.set(i, {recipient_outcome::kind::failed, reply_text(*r)});
                    result = "refused";
                } else
                    state.last_error = "RCPT: " + reply_text(*r);
            }
            if (!lost && !accepted.empty()) {
                auto data = co_await provider.send("DATA\r\n");
                if (!data)
                    state.last_error = provider.why();
                else if (data->code == 354) {
                    std::string why;
                    bool ending = co_await stream_file(connection->stream(), file, message, why);
                    if (ending) {
                        state.in_doubt = true;
                        if (!co_await hooks.before_end()) {
                            state.in_doubt = false;
                            why = "not sent: the message belongs to another instance now";
                            ending = false;
                        }
                    }
                    if (!ending) {
                        // The end marker never went out: the provider drops the transaction.
                        state.last_error = why;
                        connection->close();
                        session.reset();
                        hooks.set_closer(nullptr);
                        co_return "deferred";
                    }
                    co_await net::timed(connection->stream().write(asio::buffer(".\r\n", 3)),
                                        data_block_timeout);
                    auto verdict = co_await provider.verdict();
                    if (!verdict) {
                        // RFC 1047: the reply to the end of data is lost; the provider may have the message.
                        // Sending it again risks a duplicate, which is better than a loss.
                        state.last_error = provider.why() + " after the end of the message (it may have been "
                                                            "delivered; it will be sent again)";
                    } else if (verdict->code / 100 == 2) {
                        state.in_doubt = false;
                        for (auto i : accepted) state.set(i, {recipient_outcome::kind::delivered, {}});
                        state.last_error.clear();
                        co_await hooks.persist();
                        if (result != "refused") result = "delivered";
                    } else if (verdict->code / 100 == 5) {
                        state.in_doubt = false;
                        fail_all_pending(accepted, reply_text(*verdict));
                        result = "refused";
                    } else {
                        state.in_doubt = false;
                        state.last_error = "end of data: " + reply_text(*verdict);
                    }
                } else if (data->code / 100 == 5) {
                    fail_all_pending(accepted, reply_text(*data));
                    result = "refused";
                } else
                    state.last_error = "DATA: " + reply_text(*data);
            }
        }
    } catch (const boost::system::system_error& e) {
        state.last_error =
            "provider connection failed: " +
            (e.code() == asio::error::timed_out ? std::string("timed out") : e.code().message());
        result = "deferred";
        broken = true;
    }
    hooks.set_closer(nullptr);
    if (broken || !provider.why().empty()) {
        connection->close();
        session.reset();
    }
    co_return result;
}

asio::awaitable<void> end_delivery_session(std::optional<login_result>& session) {
    if (!session) co_return;
    provider_transaction provider(*session);
    co_await provider.quit();
    session.reset();
}

} // namespace mailgate::proxy
