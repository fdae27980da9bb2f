// Fuzzes the IMAP mailbox client codec (imap::mailbox_client) the way the POP3-from-IMAP and Sent-copy sessions
// drive it (server/proxy/maildrop_session.cpp, sent_copy.cpp): fuzz-chosen operations (SELECT, the size listing,
// Message-IDs, streamed messages, deleting with or without UIDPLUS, APPEND with its literal, LOGOUT) against a
// hostile provider whose bytes come in fuzz-sized reads. The provider's bytes are also framed here, independently
// (tagged and continuation lines, untagged responses and their literals), so that each `done` can be held against
// what the provider really answered; each run is repeated with every byte in one read, which must send the same
// commands, stream the same body bytes and end the same way.
#include "protocols/common/ascii.hpp"
#include "protocols/imap/fetch_response.hpp"
#include "protocols/imap/mailbox_client.hpp"
#include "tests/fuzz/upstream_driver.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <optional>
#include <set>

namespace {

using namespace mailgate::fuzz;
namespace protocols = mailgate::protocols;
namespace imap = protocols::imap;
using protocols::ascii_upper;

// Folder names as accounts hold them, and some that cannot be quoted (8-bit, CR/LF: refused before any write).
const std::array<std::string, 8> folders = {"INBOX",
                                            "Sent",
                                            "[Gmail]/Sent Mail",
                                            "quote\"back\\slash",
                                            "",
                                            "Dossier \xc3\xa9t\xc3\xa9",
                                            "a\r\nm9 DELETE INBOX",
                                            "&AOk-t&AOk-"};
const std::array<std::uint64_t, 7> message_sizes = {0, 500, 999, 1000, 2500, 100000, 250000};
const std::array<std::uint64_t, 7> append_sizes = {0, 1, 5, 100, 65536, std::uint64_t{1} << 40, UINT64_MAX};

std::optional<std::uint64_t> number(std::string_view s) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return n;
}

// The first word of `s`, upper-cased.
std::string first_word(std::string_view s) { return ascii_upper(s.substr(0, s.find(' '))); }

// ---- The provider's bytes, framed as RFC 9051 §2.2.2 and §7 say: a line starting "+" is a continuation request,
// one starting "* " an untagged response that goes on after each literal its lines end with, anything else a
// tagged completion. The codec must read them the same way.
struct framed {
    enum class kind { untagged, continuation, tagged } what = kind::untagged;
    std::string text;        // untagged: its lines after "* " joined, literal bytes left out; else the line
    std::string tag, status; // tagged; status upper-cased
    std::uint64_t literals = 0;  // untagged: octets its literal markers announced
    std::uint64_t bound_end = 0; // framer::bound() once this item was framed
};

class framer {
public:
    void feed(std::string_view bytes) {
        pending_.append(bytes);
        std::size_t pos = 0;
        for (;;) {
            if (literal_left_ > 0) {
                auto n = std::min<std::uint64_t>(literal_left_, pending_.size() - pos);
                if (n == 0) break;
                literal_left_ -= n;
                pos += n;
                continue;
            }
            auto lf = pending_.find('\n', pos);
            if (lf == std::string::npos) break;
            std::string_view line(pending_.data() + pos, lf - pos);
            pos = lf + 1;
            if (line.ends_with('\r')) line.remove_suffix(1);
            on_line(line);
        }
        pending_.erase(0, pos);
    }

    std::vector<framed> items;
    // Octets a message body may hold from everything framed so far: every literal announced, and every untagged
    // response's text from its first quote on (a quoted BODY[] value lies there).
    std::uint64_t bound() const { return bound_; }

private:
    void on_line(std::string_view line) {
        if (!in_response_) {
            if (line.starts_with('+'))
                return push({.what = framed::kind::continuation, .text = std::string(line)});
            if (!line.starts_with("* ")) {
                framed t{.what = framed::kind::tagged, .text = std::string(line)};
                auto space = line.find(' ');
                t.tag = line.substr(0, space);
                if (space != std::string_view::npos) t.status = first_word(line.substr(space + 1));
                return push(std::move(t));
            }
            current_ = framed{};
            line.remove_prefix(2);
        }
        current_.text.append(line);
        if (auto size = imap::trailing_literal(line)) {
            in_response_ = true;
            literal_left_ = *size;
            current_.literals += *size;
            bound_ += *size;
            return;
        }
        in_response_ = false;
        auto quote = current_.text.find('"');
        if (quote != std::string::npos) bound_ += current_.text.size() - quote;
        push(std::move(current_));
    }
    void push(framed f) {
        f.bound_end = bound_;
        items.push_back(std::move(f));
    }

    std::string pending_;
    bool in_response_ = false; // the lines so far of `current_` ended with a literal
    std::uint64_t literal_left_ = 0;
    framed current_;
    std::uint64_t bound_ = 0;
};

// What the codec must have read before it may say `done` (or send its next command): the replies to the commands
// it sent, in order.
struct due {
    bool continuation = false; // APPEND's "+"; else the tagged reply to `tag`
    std::string tag;
    bool search = false; // UID SEARCH DELETED: the untagged SEARCH before its reply is what it found
};

struct walk_result {
    std::size_t end = 0;     // the item after the last one consumed
    std::uint64_t bound = 0; // body octets the untagged responses passed could hold
    std::set<std::uint64_t> search_hits;
};

// Walks the framed items from `from` through the replies `want`: untagged responses may come between, then each
// reply in turn; a NO/BAD or a BYE only for LOGOUT. Aborts when the provider has not sent them (yet).
walk_result walk(const framer& provider, std::size_t from, const std::deque<due>& want, bool logout,
                 const char* what) {
    walk_result r;
    r.end = from;
    for (const auto& d : want) {
        for (;;) {
            FUZZ_CHECK(r.end < provider.items.size(),
                       std::string(what) + " before the provider answered " +
                           (d.continuation ? std::string("with a continuation") : d.tag));
            const auto& item = provider.items[r.end++];
            if (item.what == framed::kind::untagged) {
                auto word = first_word(item.text);
                FUZZ_CHECK(logout || word != "BYE", std::string(what) + " after * BYE: " + item.text);
                auto quote = item.text.find('"');
                r.bound += item.literals + (quote == std::string::npos ? 0 : item.text.size() - quote);
                if (d.search && word == "SEARCH") {
                    std::string_view rest(item.text);
                    while (!rest.empty()) {
                        auto space = rest.find(' ');
                        if (auto n = number(rest.substr(0, space)); n && *n <= UINT32_MAX)
                            r.search_hits.insert(*n);
                        rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
                    }
                }
                continue;
            }
            if (d.continuation) {
                FUZZ_CHECK(item.what == framed::kind::continuation,
                           std::string(what) + " without the provider's continuation, at: " + item.text);
            } else {
                FUZZ_CHECK(item.what == framed::kind::tagged && item.tag == d.tag,
                           std::string(what) + ": the reply to " + d.tag + " is not next, but: " + item.text);
                FUZZ_CHECK(logout || item.status == "OK", std::string(what) + " after " + item.text);
            }
            break;
        }
    }
    return r;
}

// A UID set as the codec writes them: ascending, ranges merged, no UID twice.
using ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
void add_set(std::string_view set, ranges& all, const imap::mailbox_limits& limits) {
    FUZZ_CHECK(!set.empty(), "an empty UID set");
    FUZZ_CHECK(set.size() <= limits.max_set || set.find(',') == std::string_view::npos,
               "a UID set over max_set: " + std::string(set));
    while (!set.empty()) {
        auto comma = set.find(',');
        auto range = set.substr(0, comma);
        set = comma == std::string_view::npos ? std::string_view() : set.substr(comma + 1);
        auto colon = range.find(':');
        auto lo = number(range.substr(0, colon));
        auto hi = colon == std::string_view::npos ? lo : number(range.substr(colon + 1));
        FUZZ_CHECK(lo && hi && *hi <= UINT32_MAX && *lo < *hi + (colon == std::string_view::npos ? 1 : 0),
                   "a bad UID range: " + std::string(range));
        FUZZ_CHECK(std::to_string(*lo) == range.substr(0, colon) &&
                       (colon == std::string_view::npos || std::to_string(*hi) == range.substr(colon + 1)),
                   "a UID not in canonical form: " + std::string(range));
        // Ranges are maximal runs of the sorted UIDs, in every command of the operation.
        if (!all.empty())
            FUZZ_CHECK(*lo > all.back().second + 1,
                       "UID sets not ascending or ranges not merged: " + std::string(range));
        all.emplace_back(*lo, *hi);
    }
}
// The sets sent cover exactly the UIDs asked for.
void check_cover(const ranges& sent, const std::vector<std::uint32_t>& uids, const char* what) {
    std::size_t i = 0;
    for (auto [lo, hi] : sent) {
        for (std::uint64_t u = lo; u <= hi; ++u, ++i)
            FUZZ_CHECK(i < uids.size() && uids[i] == u,
                       std::string(what) + ": a UID set names a UID not asked for");
    }
    FUZZ_CHECK(i == uids.size(), std::string(what) + ": the UID sets leave out UIDs asked for");
}

// The folder name in a command: a quoted string that must read back as the name asked for.
void check_folder(std::string_view arg, const std::string& folder) {
    for (unsigned char c : folder)
        FUZZ_CHECK(c != '\r' && c != '\n' && c != 0 && c < 0x80, "an unquotable folder name was sent");
    FUZZ_CHECK(arg.size() >= 2 && arg.front() == '"' && arg.back() == '"',
               "folder not quoted: " + std::string(arg));
    std::string name;
    for (std::size_t i = 1; i + 1 < arg.size(); ++i) {
        char c = arg[i];
        if (c == '\\') {
            FUZZ_CHECK(i + 2 < arg.size() && (arg[i + 1] == '"' || arg[i + 1] == '\\'),
                       "a bad quoted folder");
            c = arg[++i];
        } else {
            FUZZ_CHECK(c != '"', "a bare quote in a quoted folder: " + std::string(arg));
        }
        name += c;
    }
    FUZZ_CHECK(name == folder, "the folder sent is not the one asked for: " + std::string(arg));
}

enum class op { stop, select, sizes, message_ids, message, remove, append, logout };

struct operation {
    op what = op::stop;
    std::string folder;
    std::vector<std::uint32_t> uids; // sorted, unique
    std::uint32_t uid = 0;
    std::uint64_t size = 0;
    std::optional<std::size_t> top;
    bool mark_seen = false;
    std::uint32_t exists = 0;          // exists() when it started
    std::vector<std::string> commands; // written, without tag and CRLF
    ranges fetched, stored, expunged;  // the UID sets of its commands
    bool searched = false, expunged_all = false;
    std::string body;
    std::uint64_t start_bound = 0; // framer::bound() where its replies begin
};

// Answers and folder names from the input, the same in the replay as in the live run.
class chooser {
public:
    chooser(source& src, live_source* live, std::vector<std::string>& texts)
        : src_(src), live_(live), texts_(texts) {}
    std::uint8_t byte() { return src_.choose(); }
    std::string text(std::size_t max) {
        if (live_ != nullptr) return texts_.emplace_back(live_->take_text(max));
        return next_ < texts_.size() ? texts_[next_++] : std::string();
    }

private:
    source& src_;
    live_source* live_;
    std::vector<std::string>& texts_;
    std::size_t next_ = 0;
};

struct setup {
    std::vector<std::string> capabilities{"IMAP4rev1"};
    bool uidplus = false;
    imap::mailbox_limits limits;
};

class session {
public:
    session(const setup& s, source& src, chooser& ch, std::size_t input_size)
        : s_(s), src_(src), ch_(ch), codec_(s.capabilities, s.limits), budget_(input_size) {}

    trace run() {
        if (!begin()) return t_;
        for (;;) {
            budget_.tick();
            auto a = flatten(codec_.next());
            note(kind_name(a.kind), a.bytes);
            if (crlf_due_) {
                // literal_written(): the literal's bytes went out, its CRLF (the end of APPEND) is next.
                FUZZ_CHECK(a.kind == action_kind::write && a.bytes == "\r\n",
                           "after literal_written() not the literal's CRLF but " +
                               std::string(kind_name(a.kind)) + " " + std::string(a.bytes));
                crlf_due_ = false;
                t_.write(a.bytes);
                codec_.wrote();
                continue;
            }
            switch (a.kind) {
            case action_kind::write: on_write(a.bytes); break;
            case action_kind::read: {
                FUZZ_CHECK(!eof_, "asked to read after the provider closed the connection");
                auto bytes = src_.read();
                note("  fed", bytes);
                eof_ = bytes.empty();
                provider_.feed(bytes);
                codec_.received(bytes);
                break;
            }
            case action_kind::message_chunk: {
                FUZZ_CHECK(o_.what == op::message, "a message_chunk outside fetch_message");
                FUZZ_CHECK(!a.bytes.empty(), "an empty message_chunk");
                o_.body += a.bytes;
                FUZZ_CHECK(o_.body.size() <= provider_.bound() - o_.start_bound,
                           "more body bytes than the provider's literals (and quoted strings) hold");
                break;
            }
            case action_kind::done:
                if (!on_done()) return t_;
                break;
            case action_kind::close: on_failed(); return t_;
            default:
                violation(__FILE__, __LINE__, "an action the mailbox client never asks for",
                          kind_name(a.kind));
            }
        }
    }

private:
    std::uint32_t pick_uid() {
        auto c = ch_.byte();
        const auto& entries = codec_.entries();
        if ((c & 0x80) && !entries.empty()) return entries[c % entries.size()].uid;
        if (c & 0x40) return UINT32_MAX - (c & 0x3f);
        return c & 0x3f;
    }
    // 0x80: a long run (up to 1984 UIDs, steps of 1..4: long sets split over commands); else up to 23 UIDs.
    std::vector<std::uint32_t> pick_uids() {
        auto n = ch_.byte();
        std::vector<std::uint32_t> uids;
        if (n & 0x80) {
            std::uint64_t uid = pick_uid();
            std::uint64_t step = 1 + ((n >> 5) & 3);
            for (std::size_t i = 0; i < (n & 0x1fu) * 64u && uid <= UINT32_MAX; ++i, uid += step)
                uids.push_back(static_cast<std::uint32_t>(uid));
        } else {
            for (std::size_t i = 0; i < n % 24u; ++i) uids.push_back(pick_uid());
        }
        return uids;
    }
    std::string pick_folder() {
        auto c = ch_.byte();
        if (c & 0x80) return ch_.text(40);
        return folders[c % folders.size()];
    }
    static std::vector<std::uint32_t> sorted(std::vector<std::uint32_t> uids) {
        std::sort(uids.begin(), uids.end());
        uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
        return uids;
    }
    static std::string list(const std::vector<std::uint32_t>& uids) {
        std::string s;
        for (auto u : uids) s += std::to_string(u) + ",";
        return s;
    }

    // Starts the next operation the input chooses; false: the session ends here.
    bool begin() {
        if (++ops_ > 48) return false;
        o_ = operation{};
        o_.what = static_cast<op>(ch_.byte() % 8);
        o_.start_bound = cursor_ == 0 ? 0 : provider_.items[cursor_ - 1].bound_end;
        o_.exists = codec_.exists();
        switch (o_.what) {
        case op::stop: return false;
        case op::select:
            o_.folder = pick_folder();
            t_.event("select", o_.folder);
            codec_.select(o_.folder);
            break;
        case op::sizes:
            t_.event("fetch_sizes");
            codec_.fetch_sizes();
            break;
        case op::message_ids: {
            auto uids = pick_uids();
            o_.uids = sorted(uids);
            t_.event("fetch_message_ids", list(uids));
            codec_.fetch_message_ids(uids);
            break;
        }
        case op::message: {
            o_.uid = pick_uid();
            // bits 0-2 the size (7: the entry's), 3 mark_seen, 4-7 TOP's lines + 1 (0 RETR, 15 a huge count)
            auto c = ch_.byte();
            if ((c & 7) < message_sizes.size()) {
                o_.size = message_sizes[c & 7];
            } else {
                o_.size = 12345;
                for (const auto& e : codec_.entries())
                    if (e.uid == o_.uid) o_.size = e.size;
            }
            o_.mark_seen = (c & 8) != 0;
            if (c >> 4 == 15)
                o_.top = SIZE_MAX / 2;
            else if (c >> 4 != 0)
                o_.top = (c >> 4) - 1;
            t_.event("fetch_message", std::to_string(o_.uid) + " " + std::to_string(o_.size) + " " +
                                          (o_.top ? std::to_string(*o_.top) : "-") +
                                          (o_.mark_seen ? " seen" : ""));
            codec_.fetch_message(o_.uid, o_.size, o_.top, o_.mark_seen);
            break;
        }
        case op::remove: {
            auto uids = pick_uids();
            o_.uids = sorted(uids);
            t_.event("delete_messages", list(uids));
            codec_.delete_messages(uids);
            break;
        }
        case op::append: {
            o_.folder = pick_folder();
            auto c = ch_.byte();
            o_.size = (c & 7) < append_sizes.size() ? append_sizes[c & 7] : c;
            t_.event("append", o_.folder + " " + std::to_string(o_.size));
            codec_.append(o_.folder, o_.size);
            break;
        }
        case op::logout:
            t_.event("logout");
            codec_.logout();
            break;
        }
        return true;
    }

    void on_write(std::string_view bytes) {
        FUZZ_CHECK(!bytes.empty(), "an empty write");
        check_lines(bytes, line_bytes::no_cr_lf_nul, "imap mailbox client");
        t_.write(bytes);
        while (!bytes.empty()) {
            auto end = bytes.find("\r\n");
            auto line = bytes.substr(0, end);
            bytes.remove_prefix(end + 2);
            auto tag = "m" + std::to_string(next_tag_++);
            FUZZ_CHECK(line.starts_with(tag + " "), "not the next tag (" + tag + "): " + std::string(line));
            on_command(tag, line.substr(tag.size() + 1));
        }
        codec_.wrote();
    }

    // One command of the current operation, checked against what was asked for.
    void on_command(const std::string& tag, std::string_view text) {
        // One command at a time: the ones before must have been answered.
        if (!due_.empty()) walk(provider_, cursor_, due_, o_.what == op::logout, "a command sent");
        bool first = o_.commands.empty();
        o_.commands.emplace_back(text);
        due next{false, tag};
        auto set_between = [&](std::string_view prefix,
                               std::string_view suffix) -> std::optional<std::string_view> {
            if (!text.starts_with(prefix) || !text.ends_with(suffix) ||
                text.size() < prefix.size() + suffix.size())
                return std::nullopt;
            return text.substr(prefix.size(), text.size() - prefix.size() - suffix.size());
        };
        switch (o_.what) {
        case op::select:
            FUZZ_CHECK(first && text.starts_with("SELECT "), "not a SELECT: " + std::string(text));
            check_folder(text.substr(7), o_.folder);
            break;
        case op::sizes:
            FUZZ_CHECK(first && text == "UID FETCH 1:* (UID RFC822.SIZE FLAGS)",
                       "not the size listing: " + std::string(text));
            FUZZ_CHECK(o_.exists != 0, "the size listing of an empty folder was asked for");
            break;
        case op::message_ids: {
            auto set = set_between("UID FETCH ", " (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
            FUZZ_CHECK(set.has_value(), "not a Message-ID fetch: " + std::string(text));
            add_set(*set, o_.fetched, s_.limits);
            break;
        }
        case op::message: {
            FUZZ_CHECK(first, "a second command for one message");
            auto prefix = "UID FETCH " + std::to_string(o_.uid) + " ";
            FUZZ_CHECK(text.starts_with(prefix),
                       "not a fetch of the message asked for: " + std::string(text));
            auto items = text.substr(prefix.size());
            // Only RETR with mark_seen may set \Seen; TOP never does.
            std::string whole = o_.mark_seen && !o_.top ? "BODY[]" : "BODY.PEEK[]";
            if (items == whole) break;
            FUZZ_CHECK(o_.top.has_value(), "RETR fetches other than the whole message: " + std::string(text));
            if (*o_.top == 0) {
                FUZZ_CHECK(items == "BODY.PEEK[HEADER]", "TOP 0 is not the header: " + std::string(text));
            } else {
                auto want = "(BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0." + std::to_string(*o_.top * 1000) + ">)";
                FUZZ_CHECK(items == want,
                           "TOP is not the header and n*1000 octets of text: " + std::string(text));
            }
            FUZZ_CHECK(o_.size > *o_.top * 1000, "a partial TOP of a message short enough to fetch whole");
            break;
        }
        case op::remove:
            if (auto set = set_between("UID STORE ", " +FLAGS.SILENT (\\Deleted)")) {
                FUZZ_CHECK(o_.expunged.empty() && !o_.searched, "STORE after the expunge began");
                add_set(*set, o_.stored, s_.limits);
            } else if (auto uid_set = set_between("UID EXPUNGE ", "")) {
                FUZZ_CHECK(s_.uidplus, "UID EXPUNGE without UIDPLUS");
                check_cover(o_.stored, o_.uids, "UID STORE");
                add_set(*uid_set, o_.expunged, s_.limits);
            } else if (text == "UID SEARCH DELETED") {
                FUZZ_CHECK(!s_.uidplus && !o_.searched, "UID SEARCH DELETED with UIDPLUS or twice");
                check_cover(o_.stored, o_.uids, "UID STORE");
                o_.searched = true;
                next.search = true;
            } else if (text == "EXPUNGE") {
                FUZZ_CHECK(o_.searched && !o_.expunged_all, "EXPUNGE without UID SEARCH DELETED first");
                // Every message flagged \Deleted must be one of ours: EXPUNGE removes them all.
                auto found = walk(provider_, cursor_, due_, false, "EXPUNGE").search_hits;
                for (auto uid : found)
                    FUZZ_CHECK(std::binary_search(o_.uids.begin(), o_.uids.end(), uid),
                               "EXPUNGE with another client's message flagged \\Deleted: " +
                                   std::to_string(uid));
                o_.expunged_all = true;
            } else {
                violation(__FILE__, __LINE__, "not a command for deleting", text);
            }
            break;
        case op::append: {
            FUZZ_CHECK(first && text.starts_with("APPEND "), "not an APPEND: " + std::string(text));
            auto suffix = " (\\Seen) {" + std::to_string(o_.size) + "}";
            FUZZ_CHECK(text.ends_with(suffix), "APPEND without its flags and literal: " + std::string(text));
            check_folder(text.substr(7, text.size() - 7 - suffix.size()), o_.folder);
            next.continuation = true; // its tagged reply is due once the literal is written
            break;
        }
        case op::logout: FUZZ_CHECK(first && text == "LOGOUT", "not a LOGOUT: " + std::string(text)); break;
        case op::stop: violation(__FILE__, __LINE__, "a command without an operation", text);
        }
        last_tag_ = tag;
        due_.push_back(next);
    }

    // The current operation's `done`; false: the session ends.
    bool on_done() {
        auto r = walk(provider_, cursor_, due_, o_.what == op::logout, "done");
        cursor_ = r.end;
        due_.clear();
        FUZZ_CHECK(!codec_.error(), "done with an error set");
        const auto& entries = codec_.entries();
        for (std::size_t i = 1; i < entries.size(); ++i)
            FUZZ_CHECK(entries[i - 1].uid < entries[i].uid, "entries() not ascending by UID");
        std::string result;
        switch (o_.what) {
        case op::select:
            FUZZ_CHECK(codec_.uidvalidity() != 0, "SELECT done without a UIDVALIDITY");
            result = std::to_string(codec_.uidvalidity()) + " " + std::to_string(codec_.exists());
            break;
        case op::sizes:
            FUZZ_CHECK((o_.exists == 0) == o_.commands.empty(),
                       "the size listing sent or left out against exists()");
            if (o_.exists == 0) FUZZ_CHECK(entries.empty(), "sizes of an empty folder");
            for (const auto& e : entries)
                result += std::to_string(e.uid) + ":" + std::to_string(e.size) + ",";
            break;
        case op::message_ids:
            check_cover(o_.fetched, o_.uids, "Message-IDs");
            for (const auto& [uid, id] : codec_.message_ids()) {
                FUZZ_CHECK(id.size() <= 998, "a Message-ID longer than a header line");
                for (unsigned char c : id) FUZZ_CHECK(c >= 0x20 && c < 0x7f, "a Message-ID not printable");
                result += std::to_string(uid) + "=" + id + ",";
            }
            break;
        case op::message:
            FUZZ_CHECK(o_.commands.size() == 1, "a message fetched without its command");
            FUZZ_CHECK(o_.body.size() <= r.bound,
                       "more body bytes than the literals (and quoted strings) in the replies to its FETCH");
            FUZZ_CHECK(o_.body.empty() || codec_.message_found(), "body bytes of a message not found");
            t_.event("body", o_.body);
            result = codec_.message_found() ? "found" : "gone";
            break;
        case op::remove:
            check_cover(o_.stored, o_.uids, "UID STORE");
            if (s_.uidplus) {
                FUZZ_CHECK(!codec_.expunge_deferred(), "expunge deferred with UIDPLUS");
                check_cover(o_.expunged, o_.uids, "UID EXPUNGE");
            } else if (!o_.uids.empty()) {
                FUZZ_CHECK(o_.searched, "deleted without UID SEARCH DELETED");
                bool only_ours =
                    std::all_of(r.search_hits.begin(), r.search_hits.end(), [&](std::uint64_t u) {
                        return std::binary_search(o_.uids.begin(), o_.uids.end(), u);
                    });
                FUZZ_CHECK(o_.expunged_all == only_ours, "EXPUNGE sent, or left out, against the UID SEARCH");
                FUZZ_CHECK(codec_.expunge_deferred() == !only_ours,
                           "expunge_deferred() against the UID SEARCH");
            }
            result = codec_.expunge_deferred() ? "deferred" : "expunged";
            break;
        case op::append:
            if (!appending_) {
                // The provider invites the literal: the session writes its bytes itself, then says so.
                FUZZ_CHECK(o_.commands.size() == 1, "APPEND's literal invited without APPEND");
                appending_ = true;
                t_.event("literal", std::to_string(o_.size));
                codec_.literal_written();
                crlf_due_ = true;
                due_.push_back({false, last_tag_});
                return true;
            }
            appending_ = false;
            break;
        case op::logout: t_.event("done", "logout"); return false;
        case op::stop: break;
        }
        t_.event("done", result);
        return begin();
    }

    void on_failed() {
        auto why = codec_.error();
        FUZZ_CHECK(why && why.category() == protocols::upstream_category(),
                   "failed without an upstream error");
        check_diagnostics(codec_.diagnostics(), {});
        const auto& entries = codec_.entries();
        for (std::size_t i = 1; i < entries.size(); ++i)
            FUZZ_CHECK(entries[i - 1].uid < entries[i].uid, "entries() not ascending by UID");
        if (o_.what == op::message) t_.event("body", o_.body);
        t_.event("failed", why.message() + ": " + codec_.diagnostics());
        FUZZ_CHECK(flatten(codec_.next()).kind == action_kind::close, "failed is not sticky");
        // A session may still ask for LOGOUT: nothing goes out on a failed connection.
        codec_.logout();
        auto again = flatten(codec_.next());
        FUZZ_CHECK(again.kind == action_kind::close, "after failed: " + std::string(kind_name(again.kind)));
        FUZZ_CHECK(codec_.error() == why, "the error changed after failed");
    }

    const setup& s_;
    source& src_;
    chooser& ch_;
    imap::mailbox_client codec_;
    step_budget budget_;
    trace t_;
    framer provider_;
    std::deque<due> due_;
    std::size_t cursor_ = 0; // the first framed item the codec has not consumed at its last `done`
    unsigned next_tag_ = 1;
    std::string last_tag_;
    bool eof_ = false;
    bool crlf_due_ = false;
    bool appending_ = false; // APPEND's literal is written, its tagged reply is due
    int ops_ = 0;
    operation o_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    // Setup, from the back: bits (1 UIDPLUS, 8 spelled "UidPlus", 2 a short max_set from the next byte, 4 short
    // lines and responses), then the operations with their answers interleaved with the reads.
    auto bits = fdp.ConsumeIntegral<std::uint8_t>();
    auto set_limit = fdp.ConsumeIntegral<std::uint8_t>();
    setup s;
    if (bits & 1) {
        s.uidplus = true;
        s.capabilities.push_back((bits & 8) ? "UidPlus" : "UIDPLUS");
    }
    if (bits & 2) s.limits.max_set = 1 + set_limit % 48;
    if (bits & 4) {
        s.limits.max_line = 80;
        s.limits.max_response = 160;
    }

    std::vector<std::string> texts;
    live_source live(fdp);
    chooser live_choices(live, &live, texts);
    trace in_reads = session(s, live, live_choices, size).run();
    replay_source at_once(live);
    chooser replayed_choices(at_once, nullptr, texts);
    trace whole = session(s, at_once, replayed_choices, size).run();
    check_same_trace(in_reads, whole, "other reads led to other commands, body bytes or outcome");
    return 0;
}
