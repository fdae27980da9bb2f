// Composing RFC 3464 delivery status notifications.
#include "protocols/smtp/delivery_report.hpp"

#include <cctype>

namespace mailgate::protocols::smtp {

namespace {

// Header-safe: printable, no CR/LF, capped (the provider's text is not ours to trust).
std::string clean(std::string_view text, std::size_t max = 400) {
    std::string out;
    for (char c : text.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "5.1.1" at the start of `text` (RFC 3463 class.subject.detail), or "".
std::string enhanced_code(std::string_view text) {
    std::size_t i = 0;
    if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') return {};
    i = 2;
    auto digits = [&](std::size_t max) {
        std::size_t n = 0;
        while (i < text.size() && is_digit(text[i]) && n < max) ++i, ++n;
        return n > 0;
    };
    if (!digits(3) || i >= text.size() || text[i] != '.') return {};
    ++i;
    if (!digits(3)) return {};
    if (i < text.size() && text[i] != ' ') return {};
    return std::string(text.substr(0, i));
}

} // namespace

std::string status_of(const failed_recipient& r) {
    if (r.expired) return "4.4.7";
    std::string_view reply = r.reply;
    auto space = reply.find(' ');
    if (space != std::string_view::npos) {
        auto code = enhanced_code(reply.substr(space + 1));
        if (!code.empty()) return code;
    }
    return !reply.empty() && reply[0] == '4' ? "4.0.0" : "5.0.0";
}

std::string compose_delivery_report(const delivery_report_input& in) {
    const std::string crlf = "\r\n";
    std::string out;
    out += "From: Mail Delivery System <" + clean(in.from_address) + ">" + crlf;
    out += "To: <" + clean(in.to_address) + ">" + crlf;
    out += "Subject: Undelivered Mail Returned to Sender" + crlf;
    out += "Date: " + clean(in.date) + crlf;
    out += "Message-ID: " + clean(in.message_id) + crlf;
    out += "Auto-Submitted: auto-replied" + crlf; // RFC 3834: no vacation reply to this
    out += "MIME-Version: 1.0" + crlf;
    out += "Content-Type: multipart/report; report-type=delivery-status;" + crlf;
    out += "\tboundary=\"" + in.boundary + "\"" + crlf + crlf;
    out += "This is a MIME-encapsulated message." + crlf + crlf;

    out += "--" + in.boundary + crlf;
    out += "Content-Type: text/plain; charset=us-ascii" + crlf + crlf;
    out += "This is the mail gateway at " + clean(in.reporting_host) + "." + crlf + crlf;
    out += "Your message could not be delivered to the following recipient(s):" + crlf + crlf;
    for (const auto& r : in.recipients) {
        out += "  <" + clean(r.address) + ">: " + clean(r.reply) + crlf;
        if (r.expired)
            out += "    (the mail provider kept refusing it temporarily; the gateway gave up)" + crlf;
    }
    out += crlf;

    out += "--" + in.boundary + crlf;
    out += "Content-Type: message/delivery-status" + crlf + crlf;
    out += "Reporting-MTA: dns; " + clean(in.reporting_host) + crlf;
    out += "Arrival-Date: " + clean(in.arrival_date) + crlf;
    for (const auto& r : in.recipients) {
        out += crlf;
        out += "Final-Recipient: rfc822; " + clean(r.address) + crlf;
        out += "Action: failed" + crlf;
        out += "Status: " + status_of(r) + crlf;
        if (!r.reply.empty()) out += "Diagnostic-Code: smtp; " + clean(r.reply) + crlf;
    }
    out += crlf;

    out += "--" + in.boundary + crlf;
    out += "Content-Type: text/rfc822-headers" + crlf + crlf;
    std::string_view headers = in.original_headers;
    if (!headers.empty()) {
        out += headers;
        if (!headers.ends_with("\r\n")) out += crlf;
    }
    out += crlf + "--" + in.boundary + "--" + crlf;
    return out;
}

} // namespace mailgate::protocols::smtp
