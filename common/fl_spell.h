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

#endif
