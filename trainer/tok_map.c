/*
 * tok_map.c - the tokenizer's hash maps (see tok_map.h). Linear probing,
 * load factor at most 1/2.
 */
#include "tok_map.h"

#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"

uint64_t tok_hash_bytes(const char *data, size_t length)
{
    /* FNV-1a over 8-byte words, then a final avalanche: fast on short keys. */
    uint64_t h = 0xCBF29CE484222325ull ^ (uint64_t)length;
    size_t i = 0;
    for (; i + 8 <= length; i += 8) {
        uint64_t word;
        memcpy(&word, data + i, 8);
        h = (h ^ word) * 0x100000001B3ull;
        h ^= h >> 29;
    }
    for (; i < length; i++)
        h = (h ^ (unsigned char)data[i]) * 0x100000001B3ull;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    return h;
}

void tok_strmap_init(tok_strmap *map)
{
    memset(map, 0, sizeof(*map));
}

void tok_strmap_release(tok_strmap *map)
{
    free(map->slots);
    free(map->entries);
    free(map->arena);
    memset(map, 0, sizeof(*map));
}

void tok_strmap_clear(tok_strmap *map)
{
    if (map->slots != NULL)
        memset(map->slots, 0, map->capacity * sizeof(*map->slots));
    map->count = 0;
    map->arena_used = 0;
}

static const struct tok_strmap_entry *find_entry(const tok_strmap *map, const char *key,
                                                 size_t length, uint64_t hash, size_t *slot_out)
{
    size_t mask = map->capacity - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        uint32_t index = map->slots[i];
        if (index == 0) {
            *slot_out = i;
            return NULL;
        }
        const struct tok_strmap_entry *entry = &map->entries[index - 1];
        if (entry->hash == hash && entry->length == length &&
            memcmp(map->arena + entry->offset, key, length) == 0) {
            *slot_out = i;
            return entry;
        }
    }
}

int32_t tok_strmap_get(const tok_strmap *map, const char *key, size_t length)
{
    if (map->count == 0)
        return -1;
    size_t slot;
    const struct tok_strmap_entry *entry =
        find_entry(map, key, length, tok_hash_bytes(key, length), &slot);
    return entry != NULL ? entry->value : -1;
}

static void grow_slots(tok_strmap *map)
{
    size_t capacity = map->capacity == 0 ? 1024 : map->capacity * 2;
    free(map->slots);
    map->slots = fl_xcalloc(capacity, sizeof(*map->slots));
    map->capacity = capacity;
    size_t mask = capacity - 1;
    for (size_t e = 0; e < map->count; e++) {
        size_t i = (size_t)map->entries[e].hash & mask;
        while (map->slots[i] != 0)
            i = (i + 1) & mask;
        map->slots[i] = (uint32_t)(e + 1);
    }
}

size_t tok_strmap_put(tok_strmap *map, const char *key, size_t length, int32_t value)
{
    if ((map->count + 1) * 2 > map->capacity)
        grow_slots(map);

    uint64_t hash = tok_hash_bytes(key, length);
    size_t slot;
    const struct tok_strmap_entry *found = find_entry(map, key, length, hash, &slot);
    if (found != NULL) {
        size_t index = (size_t)(found - map->entries);
        map->entries[index].value = value;
        return index;
    }

    if (map->count == map->entry_capacity) {
        map->entry_capacity = map->entry_capacity == 0 ? 512 : map->entry_capacity * 2;
        map->entries = fl_xrealloc(map->entries, map->entry_capacity * sizeof(*map->entries));
    }
    if (map->arena_used + length + 1 > map->arena_capacity) {
        size_t capacity = map->arena_capacity == 0 ? 4096 : map->arena_capacity;
        while (capacity < map->arena_used + length + 1)
            capacity *= 2;
        map->arena = fl_xrealloc(map->arena, capacity);
        map->arena_capacity = capacity;
    }

    memcpy(map->arena + map->arena_used, key, length);
    map->arena[map->arena_used + length] = '\0';
    struct tok_strmap_entry *entry = &map->entries[map->count];
    entry->hash = hash;
    entry->offset = (uint32_t)map->arena_used;
    entry->length = (uint32_t)length;
    entry->value = value;
    map->arena_used += length + 1;
    map->slots[slot] = (uint32_t)(map->count + 1);
    return map->count++;
}

void tok_pairmap_init(tok_pairmap *map)
{
    memset(map, 0, sizeof(*map));
}

void tok_pairmap_release(tok_pairmap *map)
{
    free(map->slots);
    memset(map, 0, sizeof(*map));
}

static void insert_slot(struct tok_pair_slot *slots, size_t capacity, struct tok_pair_slot item)
{
    uint64_t h = item.key * 0x9E3779B97F4A7C15ull;
    size_t mask = capacity - 1;
    size_t i = (size_t)(h >> 32) & mask;
    while (slots[i].key != 0)
        i = (i + 1) & mask;
    slots[i] = item;
}

void tok_pairmap_put(tok_pairmap *map, int32_t left, int32_t right, int32_t rank, int32_t merged)
{
    int32_t old_rank, old_merged;
    if (tok_pairmap_get(map, left, right, &old_rank, &old_merged))
        return;

    if ((map->count + 1) * 2 > map->capacity) {
        size_t capacity = map->capacity == 0 ? 1024 : map->capacity * 2;
        struct tok_pair_slot *slots = fl_xcalloc(capacity, sizeof(*slots));
        for (size_t i = 0; i < map->capacity; i++)
            if (map->slots[i].key != 0)
                insert_slot(slots, capacity, map->slots[i]);
        free(map->slots);
        map->slots = slots;
        map->capacity = capacity;
    }

    struct tok_pair_slot item = {
        .key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1,
        .rank = rank,
        .merged = merged,
    };
    insert_slot(map->slots, map->capacity, item);
    map->count++;
}
