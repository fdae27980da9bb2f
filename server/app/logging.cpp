// spdlog sinks and pattern.
#include "server/app/logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace mailgate::app {

void setup_logging(const config& c) {
    std::shared_ptr<spdlog::logger> logger;
    if (c.log_file.empty()) {
        logger = spdlog::stderr_color_mt("mailgate");
    } else {
        try {
            logger = spdlog::basic_logger_mt("mailgate", c.log_file.string());
        } catch (const spdlog::spdlog_ex& e) {
            throw config_error("log.file: cannot open '" + c.log_file.string() + "': " + e.what());
        }
    }
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    logger->set_level(spdlog::level::from_str(c.log_level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

} // namespace mailgate::app
