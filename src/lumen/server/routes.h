// Route groups: each registers a family of endpoints on the HTTP server, in its own file.
//
// To add an endpoint group (say /v1/embeddings):
//   1. write src/lumen/server/embedding_routes.cpp defining
//        void register_embedding_routes(httplib::Server& http, ServerContext& context)
//      that calls http.Post("/v1/embeddings", api_handler(context, "/v1/embeddings", ...));
//      api_handler (http_util.h) turns exceptions into OpenAI-style errors and counts the
//      request in /metrics; throw ApiError (api_error.h) with a status for bad input;
//   2. declare it below;
//   3. add it to kRouteGroups in server.cpp.
// Authentication (Authorization: Bearer) is checked before any route runs, so a group needs
// nothing for it (only /health, /ready and the web app's files are exempt, see server.cpp). Anything
// a group needs beyond ServerContext it owns itself.
#pragma once

#include <httplib.h>

#include "lumen/server/server_context.h"

namespace lumen::server {

using RouteGroup = void (*)(httplib::Server& http, ServerContext& context);

// POST /v1/chat/completions (chat_routes.cpp).
void register_chat_routes(httplib::Server& http, ServerContext& context);
// GET /v1/models, /v1/models/{id}, /health, /ready, /metrics (info_routes.cpp).
void register_info_routes(httplib::Server& http, ServerContext& context);
// POST /v1/embeddings, /v1/search, /v1/recommend; GET /v1/index, /v1/items/{id}/image
// (retrieval_routes.cpp).
void register_retrieval_routes(httplib::Server& http, ServerContext& context);
// GET / and /web/*: the web app embedded in the binary (web_routes.cpp, web_assets.h).
void register_web_routes(httplib::Server& http, ServerContext& context);

}  // namespace lumen::server
