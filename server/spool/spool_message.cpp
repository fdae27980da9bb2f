// The spool's envelope and state files: serialization and parsing.
#include "server/spool/spool_message.hpp"

#include <charconv>

namespace mailgate::spool {

namespace {

constexpr std::string_view magic = "mailgate-spool 1";

template <class Int> bool parse_int(std::string_view text, Int& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

// Splits "key value" at the first space.
void split(std::string_view line, std::string_view& key, std::string_view& value) {
    auto space = line.find(' ');
    key = line.substr(0, space);
    value = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
}

} // namespace

std::string one_line(std::string_view text, std::size_t max) {
    std::string out;
    for (char c : text.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    return out;
}

std::string path_address(std::string_view line) {
    auto open = line.find('<');
    auto close = line.find('>', open == std::string_view::npos ? 0 : open);
    if (open == std::string_view::npos || close == std::string_view::npos) return {};
    return std::string(line.substr(open + 1, close - open - 1));
}

std::string serialize_envelope(const envelope& e) {
    std::string out(magic);
    out += "\nid " + e.id;
    out += "\naccount " + std::to_string(e.account_id);
    out += "\naccount-name " + one_line(e.account_name);
    out += "\nreceived " + std::to_string(e.received);
    out += "\npeer " + one_line(e.peer);
    out += "\nsession " + std::to_string(e.session);
    out += "\nreport " + std::string(e.is_report ? "1" : "0");
    if (e.shared) out += "\nshared 1";
    out += "\nmail " + one_line(e.mail, 2000);
    for (const auto& r : e.rcpt) out += "\nrcpt " + one_line(r, 2000);
    out += "\n\n";
    return out;
}

std::optional<envelope> parse_envelope(std::string_view text, std::size_t& head_size) {
    envelope e;
    std::size_t pos = 0;
    bool first = true, has_mail = false;
    for (;;) {
        auto nl = text.find('\n', pos);
        if (nl == std::string_view::npos) return std::nullopt; // incomplete
        auto line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (first) {
            if (line != magic) return std::nullopt;
            first = false;
            continue;
        }
        if (line.empty()) break;
        std::string_view key, value;
        split(line, key, value);
        if (key == "id")
            e.id = value;
        else if (key == "account" && !parse_int(value, e.account_id))
            return std::nullopt;
        else if (key == "account-name")
            e.account_name = value;
        else if (key == "received" && !parse_int(value, e.received))
            return std::nullopt;
        else if (key == "peer")
            e.peer = value;
        else if (key == "session")
            parse_int(value, e.session);
        else if (key == "report")
            e.is_report = value == "1";
        else if (key == "shared")
            e.shared = value == "1";
        else if (key == "mail") {
            e.mail = value;
            has_mail = true;
        } else if (key == "rcpt")
            e.rcpt.emplace_back(value);
    }
    if (e.id.empty() || !has_mail || e.rcpt.empty() || e.account_id <= 0) return std::nullopt;
    head_size = pos;
    return e;
}

void delivery_state::set(std::size_t index, recipient_outcome o) {
    if (recipients.size() <= index) recipients.resize(index + 1);
    recipients[index] = std::move(o);
}

void delivery_state::retry_now() {
    next_attempt = 0;
    failed = false;
    reported = false;
    for (auto& r : recipients)
        if (r.what == recipient_outcome::kind::failed) r = {};
}

std::string serialize_state(const delivery_state& s) {
    std::string out = "attempts " + std::to_string(s.attempts) + "\n";
    out += "next " + std::to_string(s.next_attempt) + "\n";
    if (!s.last_error.empty()) out += "error " + one_line(s.last_error) + "\n";
    for (std::size_t i = 0; i < s.recipients.size(); ++i) {
        const auto& r = s.recipients[i];
        if (r.what == recipient_outcome::kind::delivered) out += "delivered " + std::to_string(i) + "\n";
        if (r.what == recipient_outcome::kind::failed)
            out += "failed " + std::to_string(i) + " " + one_line(r.reply) + "\n";
    }
    if (s.failed) out += "given-up\n";
    if (s.reported) out += "reported\n";
    if (s.in_doubt) out += "in-doubt\n";
    return out;
}

delivery_state parse_state(std::string_view text) {
    delivery_state s;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        auto line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        std::string_view key, value;
        split(line, key, value);
        std::size_t index = 0;
        if (key == "attempts")
            parse_int(value, s.attempts);
        else if (key == "next")
            parse_int(value, s.next_attempt);
        else if (key == "error")
            s.last_error = value;
        else if (key == "delivered" && parse_int(value, index) && index < 10000)
            s.set(index, {recipient_outcome::kind::delivered, {}});
        else if (key == "failed") {
            std::string_view number, reply;
            split(value, number, reply);
            if (parse_int(number, index) && index < 10000)
                s.set(index, {recipient_outcome::kind::failed, std::string(reply)});
        } else if (key == "given-up")
            s.failed = true;
        else if (key == "reported")
            s.reported = true;
        else if (key == "in-doubt")
            s.in_doubt = true;
    }
    return s;
}

} // namespace mailgate::spool
