// Presets and validation of OAuth2 client registrations.
#include "server/domain/oauth_client.hpp"

#include <boost/url/parse.hpp>

namespace mailgate::domain {
namespace {

const std::string microsoft_base = "https://login.microsoftonline.com/";

std::string replace_tenant(std::string url, const std::string& tenant) {
    if (auto at = url.find("{tenant}"); at != std::string::npos) url.replace(at, 8, tenant);
    return url;
}

void fill(std::string& field, std::string value) {
    if (field.empty()) field = std::move(value);
}

user_result<void> check_https(std::string_view key, const std::string& url, bool required) {
    if (url.empty()) {
        if (required) return user_error{std::string(key) + " is required"};
        return {};
    }
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed || parsed->scheme() != "https" || parsed->host().empty())
        return user_error{std::string(key) + ": '" + url +
                          "' is not an https:// URL (plain HTTP is never used)"};
    return {};
}

} // namespace

std::string_view to_string(sasl_mechanism m) {
    return m == sasl_mechanism::oauthbearer ? "oauthbearer" : "xoauth2";
}

const std::vector<std::string>& preset_names() {
    static const std::vector<std::string> names{"google", "microsoft", "custom"};
    return names;
}

user_result<void> set_client_field(oauth_client& c, std::string_view key, std::string value) {
    if (key == "preset") {
        if (std::find(preset_names().begin(), preset_names().end(), value) == preset_names().end())
            return user_error{"preset: '" + value + "' is not one of google, microsoft, custom"};
        c.preset = std::move(value);
    } else if (key == "client_id")
        c.client_id = std::move(value);
    else if (key == "client_secret")
        c.client_secret = std::move(value);
    else if (key == "authorize_url")
        c.authorize_url = std::move(value);
    else if (key == "token_url")
        c.token_url = std::move(value);
    else if (key == "device_url")
        c.device_url = std::move(value);
    else if (key == "revoke_url")
        c.revoke_url = std::move(value);
    else if (key == "scope")
        c.scope = std::move(value);
    else if (key == "tenant")
        c.tenant = std::move(value);
    else if (key == "mechanism") {
        if (value == "xoauth2")
            c.mechanism = sasl_mechanism::xoauth2;
        else if (value == "oauthbearer")
            c.mechanism = sasl_mechanism::oauthbearer;
        else
            return user_error{"mechanism: '" + value + "' is not xoauth2 or oauthbearer"};
    } else
        return user_error{"unknown OAuth client setting '" + std::string(key) + "'"};
    return {};
}

user_result<oauth_client> complete_client(oauth_client c) {
    if (c.name.empty()) return user_error{"an OAuth client needs a name"};
    for (char ch : c.name)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.')
            return user_error{"OAuth client name '" + c.name +
                              "': use letters, digits, '-', '_' and '.' only"};
    if (c.preset == "google") {
        fill(c.authorize_url, "https://accounts.google.com/o/oauth2/v2/auth");
        fill(c.token_url, "https://oauth2.googleapis.com/token");
        fill(c.revoke_url, "https://oauth2.googleapis.com/revoke");
        fill(c.scope, "https://mail.google.com/");
        // Google's device flow does not grant the mail scope: authorization code + PKCE only.
    } else if (c.preset == "microsoft") {
        if (c.tenant.empty()) c.tenant = "common";
        fill(c.authorize_url, microsoft_base + "{tenant}/oauth2/v2.0/authorize");
        fill(c.token_url, microsoft_base + "{tenant}/oauth2/v2.0/token");
        fill(c.device_url, microsoft_base + "{tenant}/oauth2/v2.0/devicecode");
        fill(c.scope, "https://outlook.office.com/IMAP.AccessAsUser.All "
                      "https://outlook.office.com/POP.AccessAsUser.All "
                      "https://outlook.office.com/SMTP.Send offline_access");
        if (c.mechanism != sasl_mechanism::xoauth2)
            return user_error{"mechanism: Microsoft accepts only xoauth2"};
        for (auto* url : {&c.authorize_url, &c.token_url, &c.device_url})
            *url = replace_tenant(*url, c.tenant);
    }
    if (c.client_id.empty()) return user_error{"client_id is required"};
    if (c.scope.empty()) return user_error{"scope is required"};
    if (auto r = check_https("token_url", c.token_url, true); !r) return r.error();
    if (auto r = check_https("authorize_url", c.authorize_url, false); !r) return r.error();
    if (auto r = check_https("device_url", c.device_url, false); !r) return r.error();
    if (auto r = check_https("revoke_url", c.revoke_url, false); !r) return r.error();
    if (c.authorize_url.empty() && c.device_url.empty())
        return user_error{"an OAuth client needs authorize_url or device_url (or both) to obtain consent"};
    return c;
}

std::vector<std::string> registration_checklist(std::string_view preset) {
    if (preset == "google")
        return {
            "Google Cloud console: APIs & Services > Credentials > Create OAuth client ID, type 'Desktop "
            "app'.",
            "Copy the client ID and the client secret (a Desktop client needs its secret even with PKCE).",
            "OAuth consent screen: add the scope https://mail.google.com/ and set the publishing status to "
            "'In production' (in 'Testing', refresh tokens stop working after 7 days).",
            "Consent with the authorization-code flow (Google's device flow does not allow the mail scope)."};
    if (preset == "microsoft")
        return {
            "Microsoft Entra admin center: App registrations > New registration; redirect URI type 'Public "
            "client/native' with http://localhost (loopback; any port is accepted).",
            "Authentication: 'Allow public client flows' = Yes (needed for the device code).",
            "API permissions: delegated Office 365 Exchange Online IMAP.AccessAsUser.All, "
            "POP.AccessAsUser.All, "
            "SMTP.Send, and offline_access; grant admin consent where the tenant requires it.",
            "A public client has no secret: leave client_secret empty. Set tenant to your tenant id or "
            "'organizations' for work accounts, 'consumers' for Outlook.com (default 'common').",
            "Exchange Online: SMTP AUTH must be enabled for the mailbox (Set-CASMailbox "
            "-SmtpClientAuthenticationDisabled $false)."};
    return {
        "Register a client with the provider that allows the authorization code flow with PKCE and a "
        "loopback "
        "redirect (http://127.0.0.1:PORT/oauth/callback) and/or the device authorization grant.",
        "Fill in token_url and authorize_url and/or device_url, the scope that grants IMAP/POP/SMTP access "
        "(plus whatever makes the provider issue a refresh token, e.g. offline_access), and the mechanism."};
}

} // namespace mailgate::domain
