/*
 * Shared by the libFuzzer targets: a slow reference codec and the checks that turn a
 * broken invariant into abort().
 *
 * The reference is written from the rules in csrc/hemcodec.h and shares no code or
 * tables with csrc/hemcodec.c: a character's value is found by a linear search of the
 * alphabet string, and decoding moves one bit at a time. It is meant to be obviously
 * right rather than fast, so that a disagreement points at the library.
 */
#ifndef HEM_FUZZ_COMMON_H
#define HEM_FUZZ_COMMON_H

#include "hemcodec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char REF_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char REF_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A broken invariant: say which, on which input length, then abort() so that libFuzzer
 * saves the input as a crash artifact. */
#define REQUIRE(cond)                                                                             \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "hemfuzz: invariant broken at %s:%d: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                                       \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* As REQUIRE, with a sentence that says what the broken invariant means. */
#define REQUIRE_MSG(cond, what)                                                                   \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "hemfuzz: invariant broken at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                    what, #cond);                                                                 \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* An offset no check can produce, to see whether a function wrote *err_offset. */
#define UNTOUCHED ((size_t)0x5A5A5A5Au)

/* The 6-bit value of c in the 64-character alphabet, or -1. Compares every character, so
 * NUL and bytes >= 0x80 are simply not found. */
static int ref_value(const char *alphabet, unsigned char c)
{
    int i;
    for (i = 0; i < 64; i++)
        if ((unsigned char)alphabet[i] == c)
            return i;
    return -1;
}

/* Decode count characters that are all in the alphabet, six bits each, most significant
 * bit first, into whole bytes. Returns the number of bytes; *leftover_set is 1 when a bit
 * that does not make up a whole byte is set (those are the "unused low bits"). */
static size_t ref_bits(const char *alphabet, const unsigned char *s, size_t count,
                       unsigned char *out, int *leftover_set)
{
    size_t i, nbytes = 0;
    unsigned int acc = 0, nbits = 0;
    int b;

    for (i = 0; i < count; i++) {
        int v = ref_value(alphabet, s[i]);
        for (b = 5; b >= 0; b--) {
            acc = acc << 1 | (unsigned int)(v >> b & 1);
            if (++nbits == 8) {
                out[nbytes++] = (unsigned char)acc;
                acc = 0;
                nbits = 0;
            }
        }
    }
    *leftover_set = acc != 0;
    return nbytes;
}

/* The outcome of a decode: code (HEM_OK or HEM_E_*), offset on refusal, bytes on success. */
typedef struct {
    int code;
    size_t offset;
    size_t len;
} ref_result;

static ref_result ref_refuse(int code, size_t offset)
{
    ref_result r;
    r.code = code;
    r.offset = offset;
    r.len = 0;
    return r;
}

/* base64url, no padding, rules 1-3 of hemcodec.h in that order. out holds n bytes. */
static ref_result ref_url_decode(const unsigned char *s, size_t n, unsigned char *out)
{
    ref_result r;
    size_t i;
    int leftover;

    for (i = 0; i < n; i++)
        if (ref_value(REF_URL, s[i]) < 0)
            return ref_refuse(HEM_E_CHAR, i);
    if (n % 4 == 1)
        return ref_refuse(HEM_E_LENGTH, n);
    r.len = ref_bits(REF_URL, s, n, out, &leftover);
    if (leftover)
        return ref_refuse(HEM_E_TRAILING, n - 1);
    r.code = HEM_OK;
    r.offset = 0;
    return r;
}

/* base64 with '=' padding, rules 1-4 of hemcodec.h in that order. out holds n bytes. */
static ref_result ref_std_decode(const unsigned char *s, size_t n, unsigned char *out)
{
    ref_result r;
    size_t i, pad = 0, body;
    int leftover;

    while (pad < n && s[n - 1 - pad] == '=')
        pad++;
    body = n - pad;
    for (i = 0; i < body; i++)
        if (ref_value(REF_STD, s[i]) < 0)
            return ref_refuse(HEM_E_CHAR, i);
    if (pad > 2)
        return ref_refuse(HEM_E_PADDING, body + 2);
    if (n % 4 != 0)
        return ref_refuse(HEM_E_LENGTH, n);
    r.len = ref_bits(REF_STD, s, body, out, &leftover);
    if (leftover)
        return ref_refuse(HEM_E_TRAILING, body - 1);
    r.code = HEM_OK;
    r.offset = 0;
    return r;
}

/* An exactly sized heap copy, so that AddressSanitizer sees any access past its end.
 * malloc(0) still gives a distinct pointer under ASan, with no usable byte. */
static unsigned char *exact_copy(const void *src, size_t n)
{
    unsigned char *p = (unsigned char *)malloc(n);
    REQUIRE(p != NULL || n == 0);
    if (n)
        memcpy(p, src, n);
    return p;
}

static unsigned char *exact_alloc(size_t n)
{
    unsigned char *p = (unsigned char *)malloc(n);
    REQUIRE(p != NULL || n == 0);
    return p;
}

/*
 * The checks both decoder targets run, for one alphabet. decode/encode are the library's
 * functions for it, ref its reference, pad whether it is the padded alphabet.
 */
typedef ptrdiff_t (*decode_fn)(const char *, size_t, unsigned char *, size_t, size_t *);
typedef ptrdiff_t (*encode_fn)(const unsigned char *, size_t, char *, size_t);
typedef ref_result (*ref_fn)(const unsigned char *, size_t, unsigned char *);

/* What a refusal's offset must point at, from the text of hemcodec.h alone. */
static void check_refusal_offset(const char *alphabet, int padded, const unsigned char *s,
                                 size_t n, int code, size_t off)
{
    size_t i, pad = 0;

    while (padded && pad < n && s[n - 1 - pad] == '=')
        pad++;
    REQUIRE(off <= n);
    switch (code) {
    case HEM_E_CHAR:
        /* The first character outside the alphabet; all before it are inside. */
        REQUIRE(off < n - pad);
        REQUIRE(ref_value(alphabet, s[off]) < 0);
        for (i = 0; i < off; i++)
            REQUIRE(ref_value(alphabet, s[i]) >= 0);
        break;
    case HEM_E_LENGTH:
        /* The input ends where more was needed. */
        REQUIRE(off == n);
        REQUIRE(padded ? n % 4 != 0 : n % 4 == 1);
        break;
    case HEM_E_PADDING:
        /* The third of the trailing '=', and only the padded alphabet has them. */
        REQUIRE(padded);
        REQUIRE(pad > 2 && off == n - pad + 2 && s[off] == '=');
        break;
    case HEM_E_TRAILING:
        /* The last data character, which carries the unused bits. */
        REQUIRE(n - pad > 0 && off == n - pad - 1);
        REQUIRE(ref_value(alphabet, s[off]) >= 0);
        break;
    default: /* a code the decoder does not document */
        REQUIRE(code == HEM_E_CHAR || code == HEM_E_LENGTH || code == HEM_E_PADDING ||
                code == HEM_E_TRAILING);
    }
}

static void check_decoder(const uint8_t *data, size_t n, decode_fn decode, encode_fn encode,
                          ref_fn ref, const char *alphabet, int padded,
                          size_t (*encoded_len)(size_t))
{
    size_t cap = hem_b64_decoded_max(n);
    unsigned char *in = exact_copy(data, n);
    unsigned char *out = exact_alloc(cap);
    unsigned char *ref_out = exact_alloc(n);
    size_t off = UNTOUCHED, off2 = UNTOUCHED;
    ptrdiff_t got, again;
    ref_result want;

    got = decode((const char *)in, n, out, cap, &off);
    want = ref(in, n, ref_out);

    /* Without an offset pointer the result is the same, and nothing is written through
     * it (ASan would see a NULL write). */
    {
        unsigned char *out2 = exact_alloc(cap);
        again = decode((const char *)in, n, out2, cap, NULL);
        REQUIRE(again == got);
        if (got > 0)
            REQUIRE(memcmp(out, out2, (size_t)got) == 0);
        free(out2);
    }

    if (got >= 0) {
        /* Accepted: the reference accepts the same bytes, and it is canonical. */
        char *text;
        ptrdiff_t written;

        REQUIRE(off == UNTOUCHED);
        REQUIRE((size_t)got <= cap);
        REQUIRE(want.code == HEM_OK);
        REQUIRE(want.len == (size_t)got);
        REQUIRE(got == 0 || memcmp(out, ref_out, (size_t)got) == 0);
        REQUIRE(encoded_len((size_t)got) == n);
        text = (char *)exact_alloc(n);
        written = encode(out, (size_t)got, text, n);
        REQUIRE(written == (ptrdiff_t)n);
        REQUIRE(n == 0 || memcmp(text, in, n) == 0);
        free(text);
        /* Without padding the size bound is exact for canonical input. */
        if (!padded)
            REQUIRE((size_t)got == cap);
    } else {
        REQUIRE(got == HEM_E_CHAR || got == HEM_E_LENGTH || got == HEM_E_PADDING ||
                got == HEM_E_TRAILING);
        REQUIRE(off != UNTOUCHED);
        check_refusal_offset(alphabet, padded, in, n, (int)got, off);
        REQUIRE(want.code == (int)got);
        REQUIRE(want.offset == off);
    }

    /* One byte of room short is a caller error, reported before the input is read and
     * without touching *err_offset. */
    if (cap > 0) {
        off2 = UNTOUCHED;
        REQUIRE(decode((const char *)in, n, out, cap - 1, &off2) == HEM_E_SPACE);
        REQUIRE(off2 == UNTOUCHED);
    }

    /* The other direction: the input taken as bytes encodes to text of the documented
     * length that decodes back to those bytes, and one byte of room short is refused. */
    {
        size_t tlen = encoded_len(n);
        char *text = (char *)exact_alloc(tlen);
        size_t back_cap = hem_b64_decoded_max(tlen);
        unsigned char *back = exact_alloc(back_cap);
        ptrdiff_t written = encode(in, n, text, tlen), decoded;

        REQUIRE(written == (ptrdiff_t)tlen);
        if (tlen > 0)
            REQUIRE(encode(in, n, text, tlen - 1) == HEM_E_SPACE);
        off2 = UNTOUCHED;
        decoded = decode(text, tlen, back, back_cap, &off2);
        REQUIRE(decoded == (ptrdiff_t)n);
        REQUIRE(off2 == UNTOUCHED);
        REQUIRE(n == 0 || memcmp(back, in, n) == 0);
        free(back);
        free(text);
    }

    /* Zero length: NULL pointers are allowed, and a length past the documented bound is
     * refused before anything is read. */
    if (n == 0) {
        REQUIRE(decode(NULL, 0, NULL, 0, NULL) == 0);
        REQUIRE(encode(NULL, 0, NULL, 0) == 0);
        REQUIRE(decode((const char *)in, (size_t)PTRDIFF_MAX / 4u + 1u, out, (size_t)-1, NULL) ==
                HEM_E_SPACE);
        REQUIRE(encode(in, (size_t)PTRDIFF_MAX / 4u + 1u, (char *)out, (size_t)-1) ==
                HEM_E_SPACE);
    }

    free(ref_out);
    free(out);
    free(in);
}

#endif /* HEM_FUZZ_COMMON_H */
