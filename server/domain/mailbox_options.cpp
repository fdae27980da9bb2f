#include "server/domain/mailbox_options.hpp"

#include "server/domain/providers.hpp"

namespace mailgate::domain {

std::string_view to_string(pop3_source s) { return s == pop3_source::imap ? "imap" : "native"; }

std::string_view to_string(save_sent s) {
    switch (s) {
    case save_sent::always: return "always";
    case save_sent::never: return "never";
    case save_sent::automatic: break;
    }
    return "auto";
}

std::optional<pop3_source> pop3_source_from_string(std::string_view s) {
    if (s == "native") return pop3_source::native;
    if (s == "imap") return pop3_source::imap;
    return std::nullopt;
}

std::optional<save_sent> save_sent_from_string(std::string_view s) {
    if (s == "auto") return save_sent::automatic;
    if (s == "always") return save_sent::always;
    if (s == "never") return save_sent::never;
    return std::nullopt;
}

mailbox_options default_mailbox_options(std::string_view provider) {
    mailbox_options options;
    if (const auto* preset = find_provider(provider); preset && preset->pop3.empty() && !preset->imap.empty())
        options.pop3 = pop3_source::imap;
    if (provider == "icloud") options.sent_folder = "Sent Messages"; // iCloud's own name for it
    return options;
}

bool saves_sent_copy(const mailbox_options& options, std::string_view provider) {
    switch (options.sent) {
    case save_sent::always: return true;
    case save_sent::never: return false;
    case save_sent::automatic: break;
    }
    const auto* preset = find_provider(provider);
    return !(preset && preset->stores_sent);
}

namespace {

// What is wrong with a folder name, if anything.
std::optional<std::string> folder_problem(const std::string& what, std::string_view name) {
    if (name.empty()) return what + " must not be empty";
    if (name.size() > 255) return what + " is longer than 255 bytes";
    for (unsigned char c : name) {
        if (c == '\r' || c == '\n' || c == 0) return what + " must not contain CR, LF or NUL";
        if (c < 0x20 || c >= 0x7f)
            return what + " must be printable ASCII: the folder's name as the provider lists it over IMAP "
                          "(non-ASCII names in their modified UTF-7 form, e.g. \"Entw&APw-rfe\")";
    }
    return std::nullopt;
}

} // namespace

user_result<void> validate_mailbox_options(const mailbox_options& options, bool has_imap_endpoint) {
    if (options.pop3 == pop3_source::imap && !has_imap_endpoint)
        return user_error{"pop3_source imap needs an IMAP endpoint"};
    auto problem = folder_problem("pop3_folder", options.pop3_folder);
    if (!problem) problem = folder_problem("sent_folder", options.sent_folder);
    if (problem) return user_error{*problem};
    return {};
}

} // namespace mailgate::domain
