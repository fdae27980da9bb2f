// Shared validation of account input.
#include "server/domain/account_input.hpp"

#include "server/domain/providers.hpp"

namespace mailgate::domain {

user_result<std::vector<domain::upstream_endpoint>> resolve_endpoints(const endpoint_input& input) {
    std::map<std::string, std::string> urls;
    if (input.provider != "custom") {
        const auto* preset = find_provider(input.provider);
        if (!preset) return user_error{"unknown provider '" + input.provider + "' (see mailgate providers)"};
        if (!preset->imap.empty()) urls["imap"] = preset->imap;
        if (!preset->pop3.empty()) urls["pop3"] = preset->pop3;
        if (!preset->smtp.empty()) urls["smtp"] = preset->smtp;
    }
    for (const auto& [protocol, url] : input.urls) {
        if (protocol != "imap" && protocol != "pop3" && protocol != "smtp")
            return user_error{"unknown protocol '" + protocol + "'"};
        if (!url.empty()) urls[protocol] = url; // explicit URLs override a preset's
    }
    if (urls.empty())
        return user_error{"choose a provider or give at least one of the imap, pop3, smtp URLs"};
    std::vector<domain::upstream_endpoint> out;
    for (const auto& [protocol, url] : urls) {
        auto endpoint = domain::parse_upstream_url(url);
        if (!endpoint) return user_error{protocol + ": " + endpoint.error().message};
        if (domain::to_string(endpoint->protocol) != protocol)
            return user_error{protocol + ": '" + url + "' is not a " + protocol + " URL"};
        out.push_back(*endpoint);
    }
    return out;
}

user_result<void> validate_senders(const std::vector<std::string>& senders) {
    for (const auto& s : senders)
        if (s.find('@') == std::string::npos || s.find_first_of(" <>\r\n\t\"") != std::string::npos ||
            s.size() > 254)
            return user_error{"'" + s + "' is not a mail address"};
    return {};
}

user_result<void> apply_mailbox_input(mailbox_options& options, const mailbox_input& input) {
    if (input.pop3_source) {
        auto source = pop3_source_from_string(*input.pop3_source);
        if (!source)
            return user_error{"pop3_source must be native or imap, not '" + *input.pop3_source + "'"};
        options.pop3 = *source;
    }
    if (input.save_sent) {
        auto sent = save_sent_from_string(*input.save_sent);
        if (!sent)
            return user_error{"save_sent must be auto, always or never, not '" + *input.save_sent + "'"};
        options.sent = *sent;
    }
    if (input.pop3_folder) options.pop3_folder = *input.pop3_folder;
    if (input.pop3_mark_seen) options.pop3_mark_seen = *input.pop3_mark_seen;
    if (input.sent_folder) options.sent_folder = *input.sent_folder;
    return {};
}

} // namespace mailgate::domain
