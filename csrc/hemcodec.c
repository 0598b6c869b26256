/*
 * hemcodec: the C side of hemproto's codec. Owns the byte-level loops only; all policy
 * (what is canonical, in which order refusals are reported) is stated in hemcodec.h and
 * mirrored by hemproto/_pycodec.py. Never allocates, never reads past in_len.
 */
#include "hemcodec.h"

#include <stdint.h>

#define BAD 0xFFu

static const char url_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char std_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Character value tables: 0..63, or BAD. Written out so they are const data. */
#define ROW_BAD16 BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD
#define HIGH_HALF ROW_BAD16, ROW_BAD16, ROW_BAD16, ROW_BAD16, ROW_BAD16, ROW_BAD16, ROW_BAD16, ROW_BAD16
#define DIGITS_AND_LETTERS(plus_at_2b, dash_at_2d, slash_at_2f, under_at_5f)                      \
    ROW_BAD16, ROW_BAD16,                                                                         \
    /* 0x20 */ BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, plus_at_2b, BAD, dash_at_2d, \
               BAD, slash_at_2f,                                                                  \
    /* 0x30 */ 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, BAD, BAD, BAD, BAD, BAD, BAD,              \
    /* 0x40 */ BAD, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,                             \
    /* 0x50 */ 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, BAD, BAD, BAD, BAD, under_at_5f,       \
    /* 0x60 */ BAD, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,                   \
    /* 0x70 */ 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, BAD, BAD, BAD, BAD, BAD

static const unsigned char url_value[256] = {DIGITS_AND_LETTERS(BAD, 62, BAD, 63), HIGH_HALF};
static const unsigned char std_value[256] = {DIGITS_AND_LETTERS(62, BAD, 63, BAD), HIGH_HALF};

/* Unused low bits of the last character, by the number of data characters mod 4. */
static const unsigned char trailing_mask[4] = {0x00, 0x00, 0x0F, 0x03};

#define MAX_INPUT ((size_t)PTRDIFF_MAX / 4u)

size_t hem_b64url_encoded_len(size_t in_len)
{
    static const size_t tail[3] = {0, 2, 3};
    return in_len / 3u * 4u + tail[in_len % 3u];
}

size_t hem_b64_encoded_len(size_t in_len)
{
    return (in_len / 3u + (in_len % 3u != 0)) * 4u;
}

size_t hem_b64_decoded_max(size_t in_len)
{
    size_t rem = in_len % 4u;
    return in_len / 4u * 3u + (rem ? rem - 1u : 0u);
}

static ptrdiff_t encode(const char alphabet[64], int pad, const unsigned char *in, size_t in_len,
                        char *out, size_t out_cap)
{
    size_t need, i, rem;
    char *o = out;

    if (in_len > MAX_INPUT)
        return HEM_E_SPACE;
    need = pad ? hem_b64_encoded_len(in_len) : hem_b64url_encoded_len(in_len);
    if (out_cap < need)
        return HEM_E_SPACE;
    if (in_len == 0) /* in and out may be NULL then */
        return 0;
    rem = in_len % 3u;
    for (i = 0; i + 3u <= in_len; i += 3u) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[0] = alphabet[v >> 18];
        o[1] = alphabet[v >> 12 & 63u];
        o[2] = alphabet[v >> 6 & 63u];
        o[3] = alphabet[v & 63u];
        o += 4;
    }
    if (rem) {
        uint32_t v = (uint32_t)in[i] << 16 | (rem == 2u ? (uint32_t)in[i + 1] << 8 : 0u);
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[v >> 12 & 63u];
        if (rem == 2u)
            *o++ = alphabet[v >> 6 & 63u];
        if (pad) {
            if (rem == 1u)
                *o++ = '=';
            *o++ = '=';
        }
    }
    return (ptrdiff_t)(o - out);
}

ptrdiff_t hem_b64url_encode(const unsigned char *in, size_t in_len, char *out, size_t out_cap)
{
    return encode(url_alphabet, 0, in, in_len, out, out_cap);
}

ptrdiff_t hem_b64_encode(const unsigned char *in, size_t in_len, char *out, size_t out_cap)
{
    return encode(std_alphabet, 1, in, in_len, out, out_cap);
}

/* Offset of the first character in [from, to) that the table refuses, or `to`. */
static size_t first_bad(const unsigned char table[256], const unsigned char *s, size_t from,
                        size_t to)
{
    while (from < to && table[s[from]] != BAD)
        from++;
    return from;
}

static ptrdiff_t fail(int code, size_t offset, size_t *err_offset)
{
    if (err_offset)
        *err_offset = offset;
    return code;
}

/*
 * Decode data_len characters of s that must all be in the table's alphabet. Returns the
 * bytes written, or HEM_E_CHAR with the offset of the first refused character. The
 * caller has checked that data_len mod 4 != 1 and that out is large enough.
 */
static ptrdiff_t decode_data(const unsigned char table[256], const unsigned char *s,
                             size_t data_len, unsigned char *out, size_t *err_offset)
{
    size_t i, rem = data_len % 4u;
    unsigned char *o = out;

    for (i = 0; i + 4u <= data_len; i += 4u) {
        uint32_t a = table[s[i]], b = table[s[i + 1]], c = table[s[i + 2]], d = table[s[i + 3]];
        uint32_t v;
        if ((a | b | c | d) & 0x80u)
            return fail(HEM_E_CHAR, first_bad(table, s, i, data_len), err_offset);
        v = a << 18 | b << 12 | c << 6 | d;
        o[0] = (unsigned char)(v >> 16);
        o[1] = (unsigned char)(v >> 8);
        o[2] = (unsigned char)v;
        o += 3;
    }
    if (rem) {
        uint32_t a = table[s[i]], b = rem > 1u ? table[s[i + 1]] : 0u;
        uint32_t c = rem > 2u ? table[s[i + 2]] : 0u;
        uint32_t v;
        if ((a | b | c) & 0x80u)
            return fail(HEM_E_CHAR, first_bad(table, s, i, data_len), err_offset);
        v = a << 18 | b << 12 | c << 6;
        if (rem > 1u)
            *o++ = (unsigned char)(v >> 16);
        if (rem > 2u)
            *o++ = (unsigned char)(v >> 8);
    }
    return (ptrdiff_t)(o - out);
}

ptrdiff_t hem_b64url_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap,
                            size_t *err_offset)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t rem = in_len % 4u;
    ptrdiff_t written;

    if (in_len > MAX_INPUT || out_cap < hem_b64_decoded_max(in_len))
        return HEM_E_SPACE;
    if (in_len == 0) /* in and out may be NULL then */
        return 0;
    if (rem == 1u) {
        size_t bad = first_bad(url_value, s, 0, in_len);
        return fail(bad < in_len ? HEM_E_CHAR : HEM_E_LENGTH, bad, err_offset);
    }
    written = decode_data(url_value, s, in_len, out, err_offset);
    if (written < 0)
        return written;
    if (rem && (url_value[s[in_len - 1]] & trailing_mask[rem]))
        return fail(HEM_E_TRAILING, in_len - 1u, err_offset);
    return written;
}

ptrdiff_t hem_b64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap,
                         size_t *err_offset)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t pad = 0, data_len, rem, bad;
    ptrdiff_t written;

    if (in_len > MAX_INPUT || out_cap < hem_b64_decoded_max(in_len))
        return HEM_E_SPACE;
    if (in_len == 0) /* in and out may be NULL then */
        return 0;
    while (pad < in_len && s[in_len - 1u - pad] == '=')
        pad++;
    data_len = in_len - pad;
    rem = data_len % 4u;
    if (pad > 2u || in_len % 4u) {
        /* Refused whatever the data holds; a bad character still takes precedence. */
        bad = first_bad(std_value, s, 0, data_len);
        if (bad < data_len)
            return fail(HEM_E_CHAR, bad, err_offset);
        if (pad > 2u)
            return fail(HEM_E_PADDING, data_len + 2u, err_offset);
        return fail(HEM_E_LENGTH, in_len, err_offset);
    }
    /* Here in_len % 4 == 0 and pad <= 2, so rem is 0, 3 or 2 for pad 0, 1 or 2. */
    written = decode_data(std_value, s, data_len, out, err_offset);
    if (written < 0)
        return written;
    if (rem && (std_value[s[data_len - 1u]] & trailing_mask[rem]))
        return fail(HEM_E_TRAILING, data_len - 1u, err_offset);
    return written;
}

int hem_ct_equal(const void *a, const void *b, size_t n)
{
    /* volatile reads keep the compiler from turning the loop into an early exit. */
    const volatile unsigned char *x = (const volatile unsigned char *)a;
    const volatile unsigned char *y = (const volatile unsigned char *)b;
    unsigned int acc = 0;
    size_t i;

    for (i = 0; i < n; i++)
        acc |= (unsigned int)(x[i] ^ y[i]);
    /* acc is 0..255: acc - 1 wraps to all ones only when acc == 0. */
    return (int)(((acc - 1u) >> 8) & 1u);
}
