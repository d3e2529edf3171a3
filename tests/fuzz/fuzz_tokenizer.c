/* Fuzz target: the tokenizer.json loader, then encoding a fixed text with what it loaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tok_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (path[0] == '\0') {
        snprintf(path, sizeof(path), "/tmp/fuzz_tokenizer.XXXXXX");
        int fd = mkstemp(path);
        if (fd < 0)
            abort();
        close(fd);
    }
    FILE *file = fopen(path, "wb");
    if (file == NULL)
        abort();
    fwrite(data, 1, size, file);
    fclose(file);

    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    if (tok_load(path, &tok, &err) != FL_OK)
        return 0;
    static const char text[] = "A 57-year-old man\twith chest pain <|im_end|> 发烧 2 days.\r\n";
    tok_ids ids;
    tok_ids_init(&ids);
    if (tok_encode(tok, text, sizeof(text) - 1, TOK_ADD_SPECIAL, &ids, &err) == FL_OK) {
        char *decoded = NULL;
        if (tok_decode(tok, ids.data, ids.length, false, &decoded, NULL, &err) == FL_OK)
            free(decoded);
    }
    tok_ids_release(&ids);
    tok_destroy(&tok);
    return 0;
}
