// The LAN certificates in the admin API.
#include "server/admin/tls_api.hpp"

#include "server/admin/admin_api.hpp"
#include "server/net/certificate_manager.hpp"
#include "server/net/tls_contexts.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace mailgate::admin {

namespace http = boost::beast::http;
namespace json = boost::json;
using status = http::status;

namespace {

struct trust_item {
    std::string label;
    std::filesystem::path file;
};

// What a client installs to trust the gateway: the local CA, or each self-signed leaf, or for configured files
// the last certificate each chain file carries (its root or intermediate).
std::vector<trust_item> trust_items(const net::certificate_state& s) {
    std::vector<trust_item> out;
    if (!s.ca_cert.empty()) {
        out.push_back({"local CA", s.ca_cert});
        return out;
    }
    for (std::size_t i = 0; i < s.pairs.size() && i < s.certificates.size(); ++i)
        out.push_back({s.certificates[i].key_type, s.pairs[i].cert});
    return out;
}

json::object to_json(const net::certificate_info& c) {
    json::array names;
    for (const auto& n : c.names) names.emplace_back(n);
    return json::object{{"subject", c.subject},      {"issuer", c.issuer},
                        {"names", std::move(names)}, {"not_before", c.not_before},
                        {"not_after", c.not_after},  {"key_type", c.key_type},
                        {"sha256", c.sha256},        {"self_signed", c.self_signed}};
}

} // namespace

response tls_request(net::certificate_manager* certificates, const request& req,
                     const std::vector<std::string>& parts) {
    auto version = req.version();
    if (!certificates) return admin_api::json_error(status::not_found, version, "no certificates");
    if (parts.size() == 1 && req.method() == http::verb::get) {
        auto s = certificates->state();
        json::array certs, trust;
        for (const auto& c : s.certificates) certs.push_back(to_json(c));
        auto items = trust_items(s);
        for (std::size_t i = 0; i < items.size(); ++i) {
            auto chain = net::read_certificate_file(items[i].file);
            if (chain.empty()) continue;
            const auto& top = chain.back();
            trust.push_back(json::object{{"label", items[i].label},
                                         {"subject", top.subject},
                                         {"sha256", top.sha256},
                                         {"not_after", top.not_after},
                                         {"pem", "tls/trust/" + std::to_string(i) + ".pem"},
                                         {"der", "tls/trust/" + std::to_string(i) + ".crt"}});
        }
        json::object out{{"source", s.source},
                         {"min_version", net::to_string(s.floor)},
                         {"legacy", net::legacy_profile(s.floor)},
                         {"loaded_at", s.loaded_at},
                         {"certificates", std::move(certs)},
                         {"trust", std::move(trust)}};
        return admin_api::make(status::ok, version, "application/json", json::serialize(out));
    }
    if (parts.size() == 2 && parts[1] == "reload" && req.method() == http::verb::post) {
        auto result = certificates->reload();
        if (!result.ok) return admin_api::json_error(status::unprocessable_entity, version, result.message);
        return admin_api::make(status::ok, version, "application/json",
                               json::serialize(json::object{{"message", result.message}}));
    }
    if (parts.size() == 3 && parts[1] == "trust" && req.method() == http::verb::get) {
        auto items = trust_items(certificates->state());
        const auto& file = parts[2];
        auto dot = file.find('.');
        std::size_t index = 0;
        bool number = dot == 1 && file[0] >= '0' && file[0] <= '9';
        if (number) index = static_cast<std::size_t>(file[0] - '0');
        auto kind = dot == std::string::npos ? std::string() : file.substr(dot);
        if (!number || index >= items.size() || (kind != ".pem" && kind != ".crt"))
            return admin_api::json_error(status::not_found, version, "no such certificate");
        auto exported = net::export_last_certificate(items[index].file);
        if (exported.der.empty())
            return admin_api::json_error(status::not_found, version, "certificate not readable");
        bool der = kind == ".crt";
        auto res =
            admin_api::make(status::ok, version, der ? "application/pkix-cert" : "application/x-pem-file",
                            der ? std::move(exported.der) : std::move(exported.pem));
        std::string label = items[index].label;
        for (auto& ch : label)
            if (ch == ' ') ch = '-';
        res.set(http::field::content_disposition,
                "attachment; filename=\"mailgate-" + label + (der ? ".crt" : ".pem") + "\"");
        return res;
    }
    return admin_api::json_error(status::not_found, version, "not found");
}

} // namespace mailgate::admin
