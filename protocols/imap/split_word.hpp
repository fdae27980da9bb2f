// Splitting an IMAP response line word by word ("tag status text", "* n FETCH ...").
#pragma once

#include <string_view>
#include <utility>

namespace mailgate::protocols::imap {

// "word rest" split at the first space; no space: the whole as the word and an empty rest.
inline std::pair<std::string_view, std::string_view> split_word(std::string_view s) {
    auto space = s.find(' ');
    if (space == std::string_view::npos) return {s, {}};
    return {s.substr(0, space), s.substr(space + 1)};
}

} // namespace mailgate::protocols::imap
