#include "lumen/server/item_image.h"

#include <filesystem>
#include <fstream>

#include "lumen/server/api_error.h"

namespace lumen::server {

std::string sniff_image_type(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  if (starts("\x89PNG\r\n\x1a\n")) return "image/png";
  if (starts("\xff\xd8\xff")) return "image/jpeg";
  if (starts("GIF87a") || starts("GIF89a")) return "image/gif";
  if (head.size() >= 12 && starts("RIFF") && head.substr(8, 4) == "WEBP") return "image/webp";
  return "";
}

ItemImage read_item_image(const ItemIndex& index, const std::string& id, uint64_t max_bytes) {
  if (!index.contains(id)) throw ApiError(404, "no item with id \"" + id + "\" in the index", "id", "item_not_found");
  const nlohmann::json& fields = index.fields_of(id);
  auto image = fields.find("image");
  if (image == fields.end() || !image->is_string()) {
    throw ApiError(404, "the item \"" + id + "\" has no image", "id", "item_has_no_image");
  }
  const ApiError unavailable(404, "the image of item \"" + id + "\" is not available", "id", "image_not_found");
  const std::filesystem::path path = image->get<std::string>();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw unavailable;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec || size == 0 || size > max_bytes) throw unavailable;
  std::ifstream in(path, std::ios::binary);
  ItemImage out;
  out.bytes.resize(size);
  if (!in.read(out.bytes.data(), static_cast<std::streamsize>(size))) throw unavailable;
  out.content_type = sniff_image_type(out.bytes);
  if (out.content_type.empty()) throw unavailable;
  return out;
}

}  // namespace lumen::server
