// Client configuration documents: Mozilla's autoconfig format and Outlook's POX autodiscover (response schema
// 2006a), both written from the account record; nothing in them is secret.
#include "server/admin/client_setup.hpp"

#include "server/admin/request_util.hpp"

#include <boost/json/array.hpp>

#include <algorithm>

namespace mailgate::admin {
namespace {

// XML 1.0 has no place for control characters (other than tab and line ends): they are dropped, the rest
// escaped as for HTML.
std::string xml_escape(std::string_view text) {
    std::string kept;
    for (char c : text)
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') kept += c;
    return html_escape(kept);
}

bool serves(const store::account& a, domain::mail_protocol p) {
    using domain::mail_protocol;
    if (a.endpoints.contains(p)) return true;
    // POP3 served from an IMAP folder needs only the IMAP endpoint.
    return p == mail_protocol::pop3 && a.mailbox.pop3 == domain::pop3_source::imap &&
           a.endpoints.contains(mail_protocol::imap);
}

std::string element(std::string_view name, std::string_view value, std::string_view indent) {
    return std::string(indent) + "<" + std::string(name) + ">" + xml_escape(value) + "</" +
           std::string(name) + ">\n";
}

} // namespace

std::vector<mail_listener> listeners_for(const client_setup& setup, const store::account& a) {
    std::vector<mail_listener> out;
    for (const auto& l : setup.listeners)
        if (serves(a, l.protocol)) out.push_back(l);
    // IMAP before POP3, SMTP last; implicit TLS before STARTTLS (no STARTTLS stripping possible).
    std::stable_sort(out.begin(), out.end(), [](const mail_listener& x, const mail_listener& y) {
        auto rank = [](domain::mail_protocol p) {
            return p == domain::mail_protocol::imap ? 0 : p == domain::mail_protocol::pop3 ? 1 : 2;
        };
        if (rank(x.protocol) != rank(y.protocol)) return rank(x.protocol) < rank(y.protocol);
        return x.implicit_tls && !y.implicit_tls;
    });
    return out;
}

std::string autoconfig_xml(const client_setup& setup, const store::account& a, std::string_view address) {
    auto domain = address.substr(address.rfind('@') + 1);
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n";
    out += "  <emailProvider id=\"" + xml_escape(domain) + "\">\n";
    out += element("domain", domain, "    ");
    out += element("displayName", a.name + " (mailgate)", "    ");
    out += element("displayShortName", a.name, "    ");
    for (const auto& l : listeners_for(setup, a)) {
        bool outgoing = l.protocol == domain::mail_protocol::smtp;
        out += outgoing ? "    <outgoingServer type=\"" : "    <incomingServer type=\"";
        out += to_string(l.protocol);
        out += "\">\n";
        out += element("hostname", setup.server_name, "      ");
        out += element("port", std::to_string(l.port), "      ");
        out += element("socketType", l.implicit_tls ? "SSL" : "STARTTLS", "      ");
        out += element("username", a.local_user, "      ");
        out += element("authentication", "password-cleartext", "      ");
        out += outgoing ? "    </outgoingServer>\n" : "    </incomingServer>\n";
    }
    out += "  </emailProvider>\n</clientConfig>\n";
    return out;
}

std::string autodiscover_xml(const client_setup& setup, const store::account& a, std::string_view address) {
    std::string out =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
        "  <Response "
        "xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n"
        "    <User>\n" +
        element("DisplayName", address, "      ") +
        "    </User>\n"
        "    <Account>\n"
        "      <AccountType>email</AccountType>\n"
        "      <Action>settings</Action>\n";
    std::vector<domain::mail_protocol> done;
    for (const auto& l : listeners_for(setup, a)) {
        // One <Protocol> per type: the first listener is the preferred one (implicit TLS where there is one).
        if (std::find(done.begin(), done.end(), l.protocol) != done.end()) continue;
        done.push_back(l.protocol);
        auto type = l.protocol == domain::mail_protocol::imap   ? "IMAP"
                    : l.protocol == domain::mail_protocol::pop3 ? "POP3"
                                                                : "SMTP";
        out += "      <Protocol>\n";
        out += element("Type", type, "        ");
        out += element("Server", setup.server_name, "        ");
        out += element("Port", std::to_string(l.port), "        ");
        out += element("LoginName", a.local_user, "        ");
        out += element("DomainRequired", "off", "        ");
        out += element("SPA", "off", "        "); // NTLM is not offered: Outlook must not try it
        out += element("Encryption", l.implicit_tls ? "SSL" : "TLS", "        ");
        out += element("AuthRequired", "on", "        ");
        if (l.protocol == domain::mail_protocol::smtp) out += element("UsePOPAuth", "off", "        ");
        out += "      </Protocol>\n";
    }
    out += "    </Account>\n  </Response>\n</Autodiscover>\n";
    return out;
}

boost::json::object setup_json(const client_setup& setup, const store::account& a) {
    boost::json::array servers;
    for (const auto& l : listeners_for(setup, a))
        servers.push_back(boost::json::object{{"protocol", to_string(l.protocol)},
                                              {"port", l.port},
                                              {"security", l.implicit_tls ? "SSL/TLS" : "STARTTLS"}});
    return boost::json::object{{"server", setup.server_name},
                               {"user", a.local_user},
                               {"address", a.remote_user},
                               {"servers", std::move(servers)}};
}

std::string autodiscover_error_xml() {
    return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
           "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
           "  <Response>\n    <Error>\n      <ErrorCode>500</ErrorCode>\n"
           "      <Message>The e-mail address cannot be found.</Message>\n    </Error>\n  "
           "</Response>\n</Autodiscover>\n";
}

std::optional<std::string> autodiscover_request_address(std::string_view body) {
    // A lookup of one element, not an XML parser: the request is tiny and only this value is used.
    constexpr std::string_view open = "<EMailAddress>", close = "</EMailAddress>";
    auto start = body.find(open);
    if (start == std::string_view::npos) return std::nullopt;
    start += open.size();
    auto end = body.find(close, start);
    if (end == std::string_view::npos || end - start > 320) return std::nullopt;
    auto address = body.substr(start, end - start);
    while (!address.empty() && (address.front() == ' ' || address.front() == '\n' ||
                                address.front() == '\r' || address.front() == '\t'))
        address.remove_prefix(1);
    while (!address.empty() && (address.back() == ' ' || address.back() == '\n' || address.back() == '\r' ||
                                address.back() == '\t'))
        address.remove_suffix(1);
    if (address.empty() || address.find('<') != std::string_view::npos) return std::nullopt;
    return std::string(address);
}

} // namespace mailgate::admin
