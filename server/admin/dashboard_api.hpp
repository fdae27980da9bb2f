// GET /api/v1/dashboard: the admin page's first view, from the activity registry, the listeners and the
// certificates.
#pragma once

#include <boost/json/object.hpp>

namespace mailgate::proxy {
class activity;
}
namespace mailgate::net {
class certificate_manager;
}

namespace mailgate::admin {

struct client_setup;

// {listeners, tls, sessions_now, (draining: added by admin_api), history: [{start, sessions, logins_ok, logins_failed, messages}], last_hour:
// {logins_ok, logins_failed, messages}, upstream_errors: {account: n}, certificates: [{key_type, subject, not_after}]}
boost::json::object dashboard_json(const proxy::activity& live, const client_setup* setup,
                                   net::certificate_manager* certificates);

} // namespace mailgate::admin
