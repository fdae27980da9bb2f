// The admin page's static files (HTML, CSS, plain JavaScript), embedded in the binary at build time.
#pragma once

#include <string_view>

namespace mailgate::admin {

struct asset {
    std::string_view content_type;
    std::string_view body;
};

// "/" serves index.html; nullptr for anything that is not an embedded file.
const asset* find_asset(std::string_view path);

} // namespace mailgate::admin
