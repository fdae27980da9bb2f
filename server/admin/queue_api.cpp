// The SMTP queue in the admin API.
#include "server/admin/queue_api.hpp"

#include "server/admin/admin_api.hpp"
#include "server/proxy/spool_service.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace mailgate::admin {

namespace http = boost::beast::http;
namespace json = boost::json;
using status = http::status;

namespace {

json::array strings(const std::vector<std::string>& list) {
    json::array out;
    for (const auto& s : list) out.emplace_back(s);
    return out;
}

json::object to_json(const spool::queue_item& q) {
    return json::object{{"id", q.id},
                        {"account", q.account},
                        {"sender", q.sender},
                        {"recipients", strings(q.recipients)},
                        {"failed", strings(q.failed)},
                        {"size", q.size},
                        {"received", q.received},
                        {"attempts", q.attempts},
                        {"next_attempt", q.next_attempt},
                        {"last_error", q.last_error},
                        {"state", q.state},
                        {"report", q.is_report},
                        {"instance", q.instance},
                        {"request", q.request}};
}

response changed(proxy::spool_service::change c, unsigned version) {
    switch (c) {
    case proxy::spool_service::change::done:
        return admin_api::make(status::ok, version, "application/json", "{}");
    case proxy::spool_service::change::busy:
        return admin_api::json_error(status::conflict, version, "the message is being delivered right now");
    case proxy::spool_service::change::requested:
        return admin_api::make(
            status::accepted, version, "application/json",
            R"({"requested":"the instance that owns the message does it within seconds"})");
    case proxy::spool_service::change::unavailable:
        return admin_api::json_error(status::service_unavailable, version,
                                     "the account store does not answer");
    case proxy::spool_service::change::not_found: break;
    }
    return admin_api::json_error(status::not_found, version, "no such queued message");
}

} // namespace

response queue_request(proxy::spool_service* spool, const request& req,
                       const std::vector<std::string>& parts) {
    auto version = req.version();
    if (!spool) return admin_api::json_error(status::not_found, version, "no mail queue");
    if (parts.size() == 1 && req.method() == http::verb::get) {
        json::array messages;
        for (const auto& q : spool->list()) messages.push_back(to_json(q));
        auto bytes = spool->used_bytes();
        json::object out{{"mode", std::string(proxy::to_string(spool->policy().mode))},
                         {"instance", spool->sharing().instance},
                         {"shared", spool->sharing().ledger != nullptr},
                         {"max_bytes", spool->policy().max_bytes},
                         {"bytes", bytes},
                         {"messages", std::move(messages)}};
        return admin_api::make(status::ok, version, "application/json", json::serialize(out));
    }
    if (parts.size() < 2 || !spool::spool_directory::valid_id(parts[1]))
        return admin_api::json_error(status::not_found, version, "no such queued message");
    const auto& id = parts[1];
    if (parts.size() == 2 && req.method() == http::verb::delete_) return changed(spool->remove(id), version);
    if (parts.size() == 3 && parts[2] == "retry" && req.method() == http::verb::post)
        return changed(spool->retry(id), version);
    if (parts.size() == 3 && parts[2] == "headers" && req.method() == http::verb::get) {
        auto headers = spool->headers(id);
        if (!headers) return admin_api::json_error(status::not_found, version, "no such queued message");
        return admin_api::make(status::ok, version, "application/json",
                               json::serialize(json::object{{"id", id}, {"headers", *headers}}));
    }
    return admin_api::json_error(status::method_not_allowed, version, "not supported");
}

} // namespace mailgate::admin
