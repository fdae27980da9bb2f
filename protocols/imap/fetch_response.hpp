// Reading the provider's untagged FETCH responses (RFC 9051 §7.5.2) once they are assembled: the response text
// with each literal's "{n}" marker left in place, and the literals' bytes in order beside it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailgate::protocols::imap {

struct fetch_response {
    std::uint32_t sequence = 0;
    std::optional<std::uint32_t> uid;
    std::optional<std::uint64_t> size; // RFC822.SIZE
    std::vector<std::string> flags;    // upper-cased
    // BODY[section]<origin> items: the name upper-cased ("BODY[HEADER.FIELDS (MESSAGE-ID)]"), the value (NIL and
    // streamed literals are empty).
    std::vector<std::pair<std::string, std::string>> sections;
};

// `text` starts after "* ". nullopt: not a FETCH response, or one that does not parse.
std::optional<fetch_response> parse_fetch(std::string_view text, const std::vector<std::string>& literals);

// The size announced by a literal marker ending `segment` ("{n}", "{n+}", "~{n}"), if it ends with one.
std::optional<std::uint64_t> trailing_literal(std::string_view segment);

// The Message-ID in a header block as fetched with BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] (folded lines joined,
// surrounding space trimmed); empty when there is none or it is not printable ASCII.
std::string message_id_of(std::string_view header);

} // namespace mailgate::protocols::imap
