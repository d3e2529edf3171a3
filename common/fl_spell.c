/* Spelling suggestions for unknown names (contracts in fl_spell.h). */
#include "fl_spell.h"

#include <string.h>

size_t fl_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 9;

    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diagonal + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb] < 9 ? row[lb] : 9;
}

size_t fl_spell_closest(const char *name, const void *table, size_t count, size_t stride,
                        size_t name_offset)
{
    size_t closest = count, best = 3;
    for (size_t i = 0; i < count; i++) {
        const char *candidate;
        memcpy(&candidate, (const char *)table + i * stride + name_offset, sizeof(candidate));
        size_t distance = fl_edit_distance(name, candidate);
        if (distance < best) {
            best = distance;
            closest = i;
        }
    }
    return closest;
}
