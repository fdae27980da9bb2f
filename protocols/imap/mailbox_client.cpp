// IMAP mailbox commands after login (RFC 9051 §6.3.2 SELECT, §6.4.5 FETCH, §6.4.6 STORE, §6.4.3 EXPUNGE,
// §6.3.12 APPEND; RFC 4315 UIDPLUS UID EXPUNGE).
#include "protocols/imap/mailbox_client.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/common/upstream_codec.hpp"
#include "protocols/imap/fetch_response.hpp"
#include "protocols/imap/split_word.hpp"
#include "protocols/imap/string_encoding.hpp"

#include <algorithm>
#include <charconv>

namespace mailgate::protocols::imap {
namespace {

std::optional<std::uint32_t> number(std::string_view s) {
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return n;
}

// "[UIDVALIDITY n]" at the start of a response text.
std::optional<std::uint32_t> uidvalidity_code(std::string_view text) {
    auto upper = ascii_upper(text.substr(0, 32));
    if (!upper.starts_with("[UIDVALIDITY ")) return std::nullopt;
    auto value = text.substr(13);
    return number(value.substr(0, value.find(']')));
}

} // namespace

mailbox_client::mailbox_client(const std::vector<std::string>& capabilities, mailbox_limits limits)
    : limits_(limits), input_(limits.max_line) {
    for (const auto& atom : capabilities)
        if (ascii_upper(atom) == "UIDPLUS") uidplus_ = true;
}

mailbox_action mailbox_client::next() {
    if (chunk_ready_) { // the quoted body value handed out last time
        chunk_ready_ = false;
        chunk_.clear();
    }
    for (;;) {
        if (error_) return client_step::failed;
        if (!out_.empty()) return write_output{out_};
        if (!chunk_.empty()) {
            chunk_ready_ = true;
            return message_chunk{chunk_};
        }
        if (done_) {
            done_ = false;
            return client_step::done;
        }
        if (in_literal_) {
            if (literal_left_ == 0) {
                in_literal_ = false;
                continue;
            }
            auto n = static_cast<std::size_t>(std::min<std::uint64_t>(literal_left_, input_.buffered()));
            std::string_view piece;
            if (n > 0 && input_.take_bytes(n, piece)) {
                literal_left_ -= n;
                if (literal_streams_) return message_chunk{piece};
                if (literal_kept_) literals_.back().append(piece);
                continue;
            }
        } else {
            std::string_view line;
            switch (input_.next_line(line)) {
            case line_buffer::result::line: on_line(line); continue;
            case line_buffer::result::too_long: fail(upstream_errc::line_too_long); continue;
            case line_buffer::result::bare_lf: fail(upstream_errc::malformed_reply); continue;
            case line_buffer::result::need_more: break;
            }
        }
        if (eof_) {
            fail(upstream_errc::closed);
            continue;
        }
        return read_input{read_deadline::command};
    }
}

void mailbox_client::wrote() { out_.clear(); }

void mailbox_client::received(std::string_view bytes) {
    if (bytes.empty()) eof_ = true;
    input_.append(bytes);
}

void mailbox_client::start(op what, std::vector<std::string> commands) {
    op_ = what;
    pending_.assign(std::make_move_iterator(commands.begin()), std::make_move_iterator(commands.end()));
    if (pending_.empty()) {
        done_ = true;
        return;
    }
    send_next_command();
}

void mailbox_client::send_next_command() {
    tag_ = "m" + std::to_string(next_tag_++);
    out_ += tag_ + " " + pending_.front() + "\r\n";
    pending_.pop_front();
}

void mailbox_client::select(std::string_view folder) {
    uidvalidity_ = exists_ = 0;
    auto name = quote(folder);
    if (!name) return fail(upstream_errc::command_refused, "folder name is not printable ASCII");
    start(op::select, {"SELECT " + *name});
}

void mailbox_client::fetch_sizes() {
    sizes_.clear();
    entries_.clear();
    // "1:*" on an empty folder is an error at some servers: nothing to ask.
    start(op::sizes, exists_ == 0 ? std::vector<std::string>{}
                                  : std::vector<std::string>{"UID FETCH 1:* (UID RFC822.SIZE FLAGS)"});
}

void mailbox_client::fetch_message_ids(const std::vector<std::uint32_t>& uids) {
    message_ids_.clear();
    start(op::message_ids,
          uid_set_commands("UID FETCH", uids, " (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"));
}

void mailbox_client::fetch_message(std::uint32_t uid, std::uint64_t size,
                                   std::optional<std::size_t> top_lines, bool mark_seen) {
    message_found_ = false;
    std::string items = mark_seen && !top_lines ? "BODY[]" : "BODY.PEEK[]";
    if (top_lines && *top_lines < size / 1000) {
        items = "BODY.PEEK[HEADER]";
        if (*top_lines > 0)
            items = "(" + items + " BODY.PEEK[TEXT]<0." + std::to_string(*top_lines * 1000) + ">)";
    }
    start(op::message, {"UID FETCH " + std::to_string(uid) + " " + items});
}

void mailbox_client::delete_messages(const std::vector<std::uint32_t>& uids) {
    deleting_ = std::set<std::uint32_t>(uids.begin(), uids.end());
    expunge_deferred_ = false;
    start(op::store, uid_set_commands("UID STORE", uids, " +FLAGS.SILENT (\\Deleted)"));
}

void mailbox_client::append(std::string_view folder, std::uint64_t size) {
    auto name = quote(folder);
    if (!name) return fail(upstream_errc::command_refused, "folder name is not printable ASCII");
    continuation_wanted_ = true;
    start(op::append, {"APPEND " + *name + " (\\Seen) {" + std::to_string(size) + "}"});
}

void mailbox_client::literal_written() { out_ += "\r\n"; }

void mailbox_client::logout() { start(op::logout, {"LOGOUT"}); }

std::vector<std::string> mailbox_client::uid_set_commands(std::string_view prefix,
                                                          const std::vector<std::uint32_t>& uids,
                                                          std::string_view suffix) const {
    std::vector<std::uint32_t> sorted(uids);
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    std::vector<std::string> commands;
    std::string set;
    auto flush = [&] {
        if (set.empty()) return;
        commands.push_back(std::string(prefix) + " " + set + std::string(suffix));
        set.clear();
    };
    for (std::size_t i = 0; i < sorted.size();) {
        std::size_t j = i;
        while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
        std::string range = std::to_string(sorted[i]);
        if (j > i) range += ":" + std::to_string(sorted[j]);
        if (!set.empty() && set.size() + 1 + range.size() > limits_.max_set) flush();
        set += (set.empty() ? "" : ",") + range;
        i = j + 1;
    }
    flush();
    return commands;
}

void mailbox_client::on_line(std::string_view line) {
    bool continuing = !response_.empty();
    if (!continuing) {
        if (line.starts_with("+")) {
            if (!continuation_wanted_) return fail(upstream_errc::malformed_reply, line);
            continuation_wanted_ = false;
            done_ = true; // the caller writes the literal now
            return;
        }
        if (!line.starts_with("* ")) {
            auto [tag, rest] = split_word(line);
            if (tag != tag_ || op_ == op::none) return fail(upstream_errc::malformed_reply, line);
            auto [status, text] = split_word(rest);
            return on_tagged(ascii_upper(status), line);
        }
        line.remove_prefix(2);
        literals_.clear();
        literals_kept_ = 0;
    }
    if (response_.size() + literals_kept_ + line.size() > limits_.max_response)
        return fail(upstream_errc::reply_too_large, line);
    response_.append(line);
    if (auto size = trailing_literal(line)) {
        in_literal_ = true;
        literal_left_ = *size;
        literal_streams_ = body_literal_next();
        literal_kept_ =
            !literal_streams_ && response_.size() + literals_kept_ + *size <= limits_.max_response;
        if (literal_kept_) literals_kept_ += *size;
        literals_.emplace_back();
        if (literal_streams_) message_found_ = true;
        return;
    }
    on_response();
    response_.clear();
}

bool mailbox_client::body_literal_next() const {
    if (op_ != op::message) return false;
    auto head = std::string_view(response_).substr(0, response_.rfind('{'));
    while (head.ends_with(' ') || head.ends_with('~')) head.remove_suffix(1);
    auto upper = ascii_upper(head);
    auto at = upper.rfind("BODY[");
    if (at == std::string::npos) return false;
    auto close = upper.find(']', at);
    if (close == std::string::npos) return false;
    auto origin = std::string_view(upper).substr(close + 1);
    return origin.empty() || (origin.starts_with('<') && origin.ends_with('>'));
}

void mailbox_client::on_response() {
    std::string_view text = response_;
    auto [first, rest] = split_word(text);
    auto word = ascii_upper(first);
    if (word == "OK") {
        if (op_ == op::select)
            if (auto v = uidvalidity_code(rest)) uidvalidity_ = *v;
        return;
    }
    if (word == "BYE") {
        if (op_ != op::logout) fail(upstream_errc::closed, text);
        return;
    }
    if (word == "SEARCH") {
        if (op_ != op::search) return;
        while (!rest.empty()) {
            auto [n, more] = split_word(rest);
            if (auto uid = number(n)) search_hits_.insert(*uid);
            rest = more;
        }
        return;
    }
    if (!number(first)) return; // NO/BAD warnings, FLAGS, CAPABILITY...
    auto [kind, tail] = split_word(rest);
    auto k = ascii_upper(kind);
    if (k == "EXISTS") {
        if (op_ == op::select) exists_ = *number(first);
        return;
    }
    if (k != "FETCH") return;
    auto fetch = parse_fetch(text, literals_);
    if (!fetch) return fail(upstream_errc::malformed_reply, text);
    bool deleted = std::find(fetch->flags.begin(), fetch->flags.end(), "\\DELETED") != fetch->flags.end();
    switch (op_) {
    case op::sizes:
        if (!fetch->uid) return;
        if (deleted)
            sizes_.erase(*fetch->uid);
        else if (fetch->size)
            sizes_[*fetch->uid] = *fetch->size;
        return;
    case op::message_ids:
        if (fetch->uid && !fetch->sections.empty())
            message_ids_[*fetch->uid] = message_id_of(fetch->sections[0].second);
        return;
    case op::message:
        // Literal values were streamed already; quoted ones (small sections) are handed out here.
        for (auto& [name, value] : fetch->sections) {
            message_found_ = true;
            chunk_ += value;
        }
        return;
    default: return;
    }
}

void mailbox_client::on_tagged(std::string_view status, std::string_view line) {
    if (status != "OK") {
        if (op_ == op::logout) {
            done_ = true;
            return;
        }
        return fail(upstream_errc::command_refused, line);
    }
    // APPEND completed before its "+": the literal was never invited, and what the caller would write now would
    // reach the provider as commands.
    if (continuation_wanted_) return fail(upstream_errc::malformed_reply, line);
    if (!pending_.empty()) return send_next_command();
    switch (op_) {
    case op::select:
        if (uidvalidity_ == 0) return fail(upstream_errc::malformed_reply, "SELECT gave no UIDVALIDITY");
        break;
    case op::sizes:
        for (auto [uid, size] : sizes_) entries_.push_back({uid, size});
        break;
    case op::store:
        if (uidplus_) {
            std::vector<std::uint32_t> uids(deleting_.begin(), deleting_.end());
            return start(op::expunge, uid_set_commands("UID EXPUNGE", uids, ""));
        }
        search_hits_.clear();
        return start(op::search, {"UID SEARCH DELETED"});
    case op::search: return finish_delete_search();
    default: break;
    }
    done_ = true;
}

void mailbox_client::finish_delete_search() {
    bool only_ours = std::all_of(search_hits_.begin(), search_hits_.end(),
                                 [&](std::uint32_t uid) { return deleting_.contains(uid); });
    if (only_ours) return start(op::expunge, {"EXPUNGE"});
    expunge_deferred_ = true;
    done_ = true;
}

void mailbox_client::fail(upstream_errc e, std::string_view provider_text) {
    if (error_) return;
    error_ = make_error_code(e);
    diagnostics_ = sanitize_peer_text(provider_text);
}

} // namespace mailgate::protocols::imap
