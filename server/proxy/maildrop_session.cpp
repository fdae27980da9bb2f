// POP3 from an IMAP folder: the snapshot at login, then RETR/TOP streamed and DELE committed at QUIT.
#include "server/proxy/maildrop_session.hpp"

#include "server/net/codec_driver.hpp"
#include "server/store/pop3_uidls.hpp"

#include <boost/system/system_error.hpp>

namespace mailgate::proxy {

namespace asio = boost::asio;
using protocols::client_step;
using protocols::message_chunk;

bool serves_pop3_from_imap(const store::account& account) {
    return account.mailbox.pop3 == domain::pop3_source::imap;
}

maildrop_session::maildrop_session(const gateway_settings& settings, const session_context& label)
    : settings_(settings), label_(label) {}

template <class OnChunk>
asio::awaitable<bool> maildrop_session::complete(net::upstream_connection& upstream, std::string_view what,
                                                 OnChunk on_chunk) {
    if (upstream_broken_) co_return false;
    auto limit = settings_.upstream_timeout;
    net::codec_io io{upstream.stream(), upstream_buffer_, [limit](protocols::read_deadline) { return limit; },
                     []() -> asio::awaitable<void> { co_return; }};
    for (;;) {
        net::codec_step<protocols::imap::mailbox_client> step;
        try {
            step = co_await net::run_io(*mailbox_, io);
        } catch (const boost::system::system_error& e) {
            label_.warn("account '{}': provider connection failed during {}: {}", account_, what,
                        e.code() == asio::error::timed_out ? "timed out" : e.code().message());
            break;
        }
        if (auto* chunk = std::get_if<message_chunk>(&step)) {
            co_await on_chunk(
                chunk->bytes); // the client side: its failures end the session, not the provider
            continue;
        }
        if (std::get<client_step>(step) == client_step::done) co_return true;
        label_.warn("account '{}': provider failed during {}: {}{}{}", account_, what,
                    mailbox_->error().message(), mailbox_->diagnostics().empty() ? "" : ": ",
                    mailbox_->diagnostics());
        break;
    }
    upstream_broken_ = true;
    settings_.live.count_upstream_error(std::string(label_.protocol), "protocol");
    co_return false;
}

asio::awaitable<bool> maildrop_session::complete(net::upstream_connection& upstream, std::string_view what) {
    co_return co_await complete(upstream, what, [](std::string_view) -> asio::awaitable<void> { co_return; });
}

asio::awaitable<std::optional<domain::failure>> maildrop_session::open(login_result& login) {
    account_ = login.account;
    options_ = login.record->mailbox;
    upstream_buffer_.resize(64 * 1024); // only sessions served from IMAP pay for it, not every POP3 session
    auto account_id = login.record->id;
    mailbox_ = std::make_unique<protocols::imap::mailbox_client>(provider_capabilities_of(login));
    auto& upstream = *login.upstream;
    const auto& folder = options_.pop3_folder;
    mailbox_->select(folder);
    if (!co_await complete(upstream, "SELECT " + folder)) co_return domain::failure::protocol;
    mailbox_->fetch_sizes();
    if (!co_await complete(upstream, "the folder listing")) co_return domain::failure::protocol;
    entries_ = mailbox_->entries();
    auto uidvalidity = mailbox_->uidvalidity();
    std::vector<std::uint32_t> uids;
    for (const auto& e : entries_) uids.push_back(e.uid);
    auto unmapped = co_await settings_.store.run([&](store::account_repository& repo) {
        return repo.uidls().unmapped(account_id, folder, uidvalidity, uids);
    });
    std::map<std::uint32_t, std::string> ids;
    if (!unmapped.empty()) {
        mailbox_->fetch_message_ids(unmapped);
        if (!co_await complete(upstream, "the Message-ID listing")) co_return domain::failure::protocol;
        ids = mailbox_->message_ids();
    }
    std::vector<store::folder_message> messages;
    messages.reserve(entries_.size());
    for (const auto& e : entries_) {
        auto id = ids.find(e.uid);
        messages.push_back({e.uid, e.size, id == ids.end() ? std::string() : id->second});
    }
    auto uidls = co_await settings_.store.run([&](store::account_repository& repo) {
        return repo.uidls().assign(account_id, folder, uidvalidity, messages);
    });
    std::vector<protocols::pop3::maildrop_message> drop;
    drop.reserve(entries_.size());
    for (std::size_t i = 0; i < entries_.size(); ++i) drop.push_back({entries_[i].size, std::move(uidls[i])});
    maildrop_ = std::make_unique<protocols::pop3::maildrop>(std::move(drop));
    label_.info("account '{}': POP3 from IMAP folder '{}': {} messages ({} new to the UIDL map)", account_,
                folder, entries_.size(), unmapped.size());
    co_return std::nullopt;
}

asio::awaitable<void> maildrop_session::retrieve(net::upstream_connection& upstream,
                                                 const protocols::maildrop_step& step) {
    const auto& entry = entries_[step.index];
    mailbox_->fetch_message(entry.uid, entry.size, step.top_lines, options_.pop3_mark_seen);
    // Each piece goes out to the client before the next is read: the message is never held whole.
    auto ok = co_await complete(upstream, "RETR", [this](std::string_view bytes) -> asio::awaitable<void> {
        maildrop_->message_bytes(bytes);
        counters_->down += bytes.size();
        co_await net::run_io(*maildrop_, *client_io_); // writes, then asks to retrieve the next piece
    });
    if (ok && mailbox_->message_found()) {
        maildrop_->message_end();
        if (maildrop_->size_mismatch())
            label_.warn("account '{}': message UID {} was {} octets by RFC822.SIZE but sent differently",
                        account_, entry.uid, entry.size);
        co_return;
    }
    if (ok) label_.info("account '{}': message UID {} is gone from the folder", account_, entry.uid);
    maildrop_->message_failed();
}

asio::awaitable<void> maildrop_session::commit(net::upstream_connection& upstream,
                                               const protocols::maildrop_step& step) {
    std::vector<std::uint32_t> uids;
    for (auto i : step.deleted) uids.push_back(entries_[i].uid);
    mailbox_->delete_messages(uids);
    bool ok = co_await complete(upstream, "deleting messages");
    if (ok)
        label_.info("account '{}': deleted {} messages{}", account_, uids.size(),
                    mailbox_->expunge_deferred()
                        ? " (flagged \\Deleted; not expunged: other messages were flagged \\Deleted too)"
                        : "");
    maildrop_->commit_result(ok);
}

asio::awaitable<void> maildrop_session::serve(net::mail_stream& client, net::upstream_connection& upstream,
                                              std::string_view pipelined, relay_counters& counters) {
    counters_ = &counters;
    std::array<char, 16 * 1024> buffer;
    auto idle = settings_.idle_timeout;
    net::codec_io io{client, buffer, [idle](protocols::read_deadline) { return idle; },
                     []() -> asio::awaitable<void> { co_return; }};
    client_io_ = &io;
    if (!pipelined.empty()) maildrop_->received(pipelined);
    try {
        for (;;) {
            auto step = co_await net::run_io(*maildrop_, io);
            if (auto* s = std::get_if<protocols::maildrop_step>(&step)) {
                if (s->what == protocols::maildrop_step::kind::retrieve) {
                    co_await retrieve(upstream, *s);
                } else {
                    co_await commit(upstream, *s);
                }
                continue;
            }
            label_.dialogue_ended(maildrop_->error());
            break;
        }
    } catch (const boost::system::system_error& e) {
        label_.info("account '{}': client connection ended: {}", account_,
                    e.code() == asio::error::timed_out ? "timed out" : e.code().message());
    }
    if (!upstream_broken_) {
        mailbox_->logout();
        co_await complete(upstream, "LOGOUT");
    }
    upstream.close();
}

} // namespace mailgate::proxy
