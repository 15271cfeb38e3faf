/* Unit tests of launcher/scram.c: the SCRAM-SHA-256 verifier pgboot stores
 * for its roles is the one PostgreSQL would compute (the expected strings
 * come from an independent implementation: Python's hashlib.pbkdf2_hmac and
 * hmac, for RFC 7677's password "pencil" and salt), at 4096 iterations (what
 * PostgreSQL uses) and at pgboot's own count; a fresh verifier has a random
 * salt. A real server logging in with them is covered by every integration
 * test (their URLs carry the password). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher.h"

static unsigned char salt[16];

static int setup(void **state)
{
    (void)state;
    size_t len = 0;
    return sodium_base642bin(salt, sizeof salt, "W22ZaJ0SNY7soEsUEjb6gQ==", 24, NULL, &len, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
                   len == sizeof salt
               ? 0
               : -1;
}

static void test_known_verifiers(void **state)
{
    (void)state;
    char *v = pgb_scram_verifier_salted("pencil", salt, sizeof salt, 4096);
    assert_string_equal(v, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkB"
                           "FzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
    free(v);
    v = pgb_scram_verifier_salted("pencil", salt, sizeof salt, 16);
    assert_string_equal(v, "SCRAM-SHA-256$16:W22ZaJ0SNY7soEsUEjb6gQ==$E31herPhjIOTVCX7LjVuiaoFyFvb"
                           "0RROPq3YM3VVrD8=:vtOdW3IRp9Qxq7MV3joF+UQqwGm6/yuYYDB6xnA/BZE=");
    free(v);
}

static void test_refused(void **state)
{
    (void)state;
    assert_null(pgb_scram_verifier_salted(NULL, salt, sizeof salt, 16));
    assert_null(pgb_scram_verifier_salted("pencil", salt, sizeof salt, 0));
    assert_null(pgb_scram_verifier_salted("pencil", salt, 17, 16));
    assert_null(pgb_scram_verifier(NULL));
}

static void test_random_salt(void **state)
{
    (void)state;
    char *a = pgb_scram_verifier("pencil"), *b = pgb_scram_verifier("pencil");
    assert_non_null(a);
    assert_non_null(b);
    char want[64];
    snprintf(want, sizeof want, "SCRAM-SHA-256$%d:", PGB_SCRAM_ITERATIONS);
    assert_memory_equal(a, want, strlen(want));
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_known_verifiers, setup),
        cmocka_unit_test_setup(test_refused, setup),
        cmocka_unit_test(test_random_salt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
