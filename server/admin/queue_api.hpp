// The admin API's view of the SMTP spool: GET /api/v1/queue (every queued message with its state), POST
// /api/v1/queue/ID/retry, DELETE /api/v1/queue/ID, GET /api/v1/queue/ID/headers.
#pragma once

#include "server/admin/api_settings.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <vector>

namespace mailgate::admin {

boost::beast::http::response<boost::beast::http::string_body>
queue_request(proxy::spool_service* spool,
              const boost::beast::http::request<boost::beast::http::string_body>& req,
              const std::vector<std::string>& parts);

} // namespace mailgate::admin
