/* SHA-256 of the source file (migrate/sha256.c). Internal. */
#ifndef PGBOOT_MIGRATE_SHA256_H
#define PGBOOT_MIGRATE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

/* With the CPU's SHA instructions when it has them (and portable is 0),
 * else libsodium's. */
typedef struct {
    int ni;
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t nbuf;
    crypto_hash_sha256_state sodium;
} pgb_sha256;
void pgb_sha256_init(pgb_sha256 *s, int portable);
void pgb_sha256_update(pgb_sha256 *s, const void *data, size_t n);
void pgb_sha256_final(pgb_sha256 *s, unsigned char out[32]);

#endif
