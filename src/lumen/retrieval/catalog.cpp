#include "lumen/retrieval/catalog.h"

#include <fstream>
#include <unordered_set>

#include "lumen/core/error.h"
#include "lumen/formats/json_util.h"

namespace lumen {

CatalogItem parse_catalog_item(const nlohmann::json& j, const std::filesystem::path& base_dir, const std::string& label,
                               const CatalogLimits& limits) {
  if (!j.is_object()) fail(label, ": expected a JSON object");
  CatalogItem item;
  auto id = j.find("id");
  if (id == j.end()) fail(label, ": missing \"id\"");
  if (id->is_string()) {
    item.id = id->get<std::string>();
  } else if (id->is_number_integer()) {
    item.id = id->dump();
  } else {
    fail(label, ": \"id\" must be a string or an integer");
  }
  if (item.id.empty()) fail(label, ": \"id\" is empty");
  if (item.id.size() > limits.max_id_bytes) fail_kind(ErrorKind::kLimitExceeded, label, ": \"id\" is longer than ", limits.max_id_bytes, " bytes");
  item.fields = j;
  if (auto image = j.find("image"); image != j.end() && !image->is_null()) {
    if (!image->is_string() || image->get<std::string>().empty()) fail(label, ": \"image\" must be a non-empty path");
    std::filesystem::path path = image->get<std::string>();
    if (path.is_relative() && !base_dir.empty()) path = base_dir / path;
    item.image = path.string();
    item.fields["image"] = *item.image;
  }
  if (auto text = j.find("text"); text != j.end() && !text->is_null()) {
    if (!text->is_string()) fail(label, ": \"text\" must be a string");
    item.text = text->get<std::string>();
  }
  if (!item.image && !item.text) fail(label, ": an item needs an \"image\" or a \"text\"");
  return item;
}

std::vector<CatalogItem> read_catalog(const std::filesystem::path& path, const CatalogLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail_kind(ErrorKind::kNotFound, path.string(), ": no such file");
    fail_kind(ErrorKind::kIo, "cannot read ", path.string());
  }
  std::vector<CatalogItem> items;
  std::unordered_set<std::string> seen;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string label = path.string() + ":" + std::to_string(number);
    if (line.size() > limits.max_line_bytes) {
      fail_kind(ErrorKind::kLimitExceeded, label, ": line is longer than ", limits.max_line_bytes, " bytes");
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (items.size() >= limits.max_items) {
      fail_kind(ErrorKind::kLimitExceeded, path.string(), ": more than ", limits.max_items, " items");
    }
    CatalogItem item = parse_catalog_item(json_util::parse(line, label), path.parent_path(), label, limits);
    item.line = number;
    if (!seen.insert(item.id).second) fail(label, ": duplicate id \"", item.id, "\"");
    items.push_back(std::move(item));
  }
  if (in.bad()) fail_kind(ErrorKind::kIo, "cannot read ", path.string());
  return items;
}

}  // namespace lumen
