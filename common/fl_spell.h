/*
 * fl_spell.h - suggestions for misspelt names in configuration and job files.
 */
#ifndef FL_SPELL_H
#define FL_SPELL_H

#include <stddef.h>

/*
 * Returns the Levenshtein distance of a and b (insertions, deletions and
 * substitutions), capped at 9. Strings longer than 63 bytes count as 9.
 */
size_t fl_edit_distance(const char *a, const char *b);

/*
 * Returns the index of the table entry whose name is closest to name and at
 * most 2 edits away, or count when none is. The table has count entries of
 * stride bytes, and each entry has its name as a const char * member at
 * name_offset (use sizeof and offsetof).
 */
size_t fl_spell_closest(const char *name, const void *table, size_t count, size_t stride,
                        size_t name_offset);

#endif
