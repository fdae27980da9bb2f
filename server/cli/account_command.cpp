// `mailgate account add|list|show|remove|enable|disable|passwd` (and dispatch to `test`).
#include "server/cli/command_line.hpp"
#include "server/cli/commands.hpp"
#include "server/domain/account_input.hpp"
#include "server/store/account_repository.hpp"
#include "server/store/account_view.hpp"

#include <boost/json/serialize.hpp>

#include <iostream>

namespace mailgate::cli {
namespace {

constexpr const char* account_usage = R"(Usage: mailgate account SUBCOMMAND [OPTIONS]

Subcommands:
  add NAME --local-user U --remote-user R (--provider P | --imap URL --pop3 URL --smtp URL) [--sender ADDR ...]
      [--auth password|oauth2 --oauth-client CLIENT]
      [--pop3-source native|imap] [--pop3-folder F] [--pop3-mark-seen] [--save-sent auto|always|never]
      [--sent-folder F] [--challenge-logins]
  set NAME [--pop3-source native|imap] [--pop3-folder F] [--pop3-mark-seen yes|no]
      [--save-sent auto|always|never] [--sent-folder F] [--challenge-logins off]
  list [--json]
  show NAME
  remove NAME
  enable NAME | disable NAME
  passwd NAME [--remote | --challenge-logins on|off]
  test NAME
  oauth NAME (--device | --paste)      consent for an oauth2 account (works while the gateway runs)

Passwords never come from the command line: MAILGATE_LOCAL_PASSWORD and MAILGATE_REMOTE_PASSWORD, else a prompt.
--challenge-logins allows APOP and CRAM-MD5 for the account: its local password is then also kept encrypted in
reversible form (those digests need it), so turning it on takes the password (add, passwd); off forgets the copy.
Each subcommand takes --help, --data-dir DIR and --config FILE.
)";

int fail(const std::string& message) {
    std::cerr << "mailgate: " << message << "\n";
    return 1;
}

std::string required(const po::variables_map& vm, const char* key) {
    if (!vm.count(key)) throw po::required_option(key);
    return vm[key].as<std::string>();
}

// A yes/no option's value (yes, no, on, off, true, false), else nullopt.
std::optional<bool> yes_or_no(const std::string& v) {
    if (v == "yes" || v == "on" || v == "true") return true;
    if (v == "no" || v == "off" || v == "false") return false;
    return std::nullopt;
}

// --pop3-source, --pop3-folder, --pop3-mark-seen, --save-sent, --sent-folder; for `set` the mark-seen flag
// takes yes|no, so that it can be turned off again.
void add_mailbox_options(po::options_description& own, bool explicit_flag) {
    own.add_options()("pop3-source", po::value<std::string>()->value_name("S"),
                      "native (relay to the provider's POP3) or imap (serve POP3 from an IMAP folder)")(
        "pop3-folder", po::value<std::string>()->value_name("F"),
        "the IMAP folder POP3 serves (default INBOX)")(
        "save-sent", po::value<std::string>()->value_name("WHEN"),
        "auto (unless the provider files sent mail itself), always or never")(
        "sent-folder", po::value<std::string>()->value_name("F"),
        "the IMAP folder Sent copies go to (default Sent)");
    if (explicit_flag)
        own.add_options()("pop3-mark-seen", po::value<std::string>()->value_name("yes|no"),
                          "whether RETR marks the message \\Seen");
    else
        own.add_options()("pop3-mark-seen", "RETR marks the message \\Seen (default: it does not)");
}

user_result<void> read_mailbox_options(const po::variables_map& vm, domain::mailbox_options& m,
                                       bool explicit_flag) {
    domain::mailbox_input in;
    auto text = [&](const char* key, std::optional<std::string>& out) {
        if (vm.count(key)) out = vm[key].as<std::string>();
    };
    text("pop3-source", in.pop3_source);
    text("pop3-folder", in.pop3_folder);
    text("save-sent", in.save_sent);
    text("sent-folder", in.sent_folder);
    if (vm.count("pop3-mark-seen")) {
        if (!explicit_flag) {
            in.pop3_mark_seen = true;
        } else {
            auto v = yes_or_no(vm["pop3-mark-seen"].as<std::string>());
            if (!v) return user_error{"--pop3-mark-seen: say yes or no"};
            in.pop3_mark_seen = *v;
        }
    }
    return domain::apply_mailbox_input(m, in);
}

int set(const std::vector<std::string>& args) {
    po::options_description own("Options");
    own.add_options()("name", po::value<std::string>(), "account name")(
        "challenge-logins", po::value<std::string>()->value_name("off"),
        "off: no more APOP / CRAM-MD5, and the reversible copy of the local password is forgotten");
    add_mailbox_options(own, true);
    auto parsed = parse_command(args, "mailgate account set NAME [OPTIONS]", own, {"name"});
    if (!parsed) return 0;
    const auto& vm = parsed->values;
    auto name = required(vm, "name");
    bool any = false;
    for (const char* key : {"pop3-source", "pop3-folder", "pop3-mark-seen", "save-sent", "sent-folder"})
        any = any || vm.count(key) > 0;
    std::optional<bool> challenge;
    if (vm.count("challenge-logins")) {
        challenge = yes_or_no(vm["challenge-logins"].as<std::string>());
        if (!challenge) return fail("--challenge-logins: say on or off");
        if (*challenge)
            return fail("allowing APOP / CRAM-MD5 needs the local password: 'mailgate account passwd " +
                        name + " --challenge-logins on'");
    }
    if (!any && !challenge) return fail("account set: nothing to change (see --help)");
    store::account_repository repo(parsed->config.data_dir, parsed->config.store);
    if (challenge) {
        if (auto r = repo.disable_challenge_logins(name); !r) return fail(r.error().message);
        if (!any) {
            std::cout << "account '" << name << "': APOP / CRAM-MD5 turned off\n"
                      << store::format_account(*repo.find(name));
            return 0;
        }
    }
    auto current = repo.find(name);
    if (!current) return fail(current.error().message);
    auto mailbox = current->mailbox;
    if (auto ok = read_mailbox_options(vm, mailbox, true); !ok) return fail(ok.error().message);
    auto updated = repo.update(name, {.mailbox = mailbox});
    if (!updated) return fail(updated.error().message);
    std::cout << "account '" << updated->name << "' updated\n" << store::format_account(*updated);
    return 0;
}

int add(const std::vector<std::string>& args) {
    po::options_description own("Options");
    own.add_options()("name", po::value<std::string>(), "account name")(
        "local-user", po::value<std::string>()->value_name("U"), "the user name legacy clients log in with")(
        "remote-user", po::value<std::string>()->value_name("R"),
        "the user name at the provider")("provider", po::value<std::string>()->value_name("P"),
                                         "gmail, outlook, yahoo, icloud, yahoo-jp, aol or custom")(
        "imap", po::value<std::string>()->value_name("URL"), "IMAP endpoint (imaps:// or imap+starttls://)")(
        "pop3", po::value<std::string>()->value_name("URL"), "POP3 endpoint (pop3s:// or pop3+starttls://)")(
        "smtp", po::value<std::string>()->value_name("URL"), "SMTP endpoint (smtps:// or smtp+starttls://)")(
        "sender", po::value<std::vector<std::string>>()->value_name("ADDR"),
        "allowed sender address (repeatable)")(
        "auth", po::value<std::string>()->value_name("KIND"),
        "provider login: password (an app password; default) or oauth2")(
        "oauth-client", po::value<std::string>()->value_name("CLIENT"),
        "oauth2: the [oauth.CLIENT] registration to use")(
        "challenge-logins", "allow APOP / CRAM-MD5 (keeps the local password encrypted, reversibly)");
    add_mailbox_options(own, false);
    auto parsed =
        parse_command(args,
                      "mailgate account add NAME --local-user U --remote-user R (--provider P | --imap "
                      "URL --pop3 URL --smtp URL) [--sender ADDR ...]",
                      own, {"name"});
    if (!parsed) return 0;
    const auto& vm = parsed->values;

    store::new_account a;
    a.name = required(vm, "name");
    a.local_user = required(vm, "local-user");
    a.remote_user = required(vm, "remote-user");
    domain::endpoint_input input;
    if (vm.count("provider")) input.provider = vm["provider"].as<std::string>();
    for (const char* protocol : {"imap", "pop3", "smtp"})
        if (vm.count(protocol)) input.urls[protocol] = vm[protocol].as<std::string>();
    auto endpoints = domain::resolve_endpoints(input);
    if (!endpoints) return fail(endpoints.error().message);
    a.provider = input.provider;
    a.endpoints = std::move(*endpoints);
    if (vm.count("sender")) a.senders = vm["sender"].as<std::vector<std::string>>();
    if (auto ok = domain::validate_senders(a.senders); !ok) return fail("--sender: " + ok.error().message);

    a.mailbox = domain::default_mailbox_options(a.provider);
    if (auto ok = read_mailbox_options(vm, a.mailbox, false); !ok) return fail(ok.error().message);
    auto auth = vm.count("auth") ? vm["auth"].as<std::string>() : std::string("password");
    if (auth != "password" && auth != "oauth2")
        return fail("--auth: '" + auth + "' is not password or oauth2");
    if (auth == "oauth2") {
        a.credential = store::credential_kind::oauth2;
        if (!vm.count("oauth-client")) return fail("--auth oauth2 needs --oauth-client CLIENT");
        a.oauth_client = vm["oauth-client"].as<std::string>();
    } else if (vm.count("oauth-client")) {
        return fail("--oauth-client is only for --auth oauth2");
    }
    store::account_repository repo(parsed->config.data_dir, parsed->config.store);
    repo.oauth().sync_config_clients(parsed->config.oauth_clients);
    a.challenge_logins = vm.count("challenge-logins") > 0;
    a.local_password = read_secret("MAILGATE_LOCAL_PASSWORD", "Local password for " + a.local_user, true);
    if (a.credential == store::credential_kind::password)
        a.remote_secret =
            read_secret("MAILGATE_REMOTE_PASSWORD", "Provider password for " + a.remote_user, true);
    auto created = repo.create(a);
    store::wipe(a.local_password);
    store::wipe(a.remote_secret);
    if (!created) return fail(created.error().message);
    std::cout << "account '" << created->name << "' added\n" << store::format_account(*created);
    return 0;
}

int list(const std::vector<std::string>& args) {
    po::options_description own("Options");
    own.add_options()("json", "print JSON");
    auto parsed = parse_command(args, "mailgate account list [--json]", own);
    if (!parsed) return 0;
    store::account_repository repo(parsed->config.data_dir, parsed->config.store);
    auto accounts = repo.list();
    if (parsed->values.count("json")) {
        boost::json::array out;
        for (const auto& a : accounts) out.push_back(store::account_json(a));
        std::cout << boost::json::serialize(out) << "\n";
        return 0;
    }
    if (accounts.empty()) {
        std::cout << "no accounts\n";
        return 0;
    }
    for (const auto& a : accounts) {
        std::string protocols, status;
        for (const auto& [protocol, e] : a.endpoints) {
            protocols += (protocols.empty() ? "" : ",") + std::string(domain::to_string(protocol));
            status += (status.empty() ? "" : ",") + std::string(store::to_string(e.status));
        }
        std::cout << a.name << "  local=" << a.local_user << "  remote=" << a.remote_user
                  << "  provider=" << a.provider << "  protocols=" << protocols << "  "
                  << (a.enabled ? "enabled" : "disabled")
                  << "  last-login=" << store::format_time(a.last_login_at) << "  upstream=" << status
                  << "\n";
    }
    return 0;
}

// show, remove, enable, disable: one NAME, one repository call.
int single(const std::string& sub, const std::vector<std::string>& args) {
    po::options_description own("Options");
    own.add_options()("name", po::value<std::string>(), "account name");
    auto parsed = parse_command(args, "mailgate account " + sub + " NAME", own, {"name"});
    if (!parsed) return 0;
    auto name = required(parsed->values, "name");
    store::account_repository repo(parsed->config.data_dir, parsed->config.store);
    if (sub == "show") {
        auto a = repo.find(name);
        if (!a) return fail(a.error().message);
        std::cout << store::format_account(*a);
        return 0;
    }
    auto result = sub == "remove" ? repo.remove(name) : repo.set_enabled(name, sub == "enable");
    if (!result) return fail(result.error().message);
    std::cout << "account '" << name << "' " << (sub == "remove" ? "removed" : sub + "d") << "\n";
    return 0;
}

int passwd(const std::vector<std::string>& args) {
    po::options_description own("Options");
    own.add_options()("name", po::value<std::string>(),
                      "account name")("remote", "set the provider password instead of the local one")(
        "challenge-logins", po::value<std::string>()->value_name("on|off"),
        "with the new local password, allow APOP / CRAM-MD5 (on) or not (off); unchanged when not given");
    auto parsed = parse_command(args, "mailgate account passwd NAME [--remote | --challenge-logins on|off]",
                                own, {"name"});
    if (!parsed) return 0;
    auto name = required(parsed->values, "name");
    bool remote = parsed->values.count("remote") > 0;
    std::optional<bool> challenge;
    if (parsed->values.count("challenge-logins")) {
        if (remote) return fail("--challenge-logins goes with the local password, not --remote");
        challenge = yes_or_no(parsed->values["challenge-logins"].as<std::string>());
        if (!challenge) return fail("--challenge-logins: say on or off");
    }
    store::account_repository repo(parsed->config.data_dir, parsed->config.store);
    if (auto a = repo.find(name); !a) return fail(a.error().message);
    auto secret = remote ? read_secret("MAILGATE_REMOTE_PASSWORD", "New provider password", true)
                         : read_secret("MAILGATE_LOCAL_PASSWORD", "New local password", true);
    auto result =
        remote ? repo.set_remote_secret(name, secret) : repo.set_local_password(name, secret, challenge);
    store::wipe(secret);
    if (!result) return fail(result.error().message);
    std::cout << (remote ? "provider" : "local") << " password of account '" << name << "' changed";
    if (challenge) std::cout << (*challenge ? "; APOP / CRAM-MD5 allowed" : "; APOP / CRAM-MD5 off");
    std::cout << "\n";
    return 0;
}

} // namespace

int account_command(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        std::cout << account_usage;
        return args.empty() ? 2 : 0;
    }
    std::vector<std::string> rest(args.begin() + 1, args.end());
    const auto& sub = args[0];
    if (sub == "set") return set(rest);
    if (sub == "add") return add(rest);
    if (sub == "list") return list(rest);
    if (sub == "show" || sub == "remove" || sub == "enable" || sub == "disable") return single(sub, rest);
    if (sub == "passwd") return passwd(rest);
    if (sub == "test") return account_test_command(rest);
    if (sub == "oauth") return account_oauth_command(rest);
    std::cerr << "mailgate: unknown account subcommand '" << sub << "'\n" << account_usage;
    return 2;
}

} // namespace mailgate::cli
