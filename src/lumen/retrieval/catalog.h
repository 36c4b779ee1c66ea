// Catalogs for `lumen index`: JSON Lines, one item per line,
//   {"id": "sku-1", "image": "photos/1.jpg", "text": "red running shoe", ...metadata}
// `id` (string or integer) is required and unique; at least one of `image` (a path, relative to
// the catalog file) and `text` is present; every other key is metadata returned with results.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lumen {

struct CatalogItem {
  std::string id;                  // the id as text (integers in decimal)
  std::optional<std::string> image;  // resolved path (catalog directory joined)
  std::optional<std::string> text;
  nlohmann::json fields;           // the whole line, id included, "image" resolved: what results show
  size_t line = 0;                 // 1-based line in the catalog file, for error messages
};

struct CatalogLimits {
  size_t max_items = 10'000'000;
  size_t max_line_bytes = 1u << 20;
  size_t max_id_bytes = 1024;
};

// Reads and checks a catalog. Blank lines are skipped. Throws Error naming file and line
// (malformed JSON, missing/duplicate id, no image or text, a limit exceeded).
std::vector<CatalogItem> read_catalog(const std::filesystem::path& path, const CatalogLimits& limits = {});

// One item from a parsed line; `base_dir` resolves relative image paths. Throws Error.
CatalogItem parse_catalog_item(const nlohmann::json& line, const std::filesystem::path& base_dir,
                               const std::string& label, const CatalogLimits& limits = {});

}  // namespace lumen
