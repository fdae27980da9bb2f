// Who a client session is - its number (its connection slot's), protocol and peer - and a logger that starts
// every line about it with "<protocol> #<id> from <peer>: ", so that one session's story can be grepped.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <string_view>
#include <system_error>
#include <utility>

namespace mailgate::proxy {

struct session_context {
    std::string_view protocol; // "pop3", "imap", "smtp"
    std::uint64_t id;
    std::string_view peer;

    template <class... Args>
    void log(spdlog::level::level_enum level, fmt::format_string<Args...> text, Args&&... args) const {
        if (!spdlog::should_log(level)) return;
        spdlog::log(level, "{} #{} from {}: {}", protocol, id, peer,
                    fmt::format(text, std::forward<Args>(args)...));
    }
    template <class... Args> void debug(fmt::format_string<Args...> text, Args&&... args) const {
        log(spdlog::level::debug, text, std::forward<Args>(args)...);
    }
    template <class... Args> void info(fmt::format_string<Args...> text, Args&&... args) const {
        log(spdlog::level::info, text, std::forward<Args>(args)...);
    }
    template <class... Args> void warn(fmt::format_string<Args...> text, Args&&... args) const {
        log(spdlog::level::warn, text, std::forward<Args>(args)...);
    }

    // STARTTLS with plaintext pipelined after the command: the bytes were dropped unread (CVE-2011-0411).
    void plaintext_dropped(std::size_t bytes) const;
    // The end of the client dialogue: routine ends (QUIT, the client went away) only at debug level.
    void dialogue_ended(std::error_code why) const;
};

} // namespace mailgate::proxy
