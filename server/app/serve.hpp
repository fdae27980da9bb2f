// `mailgate serve`: startup (data dir, key, database, certificate), listeners, banner, signals, shutdown.
#pragma once

#include "server/app/config.hpp"

#include <filesystem>

namespace mailgate::app {

// What `mailgate serve` takes besides the configuration.
struct serve_options {
    // Once every listener is bound, "NAME HOST:PORT" lines go there: the bound ports, also where 0 was asked.
    std::filesystem::path ports_file;
};

int serve(const config& c, const serve_options& options = {});

} // namespace mailgate::app
