/*
 * The checking harness shared by the C self-tests (one program per library source):
 * CHECK / CHECKF count passes and report failures with file, line and expression, and
 * dup_exact copies test data into an exactly sized heap block, so that a run under
 * valgrind or AddressSanitizer catches any read or write past it; from_hex reads test
 * constants. Each test program includes this once and prints n_passed / n_failed at the
 * end; the helpers are inline so that a program may leave some unused.
 */
#ifndef HEM_TESTS_CHECK_H
#define HEM_TESTS_CHECK_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long n_passed, n_failed;

/* Optional printf-style context, for table-driven checks where the line alone does not
 * say which case failed. */
static inline void check_at(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
    va_list ap;

    if (ok) {
        n_passed++;
        return;
    }
    n_failed++;
    fprintf(stderr, "%s:%d: check failed: %s", file, line, expr);
    if (fmt) {
        fputs(" [", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc(']', stderr);
    }
    fputc('\n', stderr);
}

#define CHECK(cond) check_at((cond) != 0, __FILE__, __LINE__, #cond, NULL)
#define CHECKF(cond, ...) check_at((cond) != 0, __FILE__, __LINE__, #cond, __VA_ARGS__)

static inline void *xmalloc(size_t n)
{
    /* Never zero bytes: malloc(0) may return NULL, which the library need not accept. */
    void *p = malloc(n ? n : 1u);
    if (!p) {
        fputs("out of memory\n", stderr);
        exit(2);
    }
    return p;
}

static inline void *dup_exact(const void *src, size_t n)
{
    void *p = xmalloc(n);
    if (n)
        memcpy(p, src, n);
    return p;
}

/* Deterministic test bytes so that failures reproduce: one xorshift64 step on *state,
 * giving its top byte. Each program keeps its own state and seed. */
static inline unsigned char xorshift_byte(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (unsigned char)(x >> 56);
}

static inline int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes lower-case hex into dst (strlen(hex) / 2 bytes, at most cap); a malformed
 * constant aborts, since it is a mistake in the test, not in the library. */
static inline size_t from_hex(const char *hex, unsigned char *dst, size_t cap)
{
    size_t n = strlen(hex), i;

    if (n % 2u || n / 2u > cap) {
        fprintf(stderr, "bad hex constant: %s\n", hex);
        exit(2);
    }
    for (i = 0; i < n / 2u; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            fprintf(stderr, "bad hex constant: %s\n", hex);
            exit(2);
        }
        dst[i] = (unsigned char)(hi << 4 | lo);
    }
    return n / 2u;
}

#endif /* HEM_TESTS_CHECK_H */
