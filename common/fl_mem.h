/*
 * fl_mem.h - allocation wrappers. Running out of memory is not a condition
 * fedlora recovers from, so these abort with a message instead of returning
 * NULL; every other failure is returned as an fl_status.
 */
#ifndef FL_MEM_H
#define FL_MEM_H

#include <stddef.h>

void *fl_xmalloc(size_t size);
void *fl_xcalloc(size_t count, size_t size);
void *fl_xrealloc(void *ptr, size_t size);
char *fl_xstrdup(const char *text);
char *fl_xstrndup(const char *text, size_t length);

/* Allocates size bytes aligned to 64 bytes (cache line). Free with free(). */
void *fl_xmalloc_aligned(size_t size);

#endif
