// Provider presets (../shared/providers.md): endpoints and login advice per well-known provider.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::domain {

struct provider_preset {
    std::string_view name;
    std::string_view title;
    std::string_view imap; // empty: the provider has no such service
    std::string_view pop3;
    std::string_view smtp;
    std::string_view login_advice;
    bool stores_sent = false; // the provider files submitted mail into Sent by itself (no copy needed)
};

const std::vector<provider_preset>& provider_presets();
const provider_preset* find_provider(std::string_view name);

} // namespace mailgate::domain
