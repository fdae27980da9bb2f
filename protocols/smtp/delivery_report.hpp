// A delivery status notification (RFC 3464, in a multipart/report of RFC 6522) for recipients the gateway
// could not deliver a spooled message to: the text for the sender, one per-recipient block with the provider's
// reply, and the original message's header section (text/rfc822-headers).
#pragma once

#include <string>
#include <vector>

namespace mailgate::protocols::smtp {

struct failed_recipient {
    std::string address;
    std::string reply;    // the provider's reply ("550 5.1.1 No such user"), or why it was given up
    bool expired = false; // retried until the spool lifetime ran out (a 4xx then), not refused
};

struct delivery_report_input {
    std::string reporting_host;   // the gateway's host name
    std::string from_address;     // who the report comes from (an address the account may send as)
    std::string to_address;       // the original envelope sender
    std::string date;             // RFC 5322 date of now
    std::string arrival_date;     // RFC 5322 date the gateway accepted the message
    std::string message_id;       // "<...@host>" for the report itself
    std::string boundary;         // unique MIME boundary (random)
    std::string original_headers; // CRLF lines, may be empty
    std::vector<failed_recipient> recipients;
};

// The whole report as a message (CRLF lines, not dot-stuffed).
std::string compose_delivery_report(const delivery_report_input& in);

// RFC 3463 status of a reply: its enhanced code when it has one, else 5.0.0 / 4.0.0 by class; 4.4.7 when
// `expired`.
std::string status_of(const failed_recipient& r);

} // namespace mailgate::protocols::smtp
