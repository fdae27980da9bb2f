// The ways a parser test delivers its input (DESIGN.md "Tests"): whole, split in two at every offset, and one
// byte at a time. A parser must give the same result for each.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailgate::test {

struct delivery {
    std::string name;                     // "whole", "split at 7", "byte by byte": for the failure message
    std::vector<std::string_view> pieces; // views into the input given to every_delivery()
};

inline std::vector<delivery> every_delivery(std::string_view input) {
    std::vector<delivery> out;
    out.push_back({"whole", {input}});
    for (std::size_t cut = 1; cut < input.size(); ++cut)
        out.push_back({"split at " + std::to_string(cut), {input.substr(0, cut), input.substr(cut)}});
    delivery bytes{"byte by byte", {}};
    for (std::size_t i = 0; i < input.size(); ++i) bytes.pieces.push_back(input.substr(i, 1));
    out.push_back(std::move(bytes));
    return out;
}

} // namespace mailgate::test
