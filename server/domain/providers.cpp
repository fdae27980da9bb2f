// The preset table. Every endpoint is TLS: implicit on 993/995/465, STARTTLS on 587.
#include "server/domain/providers.hpp"

namespace mailgate::domain {

const std::vector<provider_preset>& provider_presets() {
    static const std::vector<provider_preset> presets{
        {"gmail", "Gmail / Google Workspace", "imaps://imap.gmail.com:993", "pop3s://pop.gmail.com:995",
         "smtps://smtp.gmail.com:465", "full address + app password (needs 2-Step Verification)", true},
        {"outlook", "Outlook.com / Microsoft 365", "imaps://outlook.office365.com:993",
         "pop3s://outlook.office365.com:995", "smtp+starttls://smtp.office365.com:587",
         "Microsoft has turned basic auth off for IMAP/POP (OAuth2 only); SMTP AUTH basic is being retired",
         true},
        {"yahoo", "Yahoo Mail", "imaps://imap.mail.yahoo.com:993", "pop3s://pop.mail.yahoo.com:995",
         "smtps://smtp.mail.yahoo.com:465", "full address + app password"},
        {"aol", "AOL Mail", "imaps://imap.aol.com:993", "pop3s://pop.aol.com:995", "smtps://smtp.aol.com:465",
         "full address + app password"},
        {"icloud", "iCloud Mail", "imaps://imap.mail.me.com:993", "", "smtp+starttls://smtp.mail.me.com:587",
         "address + app-specific password; iCloud has no POP3"},
        {"yahoo-jp", "Yahoo! JAPAN", "imaps://imap.mail.yahoo.co.jp:993", "pop3s://pop.mail.yahoo.co.jp:995",
         "smtps://smtp.mail.yahoo.co.jp:465", "Yahoo! JAPAN ID + password"},
    };
    return presets;
}

const provider_preset* find_provider(std::string_view name) {
    for (const auto& p : provider_presets())
        if (p.name == name) return &p;
    return nullptr;
}

} // namespace mailgate::domain
