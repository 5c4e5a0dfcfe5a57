/*
 * A NATS C client peer for the nats:// interop test: `struct sample` comes from the header typed-ipc
 * generates, the payload is its bytes, and the schema fingerprint travels in the Typed-Ipc-Schema header.
 *   nats_peer pub <server-url> <subject> <count>   publishes samples i = 0..count-1
 *   nats_peer sub <server-url> <subject> <count>   prints "ready", then one line per sample received
 * Sample i: channel = i % 7, timestamp = i * 1000003 + 17, value = i * 0.25 - 3.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "sample.h"

static int fail(const char *what, natsStatus s) {
    fprintf(stderr, "%s: %s\n", what, natsStatus_GetText(s));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s pub|sub <url> <subject> <count>\n", argv[0]);
        return 2;
    }
    const char *subject = argv[3];
    long count = strtol(argv[4], NULL, 10);
    natsConnection *nc = NULL;
    natsStatus s = natsConnection_ConnectTo(&nc, argv[2]);
    if (s != NATS_OK) return fail("connect", s);
    if (strcmp(argv[1], "pub") == 0) {
        for (long i = 0; i < count; i++) {
            struct sample m;
            memset(&m, 0, sizeof m); /* padding bytes are zero, as typed-ipc writes them */
            m.channel = (uint16_t)(i % 7);
            m.timestamp = (uint64_t)i * 1000003u + 17u;
            m.value = (double)i * 0.25 - 3;
            natsMsg *msg = NULL;
            s = natsMsg_Create(&msg, subject, NULL, (const char *)&m, (int)sizeof m);
            if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Typed-Ipc-Schema", SAMPLE_FINGERPRINT);
            if (s == NATS_OK) s = natsConnection_PublishMsg(nc, msg);
            natsMsg_Destroy(msg);
            if (s != NATS_OK) return fail("publish", s);
        }
        s = natsConnection_FlushTimeout(nc, 5000);
        if (s != NATS_OK) return fail("flush", s);
    } else {
        natsSubscription *sub = NULL;
        s = natsConnection_SubscribeSync(&sub, nc, subject);
        if (s == NATS_OK) s = natsConnection_FlushTimeout(nc, 5000);
        if (s != NATS_OK) return fail("subscribe", s);
        printf("ready\n");
        fflush(stdout);
        for (long i = 0; i < count; i++) {
            natsMsg *msg = NULL;
            s = natsSubscription_NextMsg(&msg, sub, 10000);
            if (s != NATS_OK) return fail("next", s);
            const char *fingerprint = NULL;
            if (natsMsgHeader_Get(msg, "Typed-Ipc-Schema", &fingerprint) != NATS_OK ||
                strcmp(fingerprint, SAMPLE_FINGERPRINT) != 0) {
                fprintf(stderr, "message %ld: schema header %s, expected %s\n", i, fingerprint ? fingerprint : "(none)",
                        SAMPLE_FINGERPRINT);
                return 1;
            }
            if (natsMsg_GetDataLength(msg) != (int)sizeof(struct sample)) {
                fprintf(stderr, "message %ld: %d bytes, expected %zu\n", i, natsMsg_GetDataLength(msg),
                        sizeof(struct sample));
                return 1;
            }
            struct sample m;
            memcpy(&m, natsMsg_GetData(msg), sizeof m);
            printf("%u %" PRIu64 " %.17g %s\n", (unsigned)m.channel, m.timestamp, m.value, natsMsg_GetSubject(msg));
            natsMsg_Destroy(msg);
        }
        natsSubscription_Destroy(sub);
    }
    natsConnection_Destroy(nc);
    nats_Close();
    return 0;
}
