// Shared driver-facing mechanics of the upstream client codecs.
#include "protocols/common/upstream_codec.hpp"

#include "protocols/common/base64.hpp"
#include "protocols/sasl/client_mechanisms.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace mailgate::protocols {

upstream_codec::upstream_codec(upstream_tls tls, upstream_credentials&& credentials, upstream_limits limits)
    : tls_mode_(tls), credentials_(std::move(credentials)), limits_(limits), input_(limits.max_line) {
    wipe(credentials.secret);
    // The stored secret itself, whatever the codec does with it.
    remember(credentials_.secret);
}

upstream_codec::~upstream_codec() {
    wipe(credentials_.secret);
    wipe(out_);
    wipe(held_);
    wipe(sent_forms_);
    wipe(error_report_);
}

client_action upstream_codec::next() {
    for (;;) {
        if (error_) return client_step::failed;
        if (!out_.empty()) return write_output{out_};
        if (want_tls_) {
            // Anything already buffered was sent before the handshake: an injection attempt (CVE-2011-0411).
            if (input_.buffered() > 0) {
                fail(upstream_errc::data_after_starttls);
                continue;
            }
            return start_tls{};
        }
        if (done_) {
            done_ = false;
            return client_step::done;
        }
        std::string_view line;
        switch (input_.next_line(line)) {
        case line_buffer::result::line: on_line(line); continue;
        case line_buffer::result::too_long: fail(upstream_errc::line_too_long); continue;
        case line_buffer::result::bare_lf: fail(upstream_errc::malformed_reply); continue;
        case line_buffer::result::need_more: break;
        }
        if (eof_) {
            fail(upstream_errc::closed);
            continue;
        }
        return read_input{deadline_};
    }
}

void upstream_codec::wrote() { wipe(out_); }

void upstream_codec::received(std::string_view bytes) {
    if (bytes.empty()) eof_ = true;
    input_.append(bytes);
}

void upstream_codec::tls_started() {
    want_tls_ = false;
    on_tls_started();
}

void upstream_codec::logout() {
    done_ = false;
    on_logout();
}

void upstream_codec::send(std::string_view bytes) { append_wiping(out_, bytes); }

void upstream_codec::remember(std::string_view secret_part) {
    auto add = [this](std::string_view form) {
        if (form.empty() || std::find(sent_forms_.begin(), sent_forms_.end(), form) != sent_forms_.end())
            return;
        sent_forms_.emplace_back(form);
    };
    add(secret_part);
    // A SASL payload: a provider may echo what it decoded (PLAIN's "\0user\0secret", a token) rather than
    // the base64 it received. Decoding is strict, so a bare password is rarely mistaken for base64; when it
    // is, the extra form only redacts more. Short decodings are left out: those of the payloads the codecs
    // send are the raw secret, remembered anyway, and a few accidentally decoded bytes would hide words.
    if (auto decoded = base64_decode(secret_part)) {
        if (decoded->size() >= 8) add(*decoded);
        wipe(*decoded);
    }
}

void upstream_codec::send_credential(std::string_view head, std::string&& secret_part,
                                     std::string_view tail) {
    remember(secret_part);
    append_wiping(out_, head);
    append_wiping(out_, secret_part);
    append_wiping(out_, tail);
    wipe(secret_part);
}

void upstream_codec::hold_credential(std::string_view head, std::string&& secret_part,
                                     std::string_view tail) {
    remember(secret_part);
    std::string piece;
    piece.reserve(head.size() + secret_part.size() + tail.size());
    piece.append(head).append(secret_part).append(tail);
    wipe(secret_part);
    held_.push_back(std::move(piece));
    wipe(piece); // moved from: a short string keeps its bytes
}

bool upstream_codec::send_held() {
    if (held_next_ >= held_.size()) return false;
    append_wiping(out_, held_[held_next_]);
    wipe(held_[held_next_]);
    if (++held_next_ == held_.size()) drop_held();
    return true;
}

void upstream_codec::drop_held() noexcept {
    wipe(held_);
    held_next_ = 0;
}

void upstream_codec::send_with_initial_response(std::string_view command, std::string&& response,
                                                std::size_t max_line) {
    if (command.size() + 1 + response.size() + 2 > max_line) {
        send(std::string(command) + "\r\n");
        hold_credential({}, std::move(response));
        return;
    }
    send_credential(std::string(command) + " ", std::move(response));
}

std::string_view upstream_codec::bearer_mechanism_name() const noexcept {
    return credentials_.mechanism == bearer_mechanism::oauthbearer ? "OAUTHBEARER" : "XOAUTH2";
}

std::optional<std::string> upstream_codec::bearer_initial_response(bool offered) {
    if (!offered) {
        fail(upstream_errc::no_usable_mechanism);
        return std::nullopt;
    }
    const auto& c = credentials_;
    auto response = c.mechanism == bearer_mechanism::oauthbearer
                        ? sasl::oauthbearer_initial_response(c.user, c.secret, c.host, c.port)
                        : sasl::xoauth2_initial_response(c.user, c.secret);
    if (!response) fail(upstream_errc::credential_unencodable);
    return response;
}

bool upstream_codec::continue_login(std::string_view challenge) {
    if (send_held()) return true;
    if (!bearer() || error_report_answered_) return false;
    error_report_answered_ = true;
    if (auto decoded = base64_decode(challenge)) {
        error_report_.swap(*decoded);
        wipe(*decoded);
    } else {
        error_report_.assign(challenge);
    }
    auto answer = credentials_.mechanism == bearer_mechanism::oauthbearer ? sasl::oauthbearer_error_answer
                                                                          : sasl::xoauth2_error_answer;
    send(std::string(answer) + "\r\n");
    return true;
}

void upstream_codec::reject_login(std::string_view final_line) {
    fail_login(bearer() ? upstream_errc::token_rejected : upstream_errc::auth_rejected, final_line);
}

void upstream_codec::fail_login(upstream_errc e, std::string_view final_line) {
    if (error_report_.empty()) return fail(e, final_line);
    constexpr std::string_view between = "; error report: ";
    std::string text;
    text.reserve(final_line.size() + between.size() + error_report_.size());
    text.append(final_line).append(between).append(error_report_);
    fail(e, text);
    wipe(text);
}

bool upstream_codec::count_reply_line(std::string_view line) {
    ++reply_lines_;
    reply_bytes_ += line.size() + 2;
    if (reply_lines_ <= limits_.max_reply_lines && reply_bytes_ <= limits_.max_reply_bytes) return true;
    fail(upstream_errc::reply_too_large, line);
    return false;
}

void upstream_codec::fail(upstream_errc e, std::string_view provider_text) {
    if (error_) return;
    error_ = make_error_code(e);
    // A provider may echo what it was sent; no form of the credential may reach a log through us. Redacted
    // before sanitizing and capping, which could otherwise cut a form short enough to slip through.
    std::string text = redact_secrets(provider_text, sent_forms_);
    diagnostics_ = sanitize_peer_text(text);
    wipe(text);
}

namespace {

constexpr std::size_t redact_window = 8;

std::uint64_t window_at(const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
static_assert(sizeof(std::uint64_t) == redact_window);

} // namespace

std::string redact_secrets(std::string_view text, const secret_strings& forms) {
    std::vector<char> hidden(text.size(), 0);
    auto hide = [&](std::size_t at, std::size_t n) {
        std::fill_n(hidden.begin() + static_cast<std::ptrdiff_t>(at), n, 1);
    };
    // Forms shorter than a window: whole occurrences (a short password sent as is).
    for (const auto& form : forms) {
        if (form.empty() || form.size() >= redact_window) continue;
        for (auto at = text.find(form); at != std::string_view::npos; at = text.find(form, at + 1))
            hide(at, form.size());
    }
    // Every 8-byte window of the text that occurs somewhere in a form. A run of 8 or more bytes that occurs
    // in a form is covered by such windows, and each window is such a run itself: hiding them all hides
    // exactly those runs, in O(n log m) with no quadratic matching on a provider's text.
    std::vector<std::uint64_t, wiping_allocator<std::uint64_t>> windows;
    std::size_t count = 0;
    for (const auto& form : forms)
        if (form.size() >= redact_window) count += form.size() - redact_window + 1;
    windows.reserve(count);
    for (const auto& form : forms)
        for (std::size_t i = 0; i + redact_window <= form.size(); ++i)
            windows.push_back(window_at(form.data() + i));
    std::sort(windows.begin(), windows.end());
    if (!windows.empty()) {
        for (std::size_t i = 0; i + redact_window <= text.size(); ++i)
            if (std::binary_search(windows.begin(), windows.end(), window_at(text.data() + i)))
                hide(i, redact_window);
    }
    secure_wipe(windows.data(), windows.size() * sizeof(std::uint64_t));
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!hidden[i])
            out += text[i];
        else if (i == 0 || !hidden[i - 1])
            out += "***";
    }
    return out;
}

std::string sanitize_peer_text(std::string_view text, std::size_t cap) {
    std::string out;
    for (char c : text) {
        if (out.size() >= cap) {
            out += "...";
            break;
        }
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return out;
}

} // namespace mailgate::protocols
