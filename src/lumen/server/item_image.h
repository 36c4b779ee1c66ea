// The image of an indexed catalog item, for GET /v1/items/{id}/image (the web app's
// thumbnails). The id is only a key into the index: the file read is the one the catalog
// named when the index was built (ItemIndex::fields_of(id)["image"]), so no part of a request
// ever becomes a path, and ids such as "../../etc/passwd" are simply unknown. The file must
// also be a PNG, JPEG, GIF or WebP by its first bytes, so even a catalog naming some other
// file cannot make the server hand it out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lumen/retrieval/item_index.h"

namespace lumen::server {

struct ItemImage {
  std::string content_type;  // "image/png", "image/jpeg", "image/gif" or "image/webp"
  std::string bytes;
};

// The media type of an image from its first bytes; empty when it is none of the four.
std::string sniff_image_type(std::string_view head);

// Throws ApiError 404 for an unknown id ("item_not_found"), an item without an image
// ("item_has_no_image"), and a file that is missing, unreadable, over `max_bytes` or not an
// image ("image_not_found"); the message never names the file.
ItemImage read_item_image(const ItemIndex& index, const std::string& id, uint64_t max_bytes);

}  // namespace lumen::server
