/* Little-endian byte cursors shared by the message encoders and decoders. */
#include "fc_wire.h"

#include <assert.h>
#include <string.h>

void fc_wire_writer_init(fc_wire_writer *writer, uint8_t *bytes, size_t capacity)
{
    writer->bytes = bytes;
    writer->capacity = capacity;
    writer->used = 0;
}

static void put_little_endian(fc_wire_writer *writer, uint64_t value, size_t size)
{
    assert(writer->capacity - writer->used >= size);
    for (size_t i = 0; i < size; i++)
        writer->bytes[writer->used + i] = (uint8_t)(value >> (8 * i));
    writer->used += size;
}

void fc_wire_put_u8(fc_wire_writer *writer, uint8_t value)
{
    put_little_endian(writer, value, 1);
}

void fc_wire_put_u16(fc_wire_writer *writer, uint16_t value)
{
    put_little_endian(writer, value, 2);
}

void fc_wire_put_u32(fc_wire_writer *writer, uint32_t value)
{
    put_little_endian(writer, value, 4);
}

void fc_wire_put_u64(fc_wire_writer *writer, uint64_t value)
{
    put_little_endian(writer, value, 8);
}

void fc_wire_put_bytes(fc_wire_writer *writer, const uint8_t *data, size_t size)
{
    assert(writer->capacity - writer->used >= size);
    memcpy(writer->bytes + writer->used, data, size);
    writer->used += size;
}

void fc_wire_reader_init(fc_wire_reader *reader, const uint8_t *bytes, size_t size)
{
    reader->bytes = bytes;
    reader->size = size;
    reader->position = 0;
    reader->failed = false;
}

static uint64_t get_little_endian(fc_wire_reader *reader, size_t size)
{
    if (reader->failed || reader->size - reader->position < size) {
        reader->failed = true;
        return 0;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < size; i++)
        value |= (uint64_t)reader->bytes[reader->position + i] << (8 * i);
    reader->position += size;
    return value;
}

uint8_t fc_wire_get_u8(fc_wire_reader *reader)
{
    return (uint8_t)get_little_endian(reader, 1);
}

uint16_t fc_wire_get_u16(fc_wire_reader *reader)
{
    return (uint16_t)get_little_endian(reader, 2);
}

uint32_t fc_wire_get_u32(fc_wire_reader *reader)
{
    return (uint32_t)get_little_endian(reader, 4);
}

uint64_t fc_wire_get_u64(fc_wire_reader *reader)
{
    return get_little_endian(reader, 8);
}

void fc_wire_get_bytes(fc_wire_reader *reader, uint8_t *data, size_t size)
{
    if (reader->failed || reader->size - reader->position < size) {
        reader->failed = true;
        memset(data, 0, size);
        return;
    }
    memcpy(data, reader->bytes + reader->position, size);
    reader->position += size;
}

size_t fc_wire_remaining(const fc_wire_reader *reader)
{
    return reader->size - reader->position;
}
