/*
 * hemcodec: the C side of hemproto's codec. Owns the byte-level loops only; all policy
 * (what is canonical, in which order refusals are reported) is stated in hemcodec.h and
 * mirrored by hemproto/_pycodec.py. Never allocates, never reads past in_len.
 */
#include "hemcodec.h"

#include <stdint.h>
#include <string.h>

#define BAD 0xFFu

static const char url_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char std_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * Lookup tables, computed by the preprocessor so that they are const data. VALUE gives a
 * character's 6-bit value in an alphabet whose last two characters are c62 and c63, or BAD
 * (the source character set is ASCII). The shifted tables put that value where it lands in
 * a 24-bit group, with bit 24 set for a refused character, so that four lookups OR-ed
 * together give the group and its validity at once.
 */
#define VALUE(c, c62, c63)                                                                        \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                       \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                                  \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                                  \
     : (c) == (c62)             ? 62                                                              \
     : (c) == (c63)             ? 63                                                              \
                                : (int)BAD)
#define REFUSED 0x01000000u
#define SHIFTED(c, c62, c63, shift)                                                               \
    (VALUE(c, c62, c63) == (int)BAD ? REFUSED : (uint32_t)VALUE(c, c62, c63) << (shift))
#define REP4(f, b) f(b), f((b) + 1), f((b) + 2), f((b) + 3)
#define REP16(f, b) REP4(f, b), REP4(f, (b) + 4), REP4(f, (b) + 8), REP4(f, (b) + 12)
#define REP64(f, b) REP16(f, b), REP16(f, (b) + 16), REP16(f, (b) + 32), REP16(f, (b) + 48)
#define REP256(f) REP64(f, 0), REP64(f, 64), REP64(f, 128), REP64(f, 192)

/* The casts keep compilers quiet about the arithmetic of branches never taken. */
#define URL_V(c) ((unsigned char)VALUE(c, '-', '_'))
#define STD_V(c) ((unsigned char)VALUE(c, '+', '/'))
#define URL_0(c) SHIFTED(c, '-', '_', 18)
#define URL_1(c) SHIFTED(c, '-', '_', 12)
#define URL_2(c) SHIFTED(c, '-', '_', 6)
#define URL_3(c) SHIFTED(c, '-', '_', 0)
#define STD_0(c) SHIFTED(c, '+', '/', 18)
#define STD_1(c) SHIFTED(c, '+', '/', 12)
#define STD_2(c) SHIFTED(c, '+', '/', 6)
#define STD_3(c) SHIFTED(c, '+', '/', 0)

static const unsigned char url_value[256] = {REP256(URL_V)};
static const unsigned char std_value[256] = {REP256(STD_V)};

typedef struct {
    const unsigned char *value;
    uint32_t shifted[4][256];
} alphabet_tables;

static const alphabet_tables url_tables = {
    url_value, {{REP256(URL_0)}, {REP256(URL_1)}, {REP256(URL_2)}, {REP256(URL_3)}}};
static const alphabet_tables std_tables = {
    std_value, {{REP256(STD_0)}, {REP256(STD_1)}, {REP256(STD_2)}, {REP256(STD_3)}}};

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
static size_t first_bad(const unsigned char *table, const unsigned char *s, size_t from, size_t to)
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
 * Decode data_len characters of s that must all be in the alphabet. Returns the bytes
 * written, or HEM_E_CHAR with the offset of the first refused character. The caller has
 * checked that data_len mod 4 != 1 and that out is large enough.
 */
static ptrdiff_t decode_data(const alphabet_tables *t, const unsigned char *s, size_t data_len,
                             unsigned char *out, size_t *err_offset)
{
    const uint32_t *d0 = t->shifted[0], *d1 = t->shifted[1], *d2 = t->shifted[2];
    const uint32_t *d3 = t->shifted[3];
    size_t i, rem = data_len % 4u;
    unsigned char *o = out;

    /* Two groups per round: one validity test for eight characters. */
    for (i = 0; i + 8u <= data_len; i += 8u) {
        uint32_t v = d0[s[i]] | d1[s[i + 1]] | d2[s[i + 2]] | d3[s[i + 3]];
        uint32_t w = d0[s[i + 4]] | d1[s[i + 5]] | d2[s[i + 6]] | d3[s[i + 7]];
        if ((v | w) & REFUSED)
            return fail(HEM_E_CHAR, first_bad(t->value, s, i, data_len), err_offset);
        o[0] = (unsigned char)(v >> 16);
        o[1] = (unsigned char)(v >> 8);
        o[2] = (unsigned char)v;
        o[3] = (unsigned char)(w >> 16);
        o[4] = (unsigned char)(w >> 8);
        o[5] = (unsigned char)w;
        o += 6;
    }
    for (; i + 4u <= data_len; i += 4u) {
        uint32_t v = d0[s[i]] | d1[s[i + 1]] | d2[s[i + 2]] | d3[s[i + 3]];
        if (v & REFUSED)
            return fail(HEM_E_CHAR, first_bad(t->value, s, i, data_len), err_offset);
        o[0] = (unsigned char)(v >> 16);
        o[1] = (unsigned char)(v >> 8);
        o[2] = (unsigned char)v;
        o += 3;
    }
    if (rem) {
        uint32_t v = d0[s[i]] | (rem > 1u ? d1[s[i + 1]] : 0u) | (rem > 2u ? d2[s[i + 2]] : 0u);
        if (v & REFUSED)
            return fail(HEM_E_CHAR, first_bad(t->value, s, i, data_len), err_offset);
        if (rem > 1u)
            *o++ = (unsigned char)(v >> 16);
        if (rem > 2u)
            *o++ = (unsigned char)(v >> 8);
    }
    return (ptrdiff_t)(o - out);
}

/* base64url decoding proper: bounds are the caller's business. */
static ptrdiff_t url_decode(const unsigned char *s, size_t in_len, unsigned char *out,
                            size_t *err_offset)
{
    size_t rem = in_len % 4u;
    ptrdiff_t written;

    if (in_len == 0)
        return 0;
    if (rem == 1u) {
        size_t bad = first_bad(url_value, s, 0, in_len);
        return fail(bad < in_len ? HEM_E_CHAR : HEM_E_LENGTH, bad, err_offset);
    }
    written = decode_data(&url_tables, s, in_len, out, err_offset);
    if (written < 0)
        return written;
    if (rem && (url_value[s[in_len - 1]] & trailing_mask[rem]))
        return fail(HEM_E_TRAILING, in_len - 1u, err_offset);
    return written;
}

ptrdiff_t hem_b64url_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap,
                            size_t *err_offset)
{
    if (in_len > MAX_INPUT || out_cap < hem_b64_decoded_max(in_len))
        return HEM_E_SPACE;
    return url_decode((const unsigned char *)in, in_len, out, err_offset);
}

ptrdiff_t hem_token_decode(const char *token, size_t token_len, unsigned char *out,
                           size_t out_cap, hem_token_parts *parts, size_t *err_offset)
{
    const unsigned char *s = (const unsigned char *)token;
    const unsigned char *dot1, *dot2;
    size_t start[3], length[3], decoded[3], k, total = 0;

    if (token_len > MAX_INPUT || out_cap < hem_b64_decoded_max(token_len))
        return HEM_E_SPACE;
    dot1 = token_len ? memchr(s, '.', token_len) : NULL;
    dot2 = dot1 ? memchr(dot1 + 1, '.', token_len - (size_t)(dot1 + 1 - s)) : NULL;
    if (!dot2)
        return fail(HEM_E_SEGMENTS, token_len, err_offset);
    start[0] = 0;
    start[1] = (size_t)(dot1 - s) + 1u;
    start[2] = (size_t)(dot2 - s) + 1u;
    length[0] = start[1] - 1u;
    length[1] = start[2] - start[1] - 1u;
    length[2] = token_len - start[2];
    for (k = 0; k < 3u; k++)
        if (length[k] == 0)
            return fail(HEM_E_SEGMENTS, start[k], err_offset);
    /* A third '.' is refused by the decoder as a bad character, at its own offset. */
    for (k = 0; k < 3u; k++) {
        size_t offset = 0;
        ptrdiff_t written = url_decode(s + start[k], length[k], out + total, &offset);
        if (written < 0) {
            if (written == HEM_E_CHAR && s[start[k] + offset] == '.')
                written = HEM_E_SEGMENTS;
            return fail((int)written, start[k] + offset, err_offset);
        }
        decoded[k] = (size_t)written;
        total += decoded[k];
    }
    if (parts) {
        parts->dot1 = start[1] - 1u;
        parts->dot2 = start[2] - 1u;
        parts->header_len = decoded[0];
        parts->payload_len = decoded[1];
        parts->signature_len = decoded[2];
    }
    return (ptrdiff_t)total;
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
    written = decode_data(&std_tables, s, data_len, out, err_offset);
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
