/*
 * fc_wire.h - little-endian writer and bounds-checked reader for the
 * library's binary message formats. Internal to crypto/.
 */
#ifndef FC_WIRE_H
#define FC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Output cursor; writing past capacity is a programmer error (asserted). */
typedef struct fc_wire_writer {
    uint8_t *bytes;
    size_t capacity;
    size_t used;
} fc_wire_writer;

/* Input cursor; a read past the end sets failed and yields zeros. */
typedef struct fc_wire_reader {
    const uint8_t *bytes;
    size_t size;
    size_t position;
    bool failed;
} fc_wire_reader;

void fc_wire_writer_init(fc_wire_writer *writer, uint8_t *bytes, size_t capacity);
void fc_wire_put_u8(fc_wire_writer *writer, uint8_t value);
void fc_wire_put_u16(fc_wire_writer *writer, uint16_t value);
void fc_wire_put_u32(fc_wire_writer *writer, uint32_t value);
void fc_wire_put_u64(fc_wire_writer *writer, uint64_t value);
void fc_wire_put_bytes(fc_wire_writer *writer, const uint8_t *data, size_t size);

void fc_wire_reader_init(fc_wire_reader *reader, const uint8_t *bytes, size_t size);
uint8_t fc_wire_get_u8(fc_wire_reader *reader);
uint16_t fc_wire_get_u16(fc_wire_reader *reader);
uint32_t fc_wire_get_u32(fc_wire_reader *reader);
uint64_t fc_wire_get_u64(fc_wire_reader *reader);
void fc_wire_get_bytes(fc_wire_reader *reader, uint8_t *data, size_t size);

/* Returns the number of bytes not yet read. */
size_t fc_wire_remaining(const fc_wire_reader *reader);

#endif
