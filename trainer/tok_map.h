/*
 * tok_map.h - open-addressing hash maps used by the tokenizer: byte strings
 * to token ids (the vocabulary) and token-id pairs to merges.
 *
 * Both maps only grow; keys are copied into an arena owned by the map. Not
 * thread-safe.
 */
#ifndef TOK_MAP_H
#define TOK_MAP_H

#include <stddef.h>
#include <stdint.h>

/* Map from a byte string to an int32 value. */
typedef struct tok_strmap {
    uint32_t *slots;   /* [capacity] index into entries + 1; 0 marks an empty slot */
    size_t capacity;   /* power of two */
    struct tok_strmap_entry {
        uint64_t hash;
        uint32_t offset; /* key start in arena */
        uint32_t length; /* key length in bytes */
        int32_t value;
    } *entries;
    size_t count;
    size_t entry_capacity;
    char *arena;
    size_t arena_used;
    size_t arena_capacity;
} tok_strmap;

void tok_strmap_init(tok_strmap *map);
void tok_strmap_release(tok_strmap *map);

/* Removes every key but keeps the allocated memory. */
void tok_strmap_clear(tok_strmap *map);

/* Returns the value stored for key, or -1 when key is absent. */
int32_t tok_strmap_get(const tok_strmap *map, const char *key, size_t length);

/*
 * Stores value under key, replacing an existing value. Returns the index of
 * the entry, which stays valid until the map is cleared or released.
 */
size_t tok_strmap_put(tok_strmap *map, const char *key, size_t length, int32_t value);

/* Returns the 64-bit hash of a byte string (the one the maps use). */
uint64_t tok_hash_bytes(const char *data, size_t length);

/* Map from a pair of token ids (left, right) to a merge: its rank and the merged id. */
typedef struct tok_pairmap {
    struct tok_pair_slot {
        uint64_t key;   /* (left << 32 | right) + 1; 0 marks an empty slot */
        int32_t rank;
        int32_t merged;
    } *slots;
    size_t capacity; /* power of two */
    size_t count;
} tok_pairmap;

void tok_pairmap_init(tok_pairmap *map);
void tok_pairmap_release(tok_pairmap *map);

/* Stores (rank, merged) for the pair unless the pair is already present (the first merge wins). */
void tok_pairmap_put(tok_pairmap *map, int32_t left, int32_t right, int32_t rank, int32_t merged);

/* Finds the merge of (left, right). Returns 1 and fills rank and merged, or 0 when absent. */
static inline int tok_pairmap_get(const tok_pairmap *map, int32_t left, int32_t right,
                                  int32_t *rank, int32_t *merged)
{
    if (map->capacity == 0 || left < 0 || right < 0)
        return 0;
    uint64_t key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t mask = map->capacity - 1;
    for (size_t i = (size_t)(h >> 32) & mask;; i = (i + 1) & mask) {
        const struct tok_pair_slot *slot = &map->slots[i];
        if (slot->key == key) {
            *rank = slot->rank;
            *merged = slot->merged;
            return 1;
        }
        if (slot->key == 0)
            return 0;
    }
}

#endif
