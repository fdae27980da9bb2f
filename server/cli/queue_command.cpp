// `mailgate queue list|show|retry|delete`: the SMTP spool's files, read and changed directly (a running gateway
// rescans its queue every few seconds and sees the change); on a PostgreSQL store, the spool the instances share,
// whose messages each owner retries or deletes when asked (store/spool_ledger.hpp).
#include "server/cli/command_line.hpp"
#include "server/cli/commands.hpp"
#include "server/spool/queue_item.hpp"
#include "server/store/account_repository.hpp"
#include "server/store/open_database.hpp"

#include <ctime>
#include <iostream>

namespace mailgate::cli {

namespace {

constexpr const char* usage =
    "Usage: mailgate queue list|show ID|retry ID|delete ID [OPTIONS]\n\n"
    "The SMTP spool (smtp.spool) in DATA_DIR/spool:\n"
    "  list       every queued message: id, state, account, sender, recipients, size,\n"
    "             age, attempts, last error\n"
    "  show ID    the message's header section\n"
    "  retry ID   deliver it at the next chance (also a failed one); ID 'all' for every\n"
    "  delete ID  remove it from the queue (never delivered, no report)\n"
    "With a PostgreSQL store: the spool all instances share; each message's owner\n"
    "retries or deletes it within seconds.\n";

std::string age(std::int64_t since) {
    auto seconds = std::max<std::int64_t>(0, std::time(nullptr) - since);
    if (seconds < 120) return std::to_string(seconds) + "s";
    if (seconds < 7200) return std::to_string(seconds / 60) + "m";
    if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + "h";
    return std::to_string(seconds / 86400) + "d";
}

void print(const spool::queue_item& q) {
    std::cout << q.id << "  " << q.state << (q.is_report ? " (delivery report)" : "") << "  account '"
              << q.account << "'  " << q.size << " octets  age " << age(q.received) << "  attempts "
              << q.attempts << "\n";
    std::cout << "  from <" << q.sender << ">\n";
    for (const auto& r : q.recipients) std::cout << "  to   <" << r << ">\n";
    for (const auto& f : q.failed) std::cout << "  refused " << f << "\n";
    if (!q.last_error.empty()) std::cout << "  last error: " << q.last_error << "\n";
    if (!q.instance.empty())
        std::cout << "  instance " << q.instance << (q.request.empty() ? "" : ", " + q.request + " asked")
                  << "\n";
}

int shared_queue(const std::string& verb, const std::string& id, const app::config& c) {
    store::account_repository repo(c.data_dir, c.store);
    auto items = spool::list_shared_queue(repo.spool());
    if (verb == "list") {
        std::uint64_t bytes = 0;
        for (const auto& q : items) {
            print(q);
            bytes += q.size;
        }
        std::cout << items.size() << " message(s), " << bytes << " octets in the shared spool\n";
        return 0;
    }
    std::vector<spool::queue_item> chosen;
    for (const auto& q : items)
        if (q.id == id || (verb == "retry" && id == "all")) chosen.push_back(q);
    if (chosen.empty() && id != "all") {
        std::cerr << "mailgate queue: no queued message '" << id << "'\n";
        return 1;
    }
    for (const auto& q : chosen) {
        if (verb == "show") {
            std::cout << spool::header_section(repo.spool().data_prefix(q.id, 64 * 1024).value_or(""));
        } else if (!repo.spool().request(q.id, verb)) {
            std::cout << q.id << ": no longer queued\n";
        } else {
            std::cout << q.id << ": " << verb << " asked of instance " << q.instance
                      << " (done at its next look, within seconds)\n";
        }
    }
    return 0;
}

} // namespace

int queue_command(const std::vector<std::string>& args) {
    bool help = args.empty() || args[0] == "--help" || args[0] == "-h";
    std::string verb = help ? "" : args[0];
    if (help || (verb != "list" && verb != "show" && verb != "retry" && verb != "delete")) {
        (help && !args.empty() ? std::cout : std::cerr) << usage;
        return help && !args.empty() ? 0 : 2;
    }
    std::vector<std::string> rest(args.begin() + 1, args.end());
    po::options_description own("Options");
    own.add_options()("id", po::value<std::string>(), "message id");
    auto parsed = parse_command(rest, usage, own, {"id"});
    if (!parsed) return 0;
    if (store::is_postgresql_location(parsed->config.store)) {
        if (verb != "list" && !parsed->values.count("id")) {
            std::cerr << "mailgate queue " << verb << ": give the message id (see mailgate queue list)\n";
            return 2;
        }
        return shared_queue(verb, verb == "list" ? "" : parsed->values["id"].as<std::string>(),
                            parsed->config);
    }
    spool::spool_directory dir(std::filesystem::path(parsed->config.data_dir) / "spool");
    if (verb == "list") {
        auto items = spool::list_queue(dir);
        for (const auto& q : items) print(q);
        std::cout << items.size() << " message(s), " << dir.total_bytes() << " octets in the spool\n";
        return 0;
    }
    if (!parsed->values.count("id")) {
        std::cerr << "mailgate queue " << verb << ": give the message id (see mailgate queue list)\n";
        return 2;
    }
    auto id = parsed->values["id"].as<std::string>();
    std::vector<std::string> ids;
    if (verb == "retry" && id == "all")
        ids = dir.list();
    else if (spool::spool_directory::valid_id(id) && dir.read(id))
        ids.push_back(id);
    else {
        std::cerr << "mailgate queue: no queued message '" << id << "'\n";
        return 1;
    }
    for (const auto& each : ids) {
        if (verb == "show") {
            std::cout << dir.headers(each).value_or("");
        } else if (verb == "retry") {
            auto state = dir.read_state(each);
            state.retry_now();
            if (!dir.write_state(each, state)) {
                std::cerr << "mailgate queue: cannot write the state of " << each << "\n";
                return 1;
            }
            std::cout << each << ": will be delivered at the next chance\n";
        } else {
            dir.remove(each);
            std::cout << each
                      << ": deleted (if the gateway is delivering it right now, that delivery finishes)\n";
        }
    }
    return 0;
}

} // namespace mailgate::cli
