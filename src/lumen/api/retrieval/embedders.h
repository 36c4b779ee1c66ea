// The embedders a lumen::api::Model has made (kept in Model::Impl::embedders), shared by the
// API's embedding and index calls. Part of lumen_retrieval; never installed.
#pragma once

#include <string>

#include "lumen/api/model_impl.h"
#include "lumen/retrieval/embedder.h"

namespace lumen::api {

// The model's embedder for `method` ("auto" or "": "caption"), made on first use with the
// model's pixel limit and alpha mode. Call with impl.mutex held. Throws lumen::Error.
const Embedder& model_embedder(Model::Impl& impl, const std::string& method);

}  // namespace lumen::api
