// An OAuth2 client registration the operator made with a provider (mailgate ships none), and the presets that
// fill in the provider's URLs, scopes and SASL mechanism.
#pragma once

#include "server/common/user_error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace mailgate::domain {

enum class sasl_mechanism { xoauth2, oauthbearer };
std::string_view to_string(sasl_mechanism m);

struct oauth_client {
    std::string name;
    std::string preset = "custom"; // google, microsoft, custom
    std::string client_id;
    std::string client_secret; // optional; a secret: never shown, stored sealed
    std::string authorize_url; // authorization code + PKCE
    std::string token_url;
    std::string device_url; // device authorization (RFC 8628); empty: not offered
    std::string revoke_url;
    std::string scope; // space separated
    sasl_mechanism mechanism = sasl_mechanism::xoauth2;
    std::string tenant;       // Microsoft: common, organizations, consumers or a tenant id
    bool from_config = false; // an [oauth.NAME] section: the admin page shows it read-only
};

// Fills what the preset knows and the client left empty (URLs keep any override, so tests and sovereign clouds
// can point elsewhere), then checks the result: https URLs only, a token URL, a client id, a known mechanism.
user_result<oauth_client> complete_client(oauth_client c);

// One setting by its config/API key ("client_id", "token_url", ...); false for an unknown key or bad value.
user_result<void> set_client_field(oauth_client& c, std::string_view key, std::string value);

// The preset's registration checklist, shown on the admin page and by the CLI.
std::vector<std::string> registration_checklist(std::string_view preset);

// Names the presets accept.
const std::vector<std::string>& preset_names();

} // namespace mailgate::domain
