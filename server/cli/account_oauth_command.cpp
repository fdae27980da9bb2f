// `mailgate account oauth NAME --device | --paste`: the admin's consent from a terminal. The tokens go into the store
// (SQLite in WAL mode, so a running gateway keeps serving); the gateway notices the new generation at the account's
// next login and uses them. Afterwards one provider login with the new token shows that it works.
#include "server/cli/cli_store.hpp"
#include "server/cli/command_line.hpp"
#include "server/cli/commands.hpp"
#include "server/net/tls_contexts.hpp"
#include "server/oauth/authorization_request.hpp"
#include "server/oauth/consent.hpp"
#include "server/proxy/upstream_probe.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

namespace mailgate::cli {
namespace asio = boost::asio;
namespace {

int fail(const std::string& message) {
    std::cerr << "mailgate: " << message << "\n";
    return 1;
}

// The loopback redirect (RFC 8252 §7.3): the admin listener's port when it is on this machine, so a browser here
// lands on the gateway's own callback page; elsewhere the browser shows "cannot connect" and the address is pasted.
std::string default_redirect(const app::config& c) {
    std::uint16_t port = 8080;
    if (auto it = c.listen.find("admin"); it != c.listen.end()) port = it->second.port;
    return "http://127.0.0.1:" + std::to_string(port) + "/oauth/callback";
}

template <class T> T run_on(asio::io_context& io, asio::awaitable<T> op) {
    std::optional<T> out;
    std::exception_ptr error;
    // Stops at the result: the token service keeps timers (refresh ahead) that would keep run() going.
    asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
        error = e;
        if (!e) out = std::move(value);
        io.stop();
    });
    io.restart();
    io.run();
    if (error) std::rethrow_exception(error);
    return std::move(*out);
}

} // namespace

int account_oauth_command(const std::vector<std::string>& args) {
    po::options_description own("Options");
    own.add_options()("name", po::value<std::string>(), "account name")(
        "device", "device authorization: prints a code and a URL to open anywhere, waits for the approval")(
        "paste",
        "authorization code + PKCE: prints a URL; paste the address the browser was sent to afterwards")(
        "redirect-uri", po::value<std::string>()->value_name("URI"),
        "loopback redirect for --paste (default http://127.0.0.1:ADMIN_PORT/oauth/callback)")(
        "no-test", "do not try a provider login with the new token");
    auto parsed = parse_command(args, "mailgate account oauth NAME (--device | --paste)", own, {"name"});
    if (!parsed) return 0;
    const auto& vm = parsed->values;
    if (!vm.count("name")) throw po::required_option("name");
    bool device = vm.count("device") > 0, paste = vm.count("paste") > 0;
    if (device == paste) return fail("give exactly one of --device and --paste");
    auto name = vm["name"].as<std::string>();
    const auto& config = parsed->config;

    store::account_repository repo(config.data_dir, config.store);
    repo.oauth().sync_config_clients(config.oauth_clients);
    auto account = repo.find(name);
    if (!account) return fail(account.error().message);
    if (account->credential != store::credential_kind::oauth2)
        return fail("account '" + name +
                    "' logs in with a password; OAuth2 consent is for --auth oauth2 accounts");
    auto client = repo.oauth().client(account->oauth_client);
    if (!client) return fail("OAuth client '" + account->oauth_client + "' is not configured");

    auto tls = net::make_upstream_context(config.upstream_ca_file);
    asio::io_context io;
    cli_store local(repo, io.get_executor(), *tls, config.upstream_timeout);
    oauth::consent_result result;
    if (device) {
        auto started = run_on(io, oauth::begin_device_consent(*client, *tls, config.upstream_timeout));
        if (auto* f = std::get_if<oauth::token_failure>(&started))
            return fail("device authorization failed: " + f->summary());
        auto& d = std::get<oauth::device_authorization>(started);
        std::cout << "To allow mailgate to use " << account->remote_user << ", open\n  " << d.verification_uri
                  << "\nand enter the code\n  " << d.user_code << "\n";
        if (!d.verification_uri_complete.empty())
            std::cout << "(or open " << d.verification_uri_complete << ")\n";
        std::cout << "Waiting up to " << d.expires_in << " s for the approval..." << std::endl;
        result = run_on(io, oauth::finish_device_consent(local.store(), account->id, *client, std::move(d),
                                                         *tls, config.upstream_timeout));
    } else {
        auto redirect =
            vm.count("redirect-uri") ? vm["redirect-uri"].as<std::string>() : default_redirect(config);
        if (client->authorize_url.empty())
            return fail("OAuth client '" + client->name + "' has no authorize_url; use --device");
        auto request = oauth::start_authorization(*client, redirect, account->remote_user);
        std::cout << "Open this address in a browser and sign in as " << account->remote_user << ":\n\n  "
                  << request.url << "\n\nThe browser is then sent to " << redirect
                  << "?... (it may say it cannot connect).\nPaste that whole address here and press Enter:"
                  << std::endl;
        std::string line;
        if (!std::getline(std::cin, line)) return fail("no address was pasted");
        auto response = oauth::parse_authorization_response(line);
        if (!response) return fail("that address has neither a code nor an error");
        if (!response->error.empty())
            return fail("the provider refused: " + response->error +
                        (response->error_description.empty() ? "" : ": " + response->error_description));
        if (response->state != request.state)
            return fail("the address does not belong to this request (state differs): start again");
        result =
            run_on(io, oauth::exchange_code(local.store(), account->id, *client, std::move(response->code),
                                            request.code_verifier, redirect, *tls, config.upstream_timeout));
        store::wipe(request.code_verifier);
    }
    if (!result.ok) return fail("consent failed: " + result.message());
    std::cout << result.message() << std::endl;
    if (vm.count("no-test")) return 0;

    auto fresh = repo.find(name);
    auto endpoint = fresh->endpoints.find(domain::mail_protocol::imap);
    if (endpoint == fresh->endpoints.end()) endpoint = fresh->endpoints.begin();
    if (endpoint == fresh->endpoints.end()) return 0;
    std::cout << "trying " << endpoint->second.endpoint.url() << " with the new token" << std::endl;
    auto observer = [](net::upstream_step step, bool ok, const std::string& detail) {
        std::cout << "  " << (ok ? "\u2713 " : "\u2717 ") << net::to_string(step)
                  << (detail.empty() ? "" : ": ") << detail << std::endl;
    };
    auto probe =
        run_on(io, proxy::probe_endpoint(*fresh, endpoint->second.endpoint, local.access(), observer));
    repo.record_status(fresh->id, endpoint->first, probe.status, probe.reason);
    std::cout << (probe.ok ? "provider login with the new token works"
                           : "the provider login failed: " + probe.reason)
              << std::endl;
    return 0;
}

} // namespace mailgate::cli
