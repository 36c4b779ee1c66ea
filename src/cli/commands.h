// Every `lumen` subcommand: run(argc, argv) returns the process exit status. Library errors
// propagate as lumen::Error and usage errors as UsageError; main() reports both.
#pragma once

namespace lumen::cli {

int run_generate(int argc, char** argv);
int run_tokenize(int argc, char** argv);
int run_info(int argc, char** argv);
int run_ask(int argc, char** argv);
int run_caption(int argc, char** argv);
int run_chat(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_embed(int argc, char** argv);
int run_index(int argc, char** argv);
int run_search(int argc, char** argv);
int run_recommend(int argc, char** argv);
int run_serve(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_quantize(int argc, char** argv);

}  // namespace lumen::cli
