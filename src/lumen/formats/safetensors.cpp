#include "lumen/formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lumen/core/error.h"

namespace lumen {

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::shape_string() const {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

void parse_safetensors_header(std::string_view header, const uint8_t* data, size_t data_size,
                              const std::string& file_label, std::map<std::string, TensorView>* tensors,
                              std::map<std::string, std::string>* metadata) {
  nlohmann::json root = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) fail(file_label, ": safetensors header is not a JSON object");

  struct Range {
    size_t begin, end;
    const std::string* name;
  };
  std::vector<Range> ranges;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(file_label, ": __metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (m.value().is_string()) (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) fail(file_label, ": tensor '", name, "' entry is not an object");
    auto dtype_it = entry.find("dtype");
    auto shape_it = entry.find("shape");
    auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || !dtype_it->is_string() || shape_it == entry.end() ||
        !shape_it->is_array() || offsets_it == entry.end() || !offsets_it->is_array() ||
        offsets_it->size() != 2) {
      fail(file_label, ": tensor '", name, "' needs dtype, shape and data_offsets");
    }
    TensorView view;
    view.name = name;
    if (!parse_dtype(dtype_it->get<std::string>(), &view.dtype)) {
      fail(file_label, ": tensor '", name, "' has unsupported dtype ", dtype_it->get<std::string>());
    }
    if (shape_it->size() > 8) fail(file_label, ": tensor '", name, "' has ", shape_it->size(), " dimensions");
    // Element count, guarded against overflow: no real tensor has more than 2^40 elements.
    uint64_t count = 1;
    for (const auto& dim : *shape_it) {
      if (!dim.is_number_unsigned() && !(dim.is_number_integer() && dim.get<int64_t>() >= 0)) {
        fail(file_label, ": tensor '", name, "' has a negative or non-integer dimension");
      }
      uint64_t d = dim.get<uint64_t>();
      if (d > (1ull << 40) || (d != 0 && count > (1ull << 40) / d)) {
        fail(file_label, ": tensor '", name, "' is impossibly large");
      }
      count *= d;
      view.shape.push_back(static_cast<int64_t>(d));
    }
    for (const auto& offset : *offsets_it) {
      if (!offset.is_number_unsigned() && !(offset.is_number_integer() && offset.get<int64_t>() >= 0)) {
        fail(file_label, ": tensor '", name, "' has a negative or non-integer data offset");
      }
    }
    uint64_t begin = (*offsets_it)[0].get<uint64_t>();
    uint64_t end = (*offsets_it)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      fail(file_label, ": tensor '", name, "' data offsets [", begin, ", ", end,
           ") fall outside the file's data section of ", data_size, " bytes");
    }
    size_t block = dtype_block(view.dtype);
    if (count % block != 0) fail(file_label, ": tensor '", name, "' size is not a multiple of its block");
    uint64_t expected = count / block * dtype_size(view.dtype);
    if (end - begin != expected) {
      fail(file_label, ": tensor '", name, "' holds ", end - begin, " bytes but dtype ",
           dtype_name(view.dtype), " x shape ", view.shape_string(), " needs ", expected);
    }
    view.data = data + begin;
    view.nbytes = static_cast<size_t>(end - begin);
    auto [pos, inserted] = tensors->emplace(name, std::move(view));
    ranges.push_back({static_cast<size_t>(begin), static_cast<size_t>(end), &pos->first});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[i - 1].end) {
      fail(file_label, ": tensors '", *ranges[i - 1].name, "' and '", *ranges[i].name, "' overlap");
    }
  }
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path,
                                                       const SafetensorsLimits& limits) {
  MappedFile mapped(path);
  const std::string label = path.string();
  if (mapped.size() < 8) fail(label, ": too small to be a safetensors file (", mapped.size(), " bytes)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | mapped.data()[i];
  if (header_len > mapped.size() - 8) {
    fail(label, ": safetensors header length ", header_len, " runs past the end of the file (",
         mapped.size(), " bytes)");
  }
  if (header_len > limits.max_header_bytes) {
    fail_kind(ErrorKind::kLimitExceeded, label, ": safetensors header of ", header_len,
              " bytes exceeds the limit of ", limits.max_header_bytes);
  }
  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile(std::move(mapped)));
  const uint8_t* base = file->file_.data();
  std::string_view header(reinterpret_cast<const char*>(base + 8), header_len);
  size_t data_offset = 8 + header_len;
  parse_safetensors_header(header, base + data_offset, file->file_.size() - data_offset, label, &file->tensors_,
                           &file->metadata_);
  return file;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorToWrite*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto* t : sorted) {
    header[t->name] = {{"dtype", std::string(dtype_name(t->dtype))},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->nbytes}}};
    offset += t->nbytes;
  }
  std::string text = header.dump();
  while ((text.size() + 8) % 8 != 0) text.push_back(' ');  // align data to 8 bytes
  std::filesystem::path tmp = path;
  tmp += ".partial";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail_kind(ErrorKind::kIo, "cannot write ", tmp.string());
    uint64_t len = text.size();
    char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((len >> (8 * i)) & 0xff);
    out.write(prefix, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto* t : sorted) out.write(static_cast<const char*>(t->data), static_cast<std::streamsize>(t->nbytes));
    if (!out) fail_kind(ErrorKind::kIo, "write to ", tmp.string(), " failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail_kind(ErrorKind::kIo, "cannot rename ", tmp.string(), " to ", path.string(), ": ", ec.message());
}

}  // namespace lumen
