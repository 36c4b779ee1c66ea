/* Lumen's C API: load an Imp checkpoint and ask it questions about images. C89; opaque handles;
 * no exception ever crosses it. The C++ API (lumen.hpp) has the rest: streaming, chat,
 * captions, embeddings, search.
 *
 *   char* error = NULL;
 *   lumen_model* model = lumen_model_load(NULL, &error);     (NULL: the bundled model)
 *   char* answer = model ? lumen_ask(model, "photo.png", "Describe the image.", &error) : NULL;
 *   if (answer) puts(answer); else fprintf(stderr, "%s\n", error);
 *   lumen_string_free(answer);
 *   lumen_string_free(error);
 *   lumen_model_free(model);
 *
 * Link: `pkg-config --cflags --libs lumen`, or Lumen::lumen from CMake's find_package(Lumen).
 *
 * Errors: a function that fails returns NULL and, when `error` is not NULL, sets *error to a
 * one-line message (UTF-8, malloc'd; free it with lumen_string_free), or to NULL when even
 * that could not be allocated. On success *error is set to NULL.
 *
 * Threads: one model may be used from several threads; its calls run one at a time.
 */
#ifndef LUMEN_LUMEN_H
#define LUMEN_LUMEN_H

#ifdef __cplusplus
extern "C" {
#endif

/* A loaded model (an Imp checkpoint: config.json, safetensors weights, tokenizer files). */
typedef struct lumen_model lumen_model;

/* Loads the checkpoint directory `dir` on the CPU with the CLI's defaults (all cores, images
 * up to 50,000,000 pixels, transparency dropped as the reference does). NULL or "" loads the
 * bundled imp-shapes model (see lumen_default_model_dir). Returns NULL on failure. */
lumen_model* lumen_model_load(const char* dir, char** error);

/* Answers `question` about the image at `image_path` (JPEG or PNG; NULL for a text-only
 * question) with the checkpoint's chat template, greedy, at most 256 new tokens: exactly what
 * `lumen ask -i IMAGE "QUESTION"` prints, without its final newline. Returns a malloc'd UTF-8
 * string to free with lumen_string_free, or NULL on failure (a bad image, a prompt longer
 * than the context, a NULL model or question). */
char* lumen_ask(lumen_model* model, const char* image_path, const char* question, char** error);

/* Frees a string returned by this API (an answer or an error message). NULL is ignored. */
void lumen_string_free(char* text);

/* Frees a model. NULL is ignored. */
void lumen_model_free(lumen_model* model);

/* The directory a NULL `dir` loads, as a malloc'd string to free with lumen_string_free (NULL
 * only when out of memory): $LUMEN_MODEL_DIR when set, else PREFIX/share/lumen/models/imp-shapes
 * for a program in PREFIX/bin, else the source tree of an in-tree build, else the configured
 * install location. */
char* lumen_default_model_dir(void);

/* The library's version, "MAJOR.MINOR.PATCH" (static storage: do not free). */
const char* lumen_version(void);

#ifdef __cplusplus
}
#endif

#endif /* LUMEN_LUMEN_H */
