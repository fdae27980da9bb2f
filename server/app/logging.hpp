// Process-wide logging setup (spdlog): standard error or a file, at the configured level.
#pragma once

#include "server/app/config.hpp"

namespace mailgate::app {

void setup_logging(const config& c);

} // namespace mailgate::app
