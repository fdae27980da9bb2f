// Any codec action seen flat, by name and bytes: what the transcript runners and fuzz drivers compare and print.
#pragma once

#include "protocols/common/action.hpp"

#include <string_view>
#include <variant>

namespace mailgate::test {

struct action_view {
    std::string_view
        kind; // "read", "write", "start_tls", "authenticate", "relay", "close", "done", "failed",
              // "select_account", "upstream_command", "upstream_data", "upstream_verdict",
              // "upstream_abort", "retrieve", "commit", "message_chunk"
    std::string_view bytes{};
    protocols::read_deadline deadline = protocols::read_deadline::command; // for "read"
};

inline action_view view_of(const protocols::read_input& a) { return {"read", {}, a.deadline}; }
inline action_view view_of(const protocols::write_output& a) { return {"write", a.bytes}; }
inline action_view view_of(const protocols::start_tls&) { return {"start_tls"}; }
inline action_view view_of(const protocols::relay_bytes&) { return {"relay"}; }
inline action_view view_of(protocols::session_step s) {
    return {s == protocols::session_step::authenticate ? "authenticate" : "close"};
}
inline action_view view_of(protocols::client_step s) {
    return {s == protocols::client_step::done ? "done" : "failed"};
}
inline action_view view_of(const protocols::transaction_step& t) {
    using kind = protocols::transaction_step::kind;
    switch (t.what) {
    case kind::select_account: return {"select_account"};
    case kind::command: return {"upstream_command", t.bytes};
    case kind::data: return {"upstream_data", t.bytes};
    case kind::verdict: return {"upstream_verdict"};
    case kind::abort: return {"upstream_abort"};
    }
    return {"?"};
}
inline action_view view_of(const protocols::maildrop_step& m) {
    return {m.what == protocols::maildrop_step::kind::retrieve ? "retrieve" : "commit"};
}
inline action_view view_of(const protocols::message_chunk& m) { return {"message_chunk", m.bytes}; }
template <class... Steps> action_view view_of(const protocols::action<Steps...>& a) {
    return std::visit([](const auto& x) { return view_of(x); }, a);
}

} // namespace mailgate::test
