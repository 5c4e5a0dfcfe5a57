/*
 * A C program written against the header typed-ipc generates for the example schemas
 * (test/c/build/typed_ipc_schemas.h): reads a struct sample that TypeScript encoded from stdin and
 * prints its fields to stderr, then writes a sensor_frame and a net_header to stdout, set field by
 * field with the header's enum constants, for TypeScript to decode.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "typed_ipc_schemas.h"

int main(void) {
  fprintf(stderr, "%s %s %s %d\n", SAMPLE_FINGERPRINT, SENSOR_FRAME_FINGERPRINT, NET_HEADER_FINGERPRINT, SENSOR_FRAME_SIZE);

  struct sample s;
  if (fread(&s, sizeof s, 1, stdin) != 1) return 1;
  fprintf(stderr, "%u %" PRIu64 " %.17g\n", (unsigned)s.channel, s.timestamp, s.value);

  struct sensor_frame f;
  memset(&f, 0, sizeof f);
  f.sequence = 42;
  f.timestamp = UINT64_C(1700000000000000000);
  strcpy(f.name, "probe-7");
  f.count = 8;
  for (int i = 0; i < 8; i++) {
    f.readings[i].channel = (uint8_t)i;
    f.readings[i].status = i % 3 == 2 ? READING_STATUS_FAULT : i % 3 == 1 ? READING_STATUS_SATURATED : READING_STATUS_OK;
    f.readings[i].raw = (int16_t)(-100 * i);
    f.readings[i].value = (float)i * 0.25f;
  }

  /* scalar_storage_order("big-endian"): plain assignments store network byte order. */
  struct net_header h;
  memset((void *)&h, 0, sizeof h);
  h.magic = 0x54495043;
  h.version = 2;
  h.kind = NET_HEADER_KIND_ACK;
  h.flags = 0x8001;
  h.length = 4096;
  h.id = UINT64_C(0x0102030405060708);
  for (int i = 0; i < 16; i++) h.key[i] = (uint8_t)(i * 3);

  if (fwrite(&f, sizeof f, 1, stdout) != 1) return 2;
  if (fwrite((const void *)&h, sizeof h, 1, stdout) != 1) return 3;
  return 0;
}
