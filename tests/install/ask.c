/* A C program using the installed library through lumen.h (tests/install/install_test.sh):
 *   ask_c IMAGE QUESTION        prints the bundled model's answer and a newline, as `lumen ask`
 *   ask_c --model-dir           prints the directory a NULL dir loads
 * Exit status 1 with the library's message on stderr when anything fails. C89. */
#include <stdio.h>
#include <string.h>

#include <lumen/lumen.h>

int main(int argc, char** argv) {
  char* error = NULL;
  lumen_model* model;
  char* answer;
  if (argc == 2 && strcmp(argv[1], "--model-dir") == 0) {
    char* dir = lumen_default_model_dir();
    if (dir == NULL) return 1;
    printf("%s\n", dir);
    lumen_string_free(dir);
    return 0;
  }
  if (argc != 3) {
    fprintf(stderr, "usage: %s IMAGE QUESTION | --model-dir\n", argv[0]);
    return 2;
  }
  model = lumen_model_load(NULL, &error);
  if (model == NULL) {
    fprintf(stderr, "ask_c: %s\n", error != NULL ? error : "out of memory");
    lumen_string_free(error);
    return 1;
  }
  answer = lumen_ask(model, argv[1], argv[2], &error);
  if (answer == NULL) {
    fprintf(stderr, "ask_c: %s\n", error != NULL ? error : "out of memory");
    lumen_string_free(error);
    lumen_model_free(model);
    return 1;
  }
  printf("%s\n", answer);
  lumen_string_free(answer);
  lumen_model_free(model);
  return 0;
}
