// Small pieces shared by the admin API's handlers: reading JSON members with one error style, cookies, and text
// made safe for the few server-rendered HTML pages.
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::admin {

// Reads an optional string member; false (with `error`) when present but not a string.
inline bool read_string(const boost::json::object& o, const char* key, std::optional<std::string>& out,
                        std::string& error) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return true;
    if (!it->value().is_string()) {
        error = std::string(key) + " must be a string";
        return false;
    }
    out = std::string(it->value().as_string());
    return true;
}

inline bool read_strings(const boost::json::object& o, const char* key,
                         std::optional<std::vector<std::string>>& out, std::string& error) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return true;
    if (!it->value().is_array()) {
        error = std::string(key) + " must be a list of strings";
        return false;
    }
    out.emplace();
    for (const auto& v : it->value().as_array()) {
        if (!v.is_string()) {
            error = std::string(key) + " must be a list of strings";
            return false;
        }
        out->emplace_back(v.as_string());
    }
    return true;
}

inline bool read_bool(const boost::json::object& o, const char* key, bool& out, std::string& error) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return true;
    if (!it->value().is_bool()) {
        error = std::string(key) + " must be true or false";
        return false;
    }
    out = it->value().as_bool();
    return true;
}

// The same, for a field whose absence means "leave as it is".
inline bool read_bool(const boost::json::object& o, const char* key, std::optional<bool>& out,
                      std::string& error) {
    bool value = false;
    if (!o.contains(key) || o.at(key).is_null()) return true;
    if (!read_bool(o, key, value, error)) return false;
    out = value;
    return true;
}

// Overwrites a string member of a parsed body that carried a secret (the parsed copy outlives the request body).
inline void wipe_member(boost::json::object& o, const char* key) {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return;
    auto& s = it->value().as_string();
    for (auto& c : s) c = '\0';
}

// The value of cookie `name`, when the request carries it.
template <class Request> std::optional<std::string> cookie_value(const Request& req, std::string_view name) {
    std::string_view cookies = req[boost::beast::http::field::cookie];
    while (!cookies.empty()) {
        auto end = cookies.find(';');
        auto item = cookies.substr(0, end);
        while (item.starts_with(' ')) item.remove_prefix(1);
        if (item.size() > name.size() && item.starts_with(name) && item[name.size()] == '=')
            return std::string(item.substr(name.size() + 1));
        if (end == std::string_view::npos) break;
        cookies.remove_prefix(end + 1);
    }
    return std::nullopt;
}

inline std::string html_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

} // namespace mailgate::admin
