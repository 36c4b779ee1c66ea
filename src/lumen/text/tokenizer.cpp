#include "lumen/text/tokenizer.h"

#include "lumen/core/error.h"
#include "lumen/text/added_tokens.h"

namespace lumen {

std::vector<int32_t> encode_split_at_images(const Tokenizer& tokenizer, std::string_view text,
                                            std::string_view image_text, int32_t image_id) {
  std::vector<std::vector<int32_t>> chunks;
  for (size_t start = 0;;) {
    const size_t at = text.find(image_text, start);
    const size_t length = at == std::string_view::npos ? std::string_view::npos : at - start;
    chunks.push_back(tokenizer.encode(text.substr(start, length)));
    if (at == std::string_view::npos) break;
    start = at + image_text.size();
  }
  const std::optional<int32_t> bos = tokenizer.bos_token_id();
  const size_t offset = bos && !chunks[0].empty() && chunks[0][0] == *bos ? 1 : 0;
  std::vector<int32_t> ids;
  if (offset == 1) ids.push_back(*bos);
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (i > 0) ids.push_back(image_id);
    if (chunks[i].size() > offset) {
      ids.insert(ids.end(), chunks[i].begin() + static_cast<ptrdiff_t>(offset), chunks[i].end());
    }
  }
  return ids;
}

bool has_tokenizer_files(const std::filesystem::path& dir) {
  using tokenizer_files::file_exists;
  // Half of the vocab.json + merges.txt pair counts: loading then names the missing file.
  return file_exists(dir / "tokenizer.model") || file_exists(dir / "tokenizer.json") ||
         file_exists(dir / "vocab.json") || file_exists(dir / "merges.txt");
}

}  // namespace lumen
