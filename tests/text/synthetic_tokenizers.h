// Tokenizer files made in the test, for checkpoints whose real tokenizers are not available
// here: a Llama-style SentencePiece model trained by libsentencepiece's own trainer, and a
// Qwen2-style byte-level BPE tokenizer.json.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace lumen::testing {

// A BPE SentencePiece model as Llama's is set up: <unk> 0, <s> 1, </s> 2, byte fallback, dummy
// prefix, whitespace kept, no normalization. Trained once per test process on a fixed corpus;
// returns the path of its tokenizer.model.
const std::filesystem::path& llama_like_spm_model();

// Writes DIR/tokenizer.model (the model above) and DIR/tokenizer_config.json with `config`
// (tokenizer_class LlamaTokenizer unless config sets it).
void write_llama_like_tokenizer(const std::filesystem::path& dir, nlohmann::json config);

// A Qwen2 tokenizer.json: every byte a token (ids 0..255), a few merges, the Split regex and
// NFC of Qwen2's, and <|endoftext|>, <|im_start|>, <|im_end|> as special added tokens (ids
// 300..302). Writes DIR/tokenizer.json and DIR/tokenizer_config.json (Qwen2Tokenizer).
void write_qwen2_like_tokenizer(const std::filesystem::path& dir);

}  // namespace lumen::testing
