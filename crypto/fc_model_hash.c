#include "fc_model_hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_file.h"
#include "fl_mem.h"

#define HASH_BUFFER_BYTES (1u << 20)

static int is_model_file(const char *name)
{
    static const char *const fixed[] = {"config.json", "tokenizer.json",
                                        "model.safetensors.index.json"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (strcmp(name, fixed[i]) == 0)
            return 1;
    }
    size_t length = strlen(name);
    return length > 12 && strcmp(name + length - 12, ".safetensors") == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the model files of folder in byte order. Caller frees each name and the array. */
static int list_files(const char *folder, char ***names, size_t *count, fl_error *err)
{
    *names = NULL;
    *count = 0;
    DIR *dir = opendir(folder);
    if (dir == NULL)
        return fl_error_set(err, errno == ENOENT ? FL_ENOTFOUND : FL_EIO,
                            "%s: cannot open model folder: %s", folder, strerror(errno));
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (!is_model_file(entry->d_name))
            continue;
        *names = fl_xrealloc(*names, (*count + 1) * sizeof(char *));
        (*names)[(*count)++] = fl_xstrdup(entry->d_name);
    }
    closedir(dir);
    qsort(*names, *count, sizeof(char *), compare_names);
    return FL_OK;
}

static int hash_file(crypto_generichash_state *state, const char *folder, const char *name,
                     unsigned char *buffer, fl_error *err)
{
    char path[4096];
    if (fl_path_format(path, sizeof(path), "%s/%s", folder, name) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", folder);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat info;
    if (fd < 0 || fstat(fd, &info) != 0) {
        int rc = fl_error_set(err, FL_EIO, "%s: cannot read: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }

    uint64_t size = (uint64_t)info.st_size;
    unsigned char header[8];
    for (int i = 0; i < 8; i++)
        header[i] = (unsigned char)(size >> (8 * i));
    crypto_generichash_update(state, (const unsigned char *)name, strlen(name) + 1);
    crypto_generichash_update(state, header, sizeof(header));

    uint64_t done = 0;
    int rc = FL_OK;
    while (done < size) {
        ssize_t got = read(fd, buffer, HASH_BUFFER_BYTES);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = fl_error_set(err, FL_EIO, "%s: read failed after %llu bytes: %s", path,
                              (unsigned long long)done, got == 0 ? "file shrank" : strerror(errno));
            break;
        }
        crypto_generichash_update(state, buffer, (size_t)got);
        done += (uint64_t)got;
    }
    close(fd);
    return rc;
}

int fc_model_hash(const char *folder, uint8_t hash[FC_MODEL_HASH_BYTES], fl_error *err)
{
    if (sodium_init() < 0)
        return fl_error_set(err, FL_ECRYPTO, "libsodium failed to initialise");
    char **names = NULL;
    size_t count = 0;
    int rc = list_files(folder, &names, &count, err);
    if (rc != FL_OK)
        return rc;

    int has_config = 0, has_weights = 0;
    for (size_t i = 0; i < count; i++) {
        has_config |= strcmp(names[i], "config.json") == 0;
        has_weights |= strstr(names[i], ".safetensors") != NULL &&
                       strcmp(names[i], "model.safetensors.index.json") != 0;
    }
    if (!has_config || !has_weights)
        rc = fl_error_set(err, FL_ENOTFOUND,
                          "%s: not a Hugging Face model folder: it needs config.json and "
                          "*.safetensors",
                          folder);

    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, FC_MODEL_HASH_BYTES);
    unsigned char *buffer = fl_xmalloc(HASH_BUFFER_BYTES);
    for (size_t i = 0; i < count && rc == FL_OK; i++)
        rc = hash_file(&state, folder, names[i], buffer, err);
    if (rc == FL_OK)
        crypto_generichash_final(&state, hash, FC_MODEL_HASH_BYTES);

    free(buffer);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}

void fc_model_hash_hex(char text[FC_MODEL_HASH_HEX], const uint8_t hash[FC_MODEL_HASH_BYTES])
{
    sodium_bin2hex(text, FC_MODEL_HASH_HEX, hash, FC_MODEL_HASH_BYTES);
}
