/*
 * Self-test for hemcodec. Every expected code and offset below follows from the rules
 * in hemcodec.h, and the same cases give the same answers from hemproto/_pycodec.py, the
 * reference both codecs must agree with.
 *
 * Inputs are copied into exactly sized heap blocks before each call, so a run under
 * valgrind or AddressSanitizer also catches any read past in_len or write past out_cap.
 */
#include "hemcodec.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sample_check.h"

typedef ptrdiff_t (*encode_fn)(const unsigned char *, size_t, char *, size_t);
typedef ptrdiff_t (*decode_fn)(const char *, size_t, unsigned char *, size_t, size_t *);
typedef size_t (*encoded_len_fn)(size_t);

enum alphabet { URL, STD };

struct codec {
    const char *name;
    encode_fn encode;
    decode_fn decode;
    encoded_len_fn encoded_len;
    const char *alphabet; /* 64 characters, not a C string: byte 0 must not match */
};

static const struct codec codecs[2] = {
    {"base64url", hem_b64url_encode, hem_b64url_decode, hem_b64url_encoded_len,
     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"},
    {"base64", hem_b64_encode, hem_b64_decode, hem_b64_encoded_len,
     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"},
};

/* Printable form of test text for failure messages; bytes outside ASCII print as \xNN. */
static const char *show(const char *s, size_t n)
{
    static char buf[512];
    size_t i, o = 0;

    for (i = 0; i < n && o + 5 < sizeof buf; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)sprintf(buf + o, "\\x%02x", c);
    }
    buf[o] = '\0';
    return buf;
}

static const char *code_name(ptrdiff_t code)
{
    switch (code) {
    case HEM_E_CHAR: return "HEM_E_CHAR";
    case HEM_E_LENGTH: return "HEM_E_LENGTH";
    case HEM_E_PADDING: return "HEM_E_PADDING";
    case HEM_E_TRAILING: return "HEM_E_TRAILING";
    case HEM_E_SPACE: return "HEM_E_SPACE";
    case HEM_E_SEGMENTS: return "HEM_E_SEGMENTS";
    default: return code >= 0 ? "a byte count" : "an unknown code";
    }
}

/* Stands in for "no offset reported": no test input is anywhere near this long. */
#define NO_OFFSET ((size_t)-1)

/* Decodes into a buffer of exactly hem_b64_decoded_max(len) bytes, the size the header
 * promises is always enough. The caller frees *out_copy. */
static ptrdiff_t run_decode(const struct codec *c, const char *text, size_t len,
                            unsigned char **out_copy, size_t *offset)
{
    char *in = dup_exact(text, len);
    size_t cap = hem_b64_decoded_max(len);
    unsigned char *out = xmalloc(cap);
    ptrdiff_t r;

    *offset = NO_OFFSET;
    r = c->decode(in, len, out, cap, offset);
    free(in);
    *out_copy = out;
    return r;
}

static void expect_decoded(const struct codec *c, const char *text, size_t len,
                           const void *want, size_t want_len)
{
    unsigned char *out;
    size_t off;
    ptrdiff_t r = run_decode(c, text, len, &out, &off);

    CHECKF(r == (ptrdiff_t)want_len, "%s \"%s\": got %s %ld", c->name, show(text, len),
           code_name(r), (long)r);
    if (r == (ptrdiff_t)want_len)
        CHECKF(memcmp(out, want, want_len) == 0, "%s \"%s\"", c->name, show(text, len));
    free(out);
}

static void expect_refused(const struct codec *c, const char *text, size_t len, ptrdiff_t code,
                           size_t offset)
{
    unsigned char *out;
    size_t off;
    ptrdiff_t r = run_decode(c, text, len, &out, &off);
    char *in;

    CHECKF(r == code && off == offset, "%s \"%s\": want %s at %lu, got %s at %ld", c->name,
           show(text, len), code_name(code), (unsigned long)offset, code_name(r),
           off == NO_OFFSET ? -1L : (long)off);
    free(out);

    /* The offset pointer is optional; leaving it out must not change the verdict. */
    in = dup_exact(text, len);
    out = xmalloc(hem_b64_decoded_max(len));
    r = c->decode(in, len, out, hem_b64_decoded_max(len), NULL);
    CHECKF(r == code, "%s \"%s\" with NULL err_offset: got %s", c->name, show(text, len),
           code_name(r));
    free(out);
    free(in);
}

static void expect_encoded(const struct codec *c, const void *data, size_t len,
                           const char *want)
{
    size_t want_len = strlen(want), i;
    unsigned char *in = dup_exact(data, len);
    char *out = xmalloc(want_len + 8u);
    ptrdiff_t r;

    CHECKF(c->encoded_len(len) == want_len, "%s of %lu bytes", c->name, (unsigned long)len);
    /* Generous capacity with a guard pattern: the encoder must stop at want_len anyway. */
    memset(out, 0xA5, want_len + 8u);
    r = c->encode(in, len, out, want_len + 8u);
    CHECKF(r == (ptrdiff_t)want_len && memcmp(out, want, want_len) == 0, "%s want \"%s\"",
           c->name, want);
    for (i = want_len; i < want_len + 8u; i++)
        CHECKF((unsigned char)out[i] == 0xA5, "%s wrote past its output at %lu", c->name,
               (unsigned long)i);
    free(out);
    free(in);
}

#define T(lit) lit, (sizeof(lit) - 1u)

/* ------------------------------------------------------------------------------------ */

static void test_sizes(void)
{
    static const size_t url_len[] = {0, 2, 3, 4, 6, 7, 8};
    static const size_t std_len[] = {0, 4, 4, 4, 8, 8, 8};
    static const size_t dec_max[] = {0, 0, 1, 2, 3, 3, 4, 5, 6};
    size_t i;

    for (i = 0; i < sizeof url_len / sizeof url_len[0]; i++) {
        CHECKF(hem_b64url_encoded_len(i) == url_len[i], "n=%lu", (unsigned long)i);
        CHECKF(hem_b64_encoded_len(i) == std_len[i], "n=%lu", (unsigned long)i);
    }
    for (i = 0; i < sizeof dec_max / sizeof dec_max[0]; i++)
        CHECKF(hem_b64_decoded_max(i) == dec_max[i], "n=%lu", (unsigned long)i);
}

/* Test vectors from RFC 4648, section 10. The base64url column is the same text with the
 * padding removed, since none of these inputs reach the two characters that differ. */
static void test_rfc4648_vectors(void)
{
    static const struct {
        const char *plain, *std, *url;
    } v[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"fooba", "Zm9vYmE=", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    };
    size_t i;

    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].plain);
        expect_encoded(&codecs[STD], v[i].plain, n, v[i].std);
        expect_encoded(&codecs[URL], v[i].plain, n, v[i].url);
        expect_decoded(&codecs[STD], v[i].std, strlen(v[i].std), v[i].plain, n);
        expect_decoded(&codecs[URL], v[i].url, strlen(v[i].url), v[i].plain, n);
    }
}

/* 62 and 63 are the only values the alphabets spell differently, and 0xfb 0xff 0xbf is
 * 111110 111111 111110 111111: both of them, twice. */
static void test_alphabet_difference(void)
{
    static const unsigned char fbffbf[] = {0xfb, 0xff, 0xbf};

    expect_encoded(&codecs[URL], fbffbf, 3, "-_-_");
    expect_encoded(&codecs[STD], fbffbf, 3, "+/+/");
    expect_encoded(&codecs[URL], fbffbf, 2, "-_8");
    expect_encoded(&codecs[STD], fbffbf, 2, "+/8=");
    expect_encoded(&codecs[URL], fbffbf, 1, "-w");
    expect_encoded(&codecs[STD], fbffbf, 1, "+w==");

    expect_decoded(&codecs[URL], T("-_-_"), fbffbf, 3);
    expect_decoded(&codecs[STD], T("+/+/"), fbffbf, 3);
    expect_decoded(&codecs[URL], T("-_8"), fbffbf, 2);
    expect_decoded(&codecs[STD], T("+/8="), fbffbf, 2);
    expect_decoded(&codecs[URL], T("-w"), fbffbf, 1);
    expect_decoded(&codecs[STD], T("+w=="), fbffbf, 1);

    /* Each decoder refuses the other's two characters. */
    expect_refused(&codecs[URL], T("+/+/"), HEM_E_CHAR, 0);
    expect_refused(&codecs[URL], T("-_+/"), HEM_E_CHAR, 2);
    expect_refused(&codecs[STD], T("-_-_"), HEM_E_CHAR, 0);
    expect_refused(&codecs[STD], T("+/-_"), HEM_E_CHAR, 2);
    expect_refused(&codecs[STD], T("+/_="), HEM_E_CHAR, 2);
}

/* Deterministic filler so failures reproduce; rand() differs between C libraries. */
static unsigned long xorshift_state = 0x2545F491ul;

static unsigned char next_byte(void)
{
    unsigned long x = xorshift_state;
    x ^= (x << 13) & 0xFFFFFFFFul;
    x ^= x >> 17;
    x ^= (x << 5) & 0xFFFFFFFFul;
    xorshift_state = x & 0xFFFFFFFFul;
    return (unsigned char)(x >> 11);
}

static void round_trip(const struct codec *c, const unsigned char *data, size_t n,
                       char **text_out, size_t *text_len)
{
    size_t need = c->encoded_len(n), cap, off = NO_OFFSET;
    char *text = xmalloc(need);
    unsigned char *back;
    ptrdiff_t r;

    r = c->encode(data, n, text, need);
    CHECKF(r == (ptrdiff_t)need, "%s encode n=%lu: got %ld", c->name, (unsigned long)n, (long)r);
    if (need > 0) {
        r = c->encode(data, n, text, need - 1u);
        CHECKF(r == HEM_E_SPACE, "%s encode n=%lu, cap one short", c->name, (unsigned long)n);
    }

    cap = hem_b64_decoded_max(need);
    CHECKF(cap >= n && cap - n <= 2u, "%s n=%lu: decoded_max %lu", c->name, (unsigned long)n,
           (unsigned long)cap);
    if (c->encode == hem_b64url_encode)
        CHECKF(cap == n, "base64url n=%lu: decoded_max %lu is not exact", (unsigned long)n,
               (unsigned long)cap);

    back = xmalloc(cap);
    r = c->decode(text, need, back, cap, &off);
    CHECKF(r == (ptrdiff_t)n && off == NO_OFFSET, "%s decode n=%lu: got %s %ld", c->name,
           (unsigned long)n, code_name(r), (long)r);
    if (r == (ptrdiff_t)n)
        CHECKF(n == 0 || memcmp(back, data, n) == 0, "%s n=%lu: bytes differ", c->name,
               (unsigned long)n);
    if (cap > 0) {
        r = c->decode(text, need, back, cap - 1u, &off);
        CHECKF(r == HEM_E_SPACE, "%s decode n=%lu, cap one short: got %s", c->name,
               (unsigned long)n, code_name(r));
    }
    free(back);
    *text_out = text;
    *text_len = need;
}

static void test_round_trips(void)
{
    size_t n, i;

    for (n = 0; n <= 256; n++) {
        unsigned char *data = xmalloc(n);
        char *url, *std;
        size_t url_len, std_len, j = 0;
        int same = 1;

        for (i = 0; i < n; i++)
            data[i] = next_byte();
        round_trip(&codecs[URL], data, n, &url, &url_len);
        round_trip(&codecs[STD], data, n, &std, &std_len);

        /* The two encodings must be one text in two spellings, padding aside. */
        for (i = 0; i < std_len && std[i] != '='; i++) {
            char want = std[i] == '+' ? '-' : std[i] == '/' ? '_' : std[i];
            if (j >= url_len || url[j++] != want)
                same = 0;
        }
        CHECKF(same && j == url_len && std_len - i <= 2u, "n=%lu", (unsigned long)n);

        free(std);
        free(url);
        free(data);
    }
}

struct refusal {
    enum alphabet alpha;
    const char *text;
    size_t len;
    ptrdiff_t code;
    size_t offset;
};

static const struct refusal refusals[] = {
    /* '=' is not in the base64url alphabet at all, so padding is a bad character. */
    {URL, T("QQ=="), HEM_E_CHAR, 2},
    {URL, T("QUJD="), HEM_E_CHAR, 4},
    {URL, T("===="), HEM_E_CHAR, 0},
    {URL, T("Q+"), HEM_E_CHAR, 1},
    {URL, T("Q/"), HEM_E_CHAR, 1},
    {URL, T("QUJD+A"), HEM_E_CHAR, 4},
    {URL, T("QUJDRUZ/"), HEM_E_CHAR, 7},
    {URL, T("a b"), HEM_E_CHAR, 1},
    {URL, T("QQ\n"), HEM_E_CHAR, 2},
    {URL, T("QUJD\tA"), HEM_E_CHAR, 4},
    {URL, T("\x80" "AA"), HEM_E_CHAR, 0},
    {URL, T("QUJ\xff"), HEM_E_CHAR, 3},
    {URL, T("AAA\0"), HEM_E_CHAR, 3},
    {STD, T("Q-=="), HEM_E_CHAR, 1},
    {STD, T("_w=="), HEM_E_CHAR, 0},
    {STD, T("Q Q="), HEM_E_CHAR, 1},
    {STD, T("Q\n=="), HEM_E_CHAR, 1},
    {STD, T("QUJD\r\nQQ=="), HEM_E_CHAR, 4},
    {STD, T("\x80QQ="), HEM_E_CHAR, 0},
    {STD, T("QUJ\xc3\xa9Q=="), HEM_E_CHAR, 3},

    /* Only the trailing run of '=' is padding; one anywhere else is a bad character. */
    {STD, T("Q=Q="), HEM_E_CHAR, 1},
    {STD, T("QQ=A"), HEM_E_CHAR, 2},
    {STD, T("=QQQ"), HEM_E_CHAR, 0},
    {STD, T("Q===Q==="), HEM_E_CHAR, 1},

    /* Length. */
    {URL, T("Q"), HEM_E_LENGTH, 1},
    {URL, T("QUJDR"), HEM_E_LENGTH, 5},
    {URL, T("QUJDRUZHS"), HEM_E_LENGTH, 9},
    {STD, T("QQ"), HEM_E_LENGTH, 2},
    {STD, T("QQ="), HEM_E_LENGTH, 3},
    {STD, T("QUJ"), HEM_E_LENGTH, 3},
    {STD, T("QUJDR"), HEM_E_LENGTH, 5},
    {STD, T("QUJDRA="), HEM_E_LENGTH, 7},
    {STD, T("="), HEM_E_LENGTH, 1},
    {STD, T("=="), HEM_E_LENGTH, 2},
    {STD, T("QUJD="), HEM_E_LENGTH, 5},
    {STD, T("QUJD=="), HEM_E_LENGTH, 6},

    /* More than two '=': the offset is the third one, wherever the data ends. */
    {STD, T("QQ==="), HEM_E_PADDING, 4},
    {STD, T("QQ===="), HEM_E_PADDING, 4},
    {STD, T("A==="), HEM_E_PADDING, 3},
    {STD, T("QUJDR==="), HEM_E_PADDING, 7},
    {STD, T("QUJD==="), HEM_E_PADDING, 6},
    {STD, T("==="), HEM_E_PADDING, 2},
    {STD, T("===="), HEM_E_PADDING, 2},

    /* Non-zero unused bits in the last data character. */
    {URL, T("QR"), HEM_E_TRAILING, 1},
    {URL, T("Zh"), HEM_E_TRAILING, 1},
    {URL, T("QUJ"), HEM_E_TRAILING, 2},
    {URL, T("Zm9"), HEM_E_TRAILING, 2},
    {URL, T("QUJDRB"), HEM_E_TRAILING, 5},
    {STD, T("QR=="), HEM_E_TRAILING, 1},
    {STD, T("Zh=="), HEM_E_TRAILING, 1},
    {STD, T("QUK="), HEM_E_TRAILING, 2},
    {STD, T("Zm9="), HEM_E_TRAILING, 2},
    {STD, T("QUJDRB=="), HEM_E_TRAILING, 5},

    /* Precedence: a bad character anywhere beats every later rule. */
    {URL, T("QUJD+"), HEM_E_CHAR, 4},      /* over length (5 mod 4 == 1) */
    {URL, T("+UJDR"), HEM_E_CHAR, 0},      /* over length, bad character first */
    {URL, T("QR="), HEM_E_CHAR, 2},        /* over trailing bits at 1 */
    {URL, T("QR\x80"), HEM_E_CHAR, 2},     /* over trailing bits at 1 */
    {STD, T("QU-"), HEM_E_CHAR, 2},        /* over length */
    {STD, T("Q-==="), HEM_E_CHAR, 1},      /* over padding */
    {STD, T("QUJD\x80==="), HEM_E_CHAR, 4}, /* over padding */
    {STD, T("QR=A"), HEM_E_CHAR, 2},       /* over trailing bits at 1 */
    {STD, T("Q-R=="), HEM_E_CHAR, 1},      /* over length and trailing bits */
    /* ...padding beats length, and length beats trailing bits. */
    {STD, T("QR==="), HEM_E_PADDING, 4},
    {STD, T("AAAAA==="), HEM_E_PADDING, 7},
    {STD, T("QR="), HEM_E_LENGTH, 3},
    {STD, T("QR"), HEM_E_LENGTH, 2},
};

static void test_refusals(void)
{
    size_t i;

    for (i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const struct refusal *r = &refusals[i];
        expect_refused(&codecs[r->alpha], r->text, r->len, r->code, r->offset);
    }
}

static void test_empty_input(void)
{
    unsigned char out[1] = {0x5A};
    char text[1] = {'Q'};
    size_t off = NO_OFFSET;

    CHECK(hem_b64url_decode(text, 0, out, 0, &off) == 0);
    CHECK(hem_b64_decode(text, 0, out, 0, &off) == 0);
    CHECK(hem_b64url_decode(text, 0, out, 0, NULL) == 0);
    CHECK(hem_b64_decode(text, 0, out, 0, NULL) == 0);
    CHECK(off == NO_OFFSET && out[0] == 0x5A);
    CHECK(hem_b64url_encode(out, 0, text, 0) == 0);
    CHECK(hem_b64_encode(out, 0, text, 0) == 0);
    CHECK(text[0] == 'Q');
}

/* Every byte value in the middle of a full group: accepted exactly when it is one of the
 * alphabet's 64 characters. For base64 this includes '=', which is only padding at the end. */
static void test_every_byte(void)
{
    unsigned int b;
    int a;

    for (a = URL; a <= STD; a++) {
        const struct codec *c = &codecs[a];
        for (b = 0; b < 256; b++) {
            char text[4] = {'A', 0, 'A', 'A'};
            const char *hit = memchr(c->alphabet, (int)b, 64);
            unsigned char want[3];

            text[1] = (char)b;
            if (hit) {
                unsigned long v = (unsigned long)(hit - c->alphabet) << 12;
                want[0] = (unsigned char)(v >> 16);
                want[1] = (unsigned char)(v >> 8);
                want[2] = (unsigned char)v;
                expect_decoded(c, text, 4, want, 3);
            } else {
                expect_refused(c, text, 4, HEM_E_CHAR, 1);
            }
        }
    }
}

/* The first bad character is the one reported, wherever it sits in a long input. */
static void test_bad_character_positions(void)
{
    static const char bad[] = {'.', ' ', '\0', '\x80', '\xff', '*'};
    char text[64], probe[64];
    size_t i, k;
    int a;

    for (i = 0; i < sizeof text; i++)
        text[i] = (char)("QUJDRUZH"[i % 8u]);
    for (a = URL; a <= STD; a++) {
        const struct codec *c = &codecs[a];
        for (k = 0; k < sizeof bad; k++) {
            for (i = 0; i < sizeof text; i++) {
                memcpy(probe, text, sizeof probe);
                probe[i] = bad[k];
                expect_refused(c, probe, sizeof probe, HEM_E_CHAR, i);
                if (i + 3u < sizeof probe) {
                    probe[i + 3u] = a == URL ? '+' : '-'; /* a second, later refusal */
                    expect_refused(c, probe, sizeof probe, HEM_E_CHAR, i);
                }
            }
        }
    }
}

/* For each of the 64 possible last characters after 1 or 2 data characters (plus an
 * optional full group before them), the refusal is exactly the non-zero unused bits. */
static void test_trailing_bits(void)
{
    static const char *const prefixes[] = {"", "QUJD"};
    static const unsigned char mask[4] = {0, 0, 0x0F, 0x03};
    size_t p, tail, v;
    int a;

    for (a = URL; a <= STD; a++) {
        const struct codec *c = &codecs[a];
        for (p = 0; p < 2; p++) {
            for (tail = 2; tail <= 3; tail++) {
                for (v = 0; v < 64; v++) {
                    char text[16];
                    size_t pre = strlen(prefixes[p]), len = pre + tail;
                    memcpy(text, prefixes[p], pre);
                    text[pre] = 'Q';
                    text[pre + 1u] = 'U';
                    text[len - 1u] = c->alphabet[v];
                    if (a == STD) {
                        while (len % 4u)
                            text[len++] = '=';
                    }
                    if (v & mask[tail]) {
                        expect_refused(c, text, len, HEM_E_TRAILING, pre + tail - 1u);
                    } else {
                        unsigned char *out;
                        size_t off;
                        ptrdiff_t r = run_decode(c, text, len, &out, &off);
                        CHECKF(r == (ptrdiff_t)(pre / 4u * 3u + tail - 1u), "%s \"%s\"",
                               c->name, show(text, len));
                        free(out);
                    }
                }
            }
        }
    }
}

static void test_space(void)
{
    static const unsigned char data[4] = {'A', 'B', 'C', 'D'};
    unsigned char out[8];
    char text[16];
    size_t off = NO_OFFSET;
    const size_t too_long = (size_t)PTRDIFF_MAX / 4u + 1u;

    CHECK(hem_b64url_encode(data, 4, text, 5) == HEM_E_SPACE);
    CHECK(hem_b64url_encode(data, 4, text, 6) == 6);
    CHECK(hem_b64_encode(data, 4, text, 7) == HEM_E_SPACE);
    CHECK(hem_b64_encode(data, 4, text, 8) == 8);
    CHECK(hem_b64url_encode(data, 1, text, 0) == HEM_E_SPACE);
    CHECK(hem_b64_encode(data, 1, text, 3) == HEM_E_SPACE);

    CHECK(hem_b64url_decode("QUJDRA", 6, out, 3, &off) == HEM_E_SPACE);
    CHECK(hem_b64url_decode("QUJDRA", 6, out, 4, &off) == 4);
    CHECK(hem_b64_decode("QUJDRA==", 8, out, 5, &off) == HEM_E_SPACE);
    CHECK(hem_b64_decode("QUJDRA==", 8, out, 6, &off) == 4);
    CHECK(hem_b64url_decode("QQ", 2, out, 0, NULL) == HEM_E_SPACE);
    CHECK(off == NO_OFFSET);

    /* A caller error is reported before anything about the input. */
    CHECK(hem_b64url_decode("QQ==", 4, out, 2, &off) == HEM_E_SPACE);
    CHECK(hem_b64_decode("QQ===", 5, out, 2, &off) == HEM_E_SPACE);
    CHECK(hem_b64_decode("Q=Q=", 4, out, 0, &off) == HEM_E_SPACE);

    /* Past the documented input limit the answer comes from the length alone, before any
     * byte is read, so a short buffer with an overstated length is safe to pass here. */
    CHECK(hem_b64url_encode(data, too_long, text, (size_t)-1) == HEM_E_SPACE);
    CHECK(hem_b64_encode(data, too_long, text, (size_t)-1) == HEM_E_SPACE);
    CHECK(hem_b64url_decode("QUJD", too_long, out, (size_t)-1, &off) == HEM_E_SPACE);
    CHECK(hem_b64_decode("QUJD", too_long, out, (size_t)-1, &off) == HEM_E_SPACE);
}

static void test_ct_equal(void)
{
    unsigned char a[32], b[32];
    size_t i;
    int bit;

    for (i = 0; i < sizeof a; i++)
        a[i] = b[i] = next_byte();

    CHECK(hem_ct_equal(a, b, sizeof a) == 1);
    CHECK(hem_ct_equal(a, a, sizeof a) == 1);
    CHECK(hem_ct_equal(a, b, 0) == 1);
    CHECK(hem_ct_equal("x", "y", 0) == 1);

    b[0] ^= 0xFF;
    CHECK(hem_ct_equal(a, b, sizeof a) == 0);
    CHECK(hem_ct_equal(a + 1, b + 1, sizeof a - 1u) == 1);
    b[0] ^= 0xFF;
    b[31] ^= 0x01;
    CHECK(hem_ct_equal(a, b, sizeof a) == 0);
    CHECK(hem_ct_equal(a, b, sizeof a - 1u) == 1);
    b[31] ^= 0x01;

    /* Each single-bit difference, so no bit of the accumulated difference is lost. */
    for (i = 0; i < sizeof a; i++) {
        for (bit = 0; bit < 8; bit++) {
            b[i] ^= (unsigned char)(1u << bit);
            CHECKF(hem_ct_equal(a, b, sizeof a) == 0, "byte %lu bit %d", (unsigned long)i, bit);
            b[i] ^= (unsigned char)(1u << bit);
        }
    }
    CHECK(hem_ct_equal(a, b, sizeof a) == 1);

    memset(a, 0x00, sizeof a);
    memset(b, 0xFF, sizeof b);
    CHECK(hem_ct_equal(a, b, sizeof a) == 0);
    CHECK(hem_ct_equal(b, b, sizeof b) == 1);
}

/* ------------------------------------------------------------------------------------ */
/* A reference model of the decoders, written from the rules in hemcodec.h alone: a plain
 * bit accumulator with no lookup tables, so that it shares nothing with the table-driven
 * loops of hemcodec.c it is compared with. */

static int model_value(const struct codec *c, unsigned char ch)
{
    const char *hit = memchr(c->alphabet, ch, 64);
    return hit ? (int)(hit - c->alphabet) : -1;
}

/* out needs room for len bytes. */
static ptrdiff_t model_decode(const struct codec *c, const char *text, size_t len,
                              unsigned char *out, size_t *offset)
{
    int padded = c->encode == hem_b64_encode;
    size_t pad = 0, data_len, i, n = 0;
    unsigned int acc = 0, bits = 0;

    while (padded && pad < len && text[len - 1u - pad] == '=')
        pad++;
    data_len = len - pad;
    for (i = 0; i < data_len; i++) {
        if (model_value(c, (unsigned char)text[i]) < 0) {
            *offset = i;
            return HEM_E_CHAR;
        }
    }
    if (pad > 2u) {
        *offset = data_len + 2u;
        return HEM_E_PADDING;
    }
    if (padded ? len % 4u != 0 : len % 4u == 1u) {
        *offset = len;
        return HEM_E_LENGTH;
    }
    for (i = 0; i < data_len; i++) {
        acc = (acc << 6 | (unsigned int)model_value(c, (unsigned char)text[i])) & 0xFFFu;
        bits += 6u;
        if (bits >= 8u) {
            bits -= 8u;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1u)) {
        *offset = data_len - 1u;
        return HEM_E_TRAILING;
    }
    return (ptrdiff_t)n;
}

/* The codec must give the model's verdict: same bytes, or same code at the same offset. */
static void expect_model(const struct codec *c, const char *text, size_t len)
{
    unsigned char *want = xmalloc(len);
    size_t off = NO_OFFSET;
    ptrdiff_t r = model_decode(c, text, len, want, &off);

    if (r >= 0)
        expect_decoded(c, text, len, want, (size_t)r);
    else
        expect_refused(c, text, len, r, off);
    free(want);
}

/* Every string of up to four characters over a set that reaches every rule: values with
 * zero and non-zero low bits (A=0, Q=16, E=4, B=1), the four characters the alphabets
 * spell differently, '=', and '.', which neither accepts. */
static void test_model_exhaustive(void)
{
    static const char set[] = "AQEB-_+/=.";
    const size_t k = sizeof set - 1u;
    char text[4];
    size_t len, idx, count, j;
    int a;

    for (a = URL; a <= STD; a++) {
        for (len = 0; len <= 4u; len++) {
            for (count = 1, j = 0; j < len; j++)
                count *= k;
            for (idx = 0; idx < count; idx++) {
                size_t rest = idx;
                for (j = 0; j < len; j++) {
                    text[j] = set[rest % k];
                    rest /= k;
                }
                expect_model(&codecs[a], text, len);
            }
        }
    }
}

/* Longer random strings: mostly the codec's own alphabet, with a sprinkling of refused
 * bytes and, for base64, a random run of '=' at the end so all padding rules are hit. */
static void test_model_random(void)
{
    static const char odd[] = "=.-_+/ \n\x80\xff";
    char text[48];
    int a, round;

    for (a = URL; a <= STD; a++) {
        const struct codec *c = &codecs[a];
        for (round = 0; round < 4000; round++) {
            size_t len = 5u + next_byte() % 36u, i;
            for (i = 0; i < len; i++) {
                unsigned char r = next_byte();
                text[i] = r < 8u ? odd[r % (sizeof odd - 1u)] : c->alphabet[r % 64u];
            }
            if (a == STD) {
                size_t pad = next_byte() % 5u;
                while (pad-- > 0)
                    text[len++] = '=';
            }
            expect_model(c, text, len);
        }
    }
}

/* hemcodec.c decodes a group with four pre-shifted tables, one per position in the group,
 * and a tail with the first three: every byte value goes through each of them here, in a
 * full group between two others and in both tail lengths. */
static void test_every_byte_every_lane(void)
{
    static const char *const shapes[2][3] = {
        {"QUJDAAAAQUJD", "QUJDAA", "QUJDAAA"},
        {"QUJDAAAAQUJD", "QUJDAA==", "QUJDAAA="},
    };
    static const size_t lanes[3] = {4, 2, 3};
    char text[16];
    unsigned int b;
    size_t s, lane;
    int a;

    for (a = URL; a <= STD; a++) {
        for (s = 0; s < 3u; s++) {
            size_t len = strlen(shapes[a][s]);
            for (lane = 0; lane < lanes[s]; lane++) {
                for (b = 0; b < 256u; b++) {
                    memcpy(text, shapes[a][s], len);
                    text[4u + lane] = (char)b;
                    expect_model(&codecs[a], text, len);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* hem_token_decode */

static const struct codec *const url = &codecs[URL];

/* Offsets of the segments a well-formed split gives; a model of the header's rules for
 * compact tokens, built on model_decode for the segments themselves. out needs len bytes. */
static ptrdiff_t model_token(const char *t, size_t len, unsigned char *out,
                             hem_token_parts *parts, size_t *offset)
{
    size_t dots[3], nd = 0, start[3], end[3], decoded[3], i, k, total = 0;

    for (i = 0; i < len && nd < 3u; i++)
        if (t[i] == '.')
            dots[nd++] = i;
    if (nd < 2u) {
        *offset = len;
        return HEM_E_SEGMENTS;
    }
    start[0] = 0;
    start[1] = dots[0] + 1u;
    start[2] = dots[1] + 1u;
    end[0] = dots[0];
    end[1] = dots[1];
    end[2] = nd == 3u ? dots[2] : len;
    for (k = 0; k < 3u; k++) {
        if (start[k] == (k < 2u ? end[k] : len)) {
            *offset = start[k];
            return HEM_E_SEGMENTS;
        }
    }
    for (k = 0; k < 3u; k++) {
        size_t off = 0;
        ptrdiff_t r;
        if (k == 2u && nd == 3u) {
            /* A fourth segment: refused at the third '.', unless a bad character comes
             * first (the third '.' is itself just the first refused character). */
            for (i = start[2]; i < end[2]; i++) {
                if (model_value(url, (unsigned char)t[i]) < 0) {
                    *offset = i;
                    return HEM_E_CHAR;
                }
            }
            *offset = end[2];
            return HEM_E_SEGMENTS;
        }
        r = model_decode(url, t + start[k], end[k] - start[k], out + total, &off);
        if (r < 0) {
            *offset = start[k] + off;
            return r;
        }
        decoded[k] = (size_t)r;
        total += decoded[k];
    }
    parts->dot1 = dots[0];
    parts->dot2 = dots[1];
    parts->header_len = decoded[0];
    parts->payload_len = decoded[1];
    parts->signature_len = decoded[2];
    return (ptrdiff_t)total;
}

/* Runs hem_token_decode on an exactly sized copy into exactly hem_b64_decoded_max(len)
 * bytes; then again with parts and err_offset NULL, which must not change the result. */
static ptrdiff_t run_token(const char *text, size_t len, unsigned char **out_copy,
                           hem_token_parts *parts, size_t *offset)
{
    char *in = dup_exact(text, len);
    size_t cap = hem_b64_decoded_max(len);
    unsigned char *out = xmalloc(cap);
    ptrdiff_t r, again;

    *offset = NO_OFFSET;
    memset(parts, 0xEE, sizeof *parts);
    r = hem_token_decode(in, len, out, cap, parts, offset);
    again = hem_token_decode(in, len, out, cap, NULL, NULL);
    CHECKF(again == r, "token \"%s\": %s, then %s without parts and err_offset",
           show(text, len), code_name(r), code_name(again));
    free(in);
    *out_copy = out;
    return r;
}

static void expect_token(const char *text, size_t len, const void *want, size_t want_len,
                         size_t dot1, size_t dot2, size_t header_len, size_t payload_len)
{
    hem_token_parts parts;
    unsigned char *out;
    size_t off;
    ptrdiff_t r = run_token(text, len, &out, &parts, &off);

    CHECKF(r == (ptrdiff_t)want_len && off == NO_OFFSET, "token \"%s\": got %s %ld",
           show(text, len), code_name(r), (long)r);
    if (r == (ptrdiff_t)want_len) {
        CHECKF(memcmp(out, want, want_len) == 0, "token \"%s\": bytes", show(text, len));
        CHECKF(parts.dot1 == dot1 && parts.dot2 == dot2 && parts.header_len == header_len &&
                   parts.payload_len == payload_len &&
                   parts.signature_len == want_len - header_len - payload_len,
               "token \"%s\": parts %lu %lu %lu %lu %lu", show(text, len),
               (unsigned long)parts.dot1, (unsigned long)parts.dot2,
               (unsigned long)parts.header_len, (unsigned long)parts.payload_len,
               (unsigned long)parts.signature_len);
    }
    free(out);
}

static void expect_token_refused(const char *text, size_t len, ptrdiff_t code, size_t offset)
{
    hem_token_parts parts;
    unsigned char *out;
    size_t off;
    ptrdiff_t r = run_token(text, len, &out, &parts, &off);

    CHECKF(r == code && off == offset, "token \"%s\": want %s at %lu, got %s at %ld",
           show(text, len), code_name(code), (unsigned long)offset, code_name(r),
           off == NO_OFFSET ? -1L : (long)off);
    free(out);
}

static void expect_token_model(const char *text, size_t len)
{
    hem_token_parts parts;
    unsigned char *want = xmalloc(len);
    size_t off = NO_OFFSET;
    ptrdiff_t r = model_token(text, len, want, &parts, &off);

    if (r >= 0)
        expect_token(text, len, want, (size_t)r, parts.dot1, parts.dot2, parts.header_len,
                     parts.payload_len);
    else
        expect_token_refused(text, len, r, off);
    free(want);
}

static void test_token_valid(void)
{
    static const unsigned char foobarf[] = "foobarf";
    static const unsigned char a3[] = "AAA";

    expect_token(T("Zm9v.YmFy.Zg"), foobarf, 7, 4, 9, 3, 3);
    expect_token(T("QQ.QQ.QQ"), a3, 3, 2, 5, 1, 1);
    expect_token(T("-_-_.-w.-_8"), "\xfb\xff\xbf\xfb\xfb\xff", 6, 4, 7, 3, 1);
}

/* Every combination of 1 to 9 bytes per segment: each tail length in each position. */
static void test_token_sizes(void)
{
    unsigned char data[27];
    char text[3 * 12 + 2];
    size_t h, p, g, i;

    for (h = 1; h <= 9u; h++) {
        for (p = 1; p <= 9u; p++) {
            for (g = 1; g <= 9u; g++) {
                size_t n = h + p + g, len = 0;
                ptrdiff_t w;
                for (i = 0; i < n; i++)
                    data[i] = next_byte();
                w = hem_b64url_encode(data, h, text, sizeof text);
                len = (size_t)w;
                text[len++] = '.';
                w = hem_b64url_encode(data + h, p, text + len, sizeof text - len);
                len += (size_t)w;
                text[len++] = '.';
                w = hem_b64url_encode(data + h + p, g, text + len, sizeof text - len);
                len += (size_t)w;
                expect_token(text, len, data, n, hem_b64url_encoded_len(h),
                             hem_b64url_encoded_len(h) + 1u + hem_b64url_encoded_len(p), h, p);
            }
        }
    }
}

struct token_refusal {
    const char *text;
    size_t len;
    ptrdiff_t code;
    size_t offset;
};

static const struct token_refusal token_refusals[] = {
    /* Fewer than three segments: the offset is the token length. */
    {T(""), HEM_E_SEGMENTS, 0},
    {T("QQ"), HEM_E_SEGMENTS, 2},
    {T("QQ.QQ"), HEM_E_SEGMENTS, 5},
    {T("."), HEM_E_SEGMENTS, 1},
    {T("*.QQ"), HEM_E_SEGMENTS, 4}, /* the shape is checked before any character */
    /* An empty segment: where it starts. */
    {T(".."), HEM_E_SEGMENTS, 0},
    {T(".QQ.QQ"), HEM_E_SEGMENTS, 0},
    {T("QQ..QQ"), HEM_E_SEGMENTS, 3},
    {T("QQ.QQ."), HEM_E_SEGMENTS, 6},
    {T("*.QQ."), HEM_E_SEGMENTS, 5},
    {T("QQ..QQ.QQ"), HEM_E_SEGMENTS, 3},
    /* More than three: the third '.'. */
    {T("QQ.QQ.QQ.QQ"), HEM_E_SEGMENTS, 8},
    {T("QQ.QQ.QQ."), HEM_E_SEGMENTS, 8},
    {T("QQ.QQ.."), HEM_E_SEGMENTS, 6},
    {T("QQ.QQ..."), HEM_E_SEGMENTS, 6},
    {T("QQ.QQ.QQ.QQ.QQ"), HEM_E_SEGMENTS, 8},
    {T("QUJD.QUJD.QUJD.QUJD"), HEM_E_SEGMENTS, 14},
    {T("QQ.QQ.Q.QQ"), HEM_E_SEGMENTS, 7},
    {T("QQ.QQ.QR.QQ"), HEM_E_SEGMENTS, 8}, /* never decoded, so no trailing-bits verdict */
    {T("QQ.QQ.QUJDR.QQ"), HEM_E_SEGMENTS, 11}, /* nor a length one */

    /* A bad character in each segment, at its offset in the whole token. */
    {T("Q*.QQ.QQ"), HEM_E_CHAR, 1},
    {T("QQ==.QQ.QQ"), HEM_E_CHAR, 2},
    {T("QQ.Q+Q.QQ"), HEM_E_CHAR, 4},
    {T("QQ.QQ/.QQ"), HEM_E_CHAR, 5},
    {T("QQ.QQ.QQ="), HEM_E_CHAR, 8},
    {T("QQ.QQ.Q\x80"), HEM_E_CHAR, 7},
    {T("QQ.QQ.QQ\n"), HEM_E_CHAR, 8},
    {T("QQ.QQ.\0QQ"), HEM_E_CHAR, 6},
    /* A length no encoding has, in each segment: the offset is where the segment ends. */
    {T("QUJDR.QQ.QQ"), HEM_E_LENGTH, 5},
    {T("QQ.Q.QQ"), HEM_E_LENGTH, 4},
    {T("QQ.QQ.Q"), HEM_E_LENGTH, 7},
    {T("QQ.QQ.QUJDR"), HEM_E_LENGTH, 11},
    /* Non-zero unused bits in each segment: its last character. */
    {T("QR.QQ.QQ"), HEM_E_TRAILING, 1},
    {T("QUJ.QQ.QQ"), HEM_E_TRAILING, 2},
    {T("QQ.QR.QQ"), HEM_E_TRAILING, 4},
    {T("QQ.QQ.QR"), HEM_E_TRAILING, 7},
    {T("QQ.QQ.QUJ"), HEM_E_TRAILING, 8},

    /* Precedence: segments are decoded in order and the first refusal is the answer, so
     * an earlier segment's refusal wins over anything later, a fourth segment included. */
    {T("QR.Q*.QQ"), HEM_E_TRAILING, 1},
    {T("QQ.QR.*"), HEM_E_TRAILING, 4},
    {T("QQ.QQ.*R"), HEM_E_CHAR, 6},
    {T("Q*.QQ.QQ.QQ"), HEM_E_CHAR, 1},
    {T("QUJDR.QQ.QQ.QQ"), HEM_E_LENGTH, 5},
    {T("QQ.QQ.Q*.QQ"), HEM_E_CHAR, 7},
    {T("QQ.QQ.QQ=.QQ"), HEM_E_CHAR, 8},
};

static void test_token_refusals(void)
{
    size_t i;

    for (i = 0; i < sizeof token_refusals / sizeof token_refusals[0]; i++) {
        const struct token_refusal *r = &token_refusals[i];
        expect_token_refused(r->text, r->len, r->code, r->offset);
        /* The table itself must agree with the model of the header's rules. */
        expect_token_model(r->text, r->len);
    }
}

/* Random short tokens, compared with the model: mostly valid characters, two to four
 * segments, some of them empty, and occasional refused bytes or extra dots. */
static void test_token_random(void)
{
    static const char odd[] = "=.+/ \x80";
    char text[64];
    int round;

    for (round = 0; round < 20000; round++) {
        size_t segments = 2u + next_byte() % 3u, len = 0, k, i;
        for (k = 0; k < segments; k++) {
            size_t n = next_byte() % 12u;
            if (k > 0)
                text[len++] = '.';
            for (i = 0; i < n; i++) {
                unsigned char r = next_byte();
                text[len++] = r < 6u ? odd[r] : url->alphabet[r % 64u];
            }
        }
        expect_token_model(text, len);
    }
}

static void test_token_space_and_nulls(void)
{
    unsigned char out[8];
    hem_token_parts parts;
    size_t off = NO_OFFSET;
    const size_t too_long = (size_t)PTRDIFF_MAX / 4u + 1u;

    /* out_cap is checked against hem_b64_decoded_max(token_len), 6 for 8 characters, even
     * though this token needs only 3 bytes; a short buffer is a caller error, reported
     * first, and leaves *err_offset alone. */
    CHECK(hem_token_decode("QQ.QQ.QQ", 8, out, 5, &parts, &off) == HEM_E_SPACE);
    CHECK(hem_token_decode("QQ.QQ.QQ", 8, out, 6, &parts, &off) == 3);
    CHECK(hem_token_decode("QQ", 2, out, 0, &parts, &off) == HEM_E_SPACE);
    CHECK(hem_token_decode("Q*.QQ.QQ", 8, out, 0, &parts, &off) == HEM_E_SPACE);
    CHECK(hem_token_decode("QQ.QQ.QQ", too_long, out, (size_t)-1, &parts, &off) == HEM_E_SPACE);
    CHECK(off == NO_OFFSET);

    /* A zero length: the pointers may be NULL, and there are no segments. */
    CHECK(hem_token_decode(NULL, 0, NULL, 0, &parts, &off) == HEM_E_SEGMENTS && off == 0);
    CHECK(hem_token_decode(NULL, 0, NULL, 0, NULL, NULL) == HEM_E_SEGMENTS);
    /* parts and err_offset are each optional. */
    CHECK(hem_token_decode("QQ.QQ.QQ", 8, out, 6, NULL, &off) == 3);
    CHECK(hem_token_decode("QQ.QQ.QQ", 8, out, 6, &parts, NULL) == 3 && parts.dot2 == 5);
    CHECK(hem_token_decode("QQ.QQ", 5, out, 6, NULL, NULL) == HEM_E_SEGMENTS);
}

static void test_token_sample(void)
{
    static const char header[] = "{\"ecdh\":\"x25519\",\"typ\":\"JWT\",\"alg\":\"HS256\"}";
    static const char jti[] = "{\"jti\":\"kIA3YrCAbi1vCU1h8ypn2Kts1QSDOQUKNsaUIgWoSr0=\",";
    static const unsigned char signature[32] = {
        0x76, 0x7d, 0x9c, 0xc0, 0x13, 0x83, 0xa1, 0x42, 0xa4, 0x18, 0xaa,
        0xeb, 0xf7, 0x62, 0x16, 0xd7, 0x73, 0x60, 0x56, 0x0e, 0xe3, 0xfa,
        0x1e, 0x95, 0x18, 0xef, 0xad, 0x9c, 0x00, 0xea, 0x8a, 0x7b};
    const size_t len = sizeof sample_token - 1u;
    hem_token_parts parts;
    unsigned char *out, payload[512];
    size_t off;
    ptrdiff_t r = run_token(sample_token, len, &out, &parts, &off), p;

    CHECK(len == 761);
    CHECKF(r == 43 + 493 + 32, "got %s %ld", code_name(r), (long)r);
    CHECK(parts.dot1 == 58 && parts.dot2 == 717);
    CHECK(parts.header_len == 43 && parts.payload_len == 493 && parts.signature_len == 32);
    if (r == 43 + 493 + 32) {
        CHECK(memcmp(out, header, 43) == 0);
        p = hem_b64url_decode(sample_token + 59, 658, payload, sizeof payload, NULL);
        CHECK(p == 493 && memcmp(out + 43, payload, 493) == 0);
        CHECK(memcmp(out + 43, jti, sizeof jti - 1u) == 0);
        CHECK(memcmp(out + 43 + 493, signature, 32) == 0);
    }
    free(out);
}

/* A long token, 8192 characters: refusals deep inside still carry the exact offset. */
static void test_token_long(void)
{
    enum { LEN = 8192, H = 30, G = 32 };
    const size_t hl = hem_b64url_encoded_len(H), gl = hem_b64url_encoded_len(G);
    const size_t pl = LEN - 2u - hl - gl, pb = hem_b64_decoded_max(pl);
    unsigned char *data = xmalloc(H + pb + G);
    char *text = xmalloc(LEN);
    size_t i;

    CHECK(pl % 4u != 1u && hem_b64url_encoded_len(pb) == pl);
    for (i = 0; i < H + pb + G; i++)
        data[i] = next_byte();
    hem_b64url_encode(data, H, text, hl);
    text[hl] = '.';
    hem_b64url_encode(data + H, pb, text + hl + 1u, pl);
    text[hl + 1u + pl] = '.';
    hem_b64url_encode(data + H + pb, G, text + LEN - gl, gl);
    expect_token(text, LEN, data, H + pb + G, hl, hl + 1u + pl, H, pb);

    {
        char *probe = dup_exact(text, LEN);
        probe[8000] = '*';
        expect_token_refused(probe, LEN, HEM_E_CHAR, 8000);
        memcpy(probe, text, LEN);
        probe[LEN - 2] = '.';
        expect_token_refused(probe, LEN, HEM_E_SEGMENTS, LEN - 2);
        memcpy(probe, text, LEN);
        /* 43 signature characters: the last one carries two unused bits. */
        probe[LEN - 1] = probe[LEN - 1] == 'B' ? 'C' : 'B';
        expect_token_refused(probe, LEN, HEM_E_TRAILING, LEN - 1);
        expect_token_model(probe, LEN);
        memcpy(probe, text, LEN);
        probe[hl + pl] = '=';
        expect_token_refused(probe, LEN, HEM_E_CHAR, hl + pl);
        free(probe);
    }
    free(text);
    free(data);
}

int main(void)
{
    test_sizes();
    test_rfc4648_vectors();
    test_alphabet_difference();
    test_round_trips();
    test_refusals();
    test_empty_input();
    test_every_byte();
    test_bad_character_positions();
    test_trailing_bits();
    test_space();
    test_ct_equal();
    test_model_exhaustive();
    test_model_random();
    test_every_byte_every_lane();
    test_token_valid();
    test_token_sizes();
    test_token_refusals();
    test_token_random();
    test_token_space_and_nulls();
    test_token_sample();
    test_token_long();

    printf("%lu passed, %lu failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
