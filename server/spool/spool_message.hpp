// What the SMTP spool keeps about one message: the envelope, written once before the data in the message file,
// and the delivery state beside it (attempts, next attempt, each recipient's outcome). Both are line-oriented
// text so that an administrator can read them with cat (README, "The spool").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::spool {

// The transaction as the gateway will re-originate it: the MAIL and RCPT command lines exactly as the SMTP
// server codec serialized them for the provider (CRLF left off), so delivery sends what a live session would.
struct envelope {
    std::string id;
    std::int64_t account_id = 0;
    std::string account_name;  // when spooled; the account is looked up again by id at delivery
    std::int64_t received = 0; // unix seconds
    std::string peer;
    std::uint64_t session = 0;
    std::string mail;              // "MAIL FROM:<a@example.org> BODY=8BITMIME"
    std::vector<std::string> rcpt; // "RCPT TO:<b@example.org>"
    bool is_report = false;        // a delivery report of ours: never answered with another one
    // Queued into the spool the instances of a shared store hold together (store/spool_ledger.hpp): delivered
    // only by the instance that owns it there.
    bool shared = false;
};

// The address inside the first <...> of a MAIL or RCPT line ("" for the null path).
std::string path_address(std::string_view command_line);

// "mailgate-spool 1\n" ... "\n": the message file's head; the DATA bytes follow it.
std::string serialize_envelope(const envelope& e);
// Parses the head at the start of `text`; `head_size` is where the data starts. nullopt when malformed or
// incomplete (a file that is not one of ours is never delivered).
std::optional<envelope> parse_envelope(std::string_view text, std::size_t& head_size);

struct recipient_outcome {
    enum class kind { pending, delivered, failed };
    kind what = kind::pending;
    std::string reply; // the provider's reply for failed ones ("550 5.1.1 ...")
};

struct delivery_state {
    unsigned attempts = 0;
    std::int64_t next_attempt = 0; // unix seconds; 0: as soon as possible
    std::string last_error;
    std::vector<recipient_outcome> recipients; // by RCPT index; missing ones are pending
    bool failed = false;                       // given up and kept for the administrator
    bool reported = false;                     // the delivery report for the failed recipients is spooled
    // The end of data went out and no reply came back before the attempt was cut off (a crash, a lost
    // connection): the provider may have the message, and sending it again may duplicate it (RFC 1047).
    bool in_doubt = false;

    recipient_outcome::kind outcome(std::size_t index) const {
        return index < recipients.size() ? recipients[index].what : recipient_outcome::kind::pending;
    }
    bool any_pending(std::size_t recipient_count) const {
        for (std::size_t i = 0; i < recipient_count; ++i)
            if (outcome(i) == recipient_outcome::kind::pending) return true;
        return false;
    }
    void set(std::size_t index, recipient_outcome o);
    // The administrator's "retry now": due at once, and refused recipients are tried again too.
    void retry_now();
};

std::string serialize_state(const delivery_state& s);
delivery_state parse_state(std::string_view text); // unknown lines are ignored

// One line of peer or error text, printable and capped, safe to keep in the line-oriented files.
std::string one_line(std::string_view text, std::size_t max = 300);

} // namespace mailgate::spool
