// POP3 served by the gateway from an IMAP folder (accounts with pop3_source imap): after the POP3 login has
// logged in to the account's IMAP endpoint, open() selects the folder and takes the snapshot (UIDs, sizes, stable
// UIDLs from the store); serve() then runs the pop3::maildrop codec toward the client and the imap::mailbox_client
// toward the provider, streaming each RETR/TOP from the provider's literal to the client, and commits DELE at QUIT.
#pragma once

#include "protocols/imap/mailbox_client.hpp"
#include "protocols/pop3/maildrop.hpp"
#include "server/domain/failure.hpp"
#include "server/net/codec_driver.hpp"
#include "server/net/mail_stream.hpp"
#include "server/net/upstream_connection.hpp"
#include "server/proxy/activity.hpp"
#include "server/proxy/gateway_settings.hpp"
#include "server/proxy/login_flow.hpp"
#include "server/proxy/session_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace mailgate::proxy {

// Whether a POP3 login to `account` is served from its IMAP folder rather than relayed to a POP3 endpoint.
bool serves_pop3_from_imap(const store::account& account);

class maildrop_session {
public:
    maildrop_session(const gateway_settings& settings, const session_context& label);

    // After a successful login of an account that serves_pop3_from_imap(): the snapshot. nullopt when ready;
    // otherwise the failure the client's PASS is answered with (the provider connection is of no further use).
    boost::asio::awaitable<std::optional<domain::failure>> open(login_result& login);
    bool opened() const { return maildrop_ != nullptr; }

    // The POP3 TRANSACTION (and UPDATE) state, from the client's pipelined bytes on, until the client quits,
    // goes away or is closed. `counters` (the admin page's live view) count the message bytes fetched.
    boost::asio::awaitable<void> serve(net::mail_stream& client, net::upstream_connection& upstream,
                                       std::string_view pipelined, relay_counters& counters);

private:
    // Runs the mailbox client until its current command is done; message chunks go to `on_chunk`. False when
    // the provider failed (logged once; the connection is then of no further use).
    template <class OnChunk>
    boost::asio::awaitable<bool> complete(net::upstream_connection& upstream, std::string_view what,
                                          OnChunk on_chunk);
    boost::asio::awaitable<bool> complete(net::upstream_connection& upstream, std::string_view what);
    boost::asio::awaitable<void> retrieve(net::upstream_connection& upstream,
                                          const protocols::maildrop_step& step);
    boost::asio::awaitable<void> commit(net::upstream_connection& upstream,
                                        const protocols::maildrop_step& step);

    const gateway_settings& settings_;
    const session_context& label_;
    std::string account_;
    domain::mailbox_options options_;
    std::unique_ptr<protocols::imap::mailbox_client> mailbox_;
    std::vector<protocols::imap::folder_entry> entries_;
    std::unique_ptr<protocols::pop3::maildrop> maildrop_;
    bool upstream_broken_ = false;
    std::vector<char> upstream_buffer_;
    net::codec_io* client_io_ = nullptr; // while serving
    relay_counters* counters_ = nullptr; // the live session's: message bytes from the provider
};

} // namespace mailgate::proxy
