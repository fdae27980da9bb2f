// The provider-facing connection: resolve, connect, TLS (implicit or STARTTLS driven by a client codec), with
// chain and host-name verification. It fails closed: no path leads to a plaintext login.
#pragma once

#include "protocols/common/upstream_codec.hpp"
#include "server/domain/endpoint.hpp"
#include "server/domain/failure.hpp"
#include "server/net/codec_driver.hpp"
#include "server/net/mail_stream.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace mailgate::net {

// A failure toward the provider, in the one taxonomy (server/domain/failure.hpp).
struct upstream_failure {
    domain::failure kind;
    std::string reason;     // for logs and the admin; never contains a credential
    std::error_code code{}; // the client codec's error, when it was the codec that failed
};

struct tls_details {
    std::string version;
    std::string cipher;
    std::string
        subject; // verified peer certificate subject (when resumed: as verified on the first handshake)
    bool resumed = false;
};

enum class upstream_step { resolve, connect, tls, login, logout };
std::string_view to_string(upstream_step s);
using step_observer = std::function<void(upstream_step, bool ok, const std::string& detail)>;

class upstream_connection {
public:
    upstream_connection(boost::asio::any_io_executor executor, boost::asio::ssl::context& context);

    // Resolve, connect (trying every address), and for implicit TLS the handshake.
    boost::asio::awaitable<std::optional<upstream_failure>> open(const domain::upstream_endpoint& endpoint,
                                                                 std::chrono::steady_clock::duration timeout,
                                                                 const step_observer& observer = {});

    // Runs a client codec until it is `done` (reported as `step`) or fails; STARTTLS happens inside. Every
    // read waits at most `timeout`, or what `deadlines` gives its deadline class.
    boost::asio::awaitable<std::optional<upstream_failure>> drive(protocols::upstream_codec& codec,
                                                                  upstream_step step,
                                                                  std::chrono::steady_clock::duration timeout,
                                                                  const step_observer& observer = {});
    boost::asio::awaitable<std::optional<upstream_failure>> drive(protocols::upstream_codec& codec,
                                                                  upstream_step step,
                                                                  const io_deadlines& deadlines,
                                                                  const step_observer& observer = {});

    mail_stream& stream() { return stream_; }
    bool tls_active() const { return stream_.tls_active(); }
    const tls_details& tls() const { return tls_; }
    void close();
    // Keeps `what` (a per-account session slot) for as long as this connection object lives.
    void hold(std::shared_ptr<void> what) { held_ = std::move(what); }

private:
    boost::asio::awaitable<void> handshake();
    // Implicit TLS: the handshake with verification, reported as the tls step.
    boost::asio::awaitable<std::optional<upstream_failure>>
    secure(std::chrono::steady_clock::duration timeout, const step_observer& observer);
    // "TLSv1.3, TLS_AES_256_GCM_SHA384, verified CN=...": the tls step's detail.
    std::string tls_summary() const;
    upstream_failure tls_failure(const boost::system::system_error& e) const;

    boost::asio::ssl::context& context_;
    mail_stream stream_;
    std::string host_;
    std::uint16_t port_ = 0;
    tls_details tls_;
    std::shared_ptr<void> held_;
};

} // namespace mailgate::net
