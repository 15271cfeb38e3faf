/* The SCRAM-SHA-256 verifier of a password pgboot generated, as PostgreSQL
 * stores it in pg_authid (RFC 5802 and RFC 7677; PostgreSQL's "Password
 * Authentication" and scram-common.c):
 *   SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
 * with SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations),
 * StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key")) and
 * ServerKey = HMAC(SaltedPassword, "Server Key"), each in base64.
 *
 * Why not PostgreSQL's own hashing (initdb's, or libpq's
 * PQencryptPasswordConn): both use 4096 iterations of PBKDF2, which every
 * login then repeats on the client: ~4 ms of a `pgboot testdb` call, and of
 * every connection a test opens. The iterations slow down guessing a
 * password from a stolen verifier; pgboot's passwords are 32 random
 * characters (about 190 bits), which no number of iterations makes harder to
 * guess in any meaningful way, and they are stored in plain text beside the
 * cluster (pgpass, mode 0600) for the app anyway. So pgboot's own roles get
 * PGB_SCRAM_ITERATIONS. A password a user sets with ALTER ROLE is hashed by
 * the server, with its default.
 *
 * The primitives are libsodium's (HMAC-SHA-256, SHA-256, base64, random). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "launcher.h"

#define KEY_LEN crypto_auth_hmacsha256_BYTES /* 32, SHA-256's output */
#define SALT_LEN 16                          /* as PostgreSQL's */

static void hmac(unsigned char out[KEY_LEN], const unsigned char *key, size_t key_len,
                 const unsigned char *msg, size_t msg_len)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, msg, msg_len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

/* PBKDF2-HMAC-SHA-256 with one block of output (RFC 8018, 5.2): 32 bytes. */
static void salted_password(unsigned char out[KEY_LEN], const char *password,
                            const unsigned char *salt, size_t salt_len, unsigned int iterations)
{
    unsigned char first[SALT_LEN + 4], u[KEY_LEN];
    memcpy(first, salt, salt_len);
    memcpy(first + salt_len, "\0\0\0\1", 4); /* block 1, big-endian */
    const unsigned char *pw = (const unsigned char *)password;
    size_t pw_len = strlen(password);
    hmac(u, pw, pw_len, first, salt_len + 4);
    memcpy(out, u, KEY_LEN);
    for (unsigned int i = 1; i < iterations; i++) {
        hmac(u, pw, pw_len, u, KEY_LEN);
        for (size_t k = 0; k < KEY_LEN; k++)
            out[k] ^= u[k];
    }
    sodium_memzero(u, sizeof u);
}

char *pgb_scram_verifier_salted(const char *password, const unsigned char *salt, size_t salt_len,
                                unsigned int iterations)
{
    if (!password || salt_len > SALT_LEN || iterations == 0)
        return NULL;
    unsigned char salted[KEY_LEN], client_key[KEY_LEN], stored_key[KEY_LEN], server_key[KEY_LEN];
    salted_password(salted, password, salt, salt_len, iterations);
    hmac(client_key, salted, KEY_LEN, (const unsigned char *)"Client Key", 10);
    crypto_hash_sha256(stored_key, client_key, KEY_LEN);
    hmac(server_key, salted, KEY_LEN, (const unsigned char *)"Server Key", 10);
    char salt64[sodium_base64_ENCODED_LEN(SALT_LEN, sodium_base64_VARIANT_ORIGINAL)];
    char stored64[sodium_base64_ENCODED_LEN(KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];
    char server64[sodium_base64_ENCODED_LEN(KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(salt64, sizeof salt64, salt, salt_len, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(stored64, sizeof stored64, stored_key, KEY_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(server64, sizeof server64, server_key, KEY_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(salted, sizeof salted);
    sodium_memzero(client_key, sizeof client_key);
    return pgb_printf("SCRAM-SHA-256$%u:%s$%s:%s", iterations, salt64, stored64, server64);
}

char *pgb_scram_verifier(const char *password)
{
    unsigned char salt[SALT_LEN];
    if (sodium_init() < 0)
        return NULL;
    randombytes_buf(salt, sizeof salt);
    return pgb_scram_verifier_salted(password, salt, sizeof salt, PGB_SCRAM_ITERATIONS);
}
