/*
 * Replays fuzz inputs without libFuzzer: every file named on the command
 * line, or found directly inside a folder named there, is passed once to
 * LLVMFuzzerTestOneInput. A crash or sanitizer report fails the run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fl_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    char *data = NULL;
    size_t size = 0;
    fl_error err = {0};
    if (fl_file_read_all(path, 64u << 20, &data, &size, &err) != FL_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, size);
    free(data);
    return 0;
}

static int replay_folder(const char *path, int *count)
{
    DIR *folder = opendir(path);
    if (folder == NULL) {
        perror(path);
        return 1;
    }
    int failures = 0;
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char file[4096];
        if (fl_path_format(file, sizeof(file), "%s/%s", path, entry->d_name) != FL_OK)
            continue;
        failures += replay_file(file);
        (*count)++;
    }
    closedir(folder);
    return failures;
}

int main(int argc, char **argv)
{
    int failures = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat info;
        if (stat(argv[i], &info) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (S_ISDIR(info.st_mode)) {
            failures += replay_folder(argv[i], &count);
        } else {
            failures += replay_file(argv[i]);
            count++;
        }
    }
    printf("replayed %d inputs\n", count);
    return failures == 0 && count > 0 ? 0 : 1;
}
