/* Runs the header test compiled in each language; exit status = failures. */
#include <stdio.h>

int pgboot_headertest_c99(void);
int pgboot_headertest_c11(void);
int pgboot_headertest_cxx11(void);
int pgboot_headertest_cxx17(void);

int main(void)
{
    int f = pgboot_headertest_c99() + pgboot_headertest_c11() + pgboot_headertest_cxx11() +
            pgboot_headertest_cxx17();
    printf("%d passed, %d failed\n", f ? 0 : 4, f);
    return f != 0;
}
