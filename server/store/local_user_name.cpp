// User name forms a legacy client may send for one local account.
#include "server/store/local_user_name.hpp"

#include <algorithm>

namespace mailgate::store {

std::vector<std::string> local_user_candidates(std::string_view typed) {
    std::vector<std::string> out;
    auto add = [&out](std::string_view name) {
        if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) out.emplace_back(name);
    };
    add(typed);
    auto name = typed;
    if (auto slash = name.rfind('\\'); slash != std::string_view::npos) name = name.substr(slash + 1);
    add(name);
    if (auto at = name.rfind('@'); at != std::string_view::npos) add(name.substr(0, at));
    return out;
}

} // namespace mailgate::store
