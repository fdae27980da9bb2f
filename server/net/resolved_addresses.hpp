// Provider addresses resolved recently, so that a login does not wait for a name lookup each time: Asio runs
// getaddrinfo on a thread of its own (a thread handoff per login), and for a real provider that is a DNS round
// trip. An entry is kept for a short while; a failed connect forgets it, so the next attempt resolves again.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace mailgate::net {

class resolved_addresses {
public:
    using results = boost::asio::ip::tcp::resolver::results_type;
    explicit resolved_addresses(std::chrono::steady_clock::duration keep = std::chrono::seconds(30),
                                std::size_t capacity = 1024)
        : keep_(keep), capacity_(capacity) {}

    std::optional<results> find(const std::string& host, std::uint16_t port);
    void remember(const std::string& host, std::uint16_t port, const results& addresses);
    void forget(const std::string& host, std::uint16_t port);

private:
    struct entry {
        results addresses;
        std::chrono::steady_clock::time_point until;
    };
    std::chrono::steady_clock::duration keep_;
    std::size_t capacity_;
    std::mutex mutex_;
    std::map<std::pair<std::string, std::uint16_t>, entry> entries_;
};

// The process's one cache, shared by every provider connection.
resolved_addresses& provider_addresses();

} // namespace mailgate::net
