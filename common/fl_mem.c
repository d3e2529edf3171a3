#include "fl_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size)
{
    fprintf(stderr, "fedlora: out of memory allocating %zu bytes\n", size);
    abort();
}

void *fl_xmalloc(size_t size)
{
    void *ptr = malloc(size ? size : 1);
    if (ptr == NULL)
        out_of_memory(size);
    return ptr;
}

void *fl_xcalloc(size_t count, size_t size)
{
    void *ptr = calloc(count ? count : 1, size ? size : 1);
    if (ptr == NULL)
        out_of_memory(count * size);
    return ptr;
}

void *fl_xrealloc(void *ptr, size_t size)
{
    void *grown = realloc(ptr, size ? size : 1);
    if (grown == NULL)
        out_of_memory(size);
    return grown;
}

char *fl_xstrdup(const char *text)
{
    return fl_xstrndup(text, strlen(text));
}

char *fl_xstrndup(const char *text, size_t length)
{
    char *copy = fl_xmalloc(length + 1);
    memcpy(copy, text, length);
    copy[length] = '\0';
    return copy;
}

void *fl_xmalloc_aligned(size_t size)
{
    void *ptr = NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (posix_memalign(&ptr, 64, rounded ? rounded : 64) != 0)
        out_of_memory(size);
    return ptr;
}
