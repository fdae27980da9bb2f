// `mailgate serve`: startup (data dir, key, database, certificate), listeners, banner, signals, shutdown.
#pragma once

#include "server/app/config.hpp"

namespace mailgate::app {

int serve(const config& c);

} // namespace mailgate::app
