// application/x-www-form-urlencoded text: URL queries and form bodies.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailgate {

// '+' is a space, %XX a byte; a broken escape stays as it is.
std::string form_decode(std::string_view text);

// "a=1&b=x+y" as decoded (key, value) pairs in order; a pair without '=' has an empty value.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

// The first value of `key` in the query part of a request target ("/path?key=value"), if any.
std::optional<std::string> query_parameter(std::string_view target, std::string_view key);

} // namespace mailgate
