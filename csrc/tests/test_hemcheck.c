/*
 * Self-test for hemcheck: hem_check_scan against the shape stated in hemcheck.h.
 *
 * Tokens are built here from field bytes with hemcodec's encoders and the shape's JSON
 * template, so that every expected result follows from the header's rules. The invariant
 * behind most checks: a match means the input is exactly the canonical encoding of what
 * was decoded. So whenever a modified token still matches, re-encoding the decoded fields
 * (with the header and the "uis" presence the result reports) must give back the input
 * byte for byte; and a modification no canonical token can contain (in the header, at a
 * '.', in the JSON's structure) must give HEM_CHECK_OTHER.
 *
 * Every input is copied into an exactly sized heap block, and the output is a heap block
 * of exactly HEM_CHECK_OUT bytes, so a run under valgrind or AddressSanitizer also
 * catches any read past token_len or write past the output.
 */
#include "hemcheck.h"
#include "hemcodec.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sample_check.h"

/* A mistake in this file, not in the library: stop at once. */
static void fatal(const char *what)
{
    fprintf(stderr, "test error: %s\n", what);
    exit(2);
}

/* Deterministic filler so failures reproduce: xorshift64, the top byte of each step. */
static uint64_t rng_state = 0x2545F4914F6CDD1Du;

static unsigned char next_byte(void)
{
    return xorshift_byte(&rng_state);
}

static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Index of c in a 64-character alphabet, or -1. */
static int alphabet_index(const char *alphabet, char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

/* ---- building tokens ------------------------------------------------------------------------ */

#define TEXT_CAP 2048

typedef struct {
    char s[TEXT_CAP];
    size_t n;
} text;

static void put(text *t, const void *p, size_t n)
{
    if (n > TEXT_CAP - t->n)
        fatal("test text too long");
    if (n)
        memcpy(t->s + t->n, p, n);
    t->n += n;
}

static void put_str(text *t, const char *s)
{
    put(t, s, strlen(s));
}

static void put_b64(text *t, const unsigned char *p, size_t n)
{
    ptrdiff_t r = hem_b64_encode(p, n, t->s + t->n, TEXT_CAP - t->n);
    if (r < 0)
        fatal("base64 encoding failed");
    t->n += (size_t)r;
}

static void put_b64url(text *t, const unsigned char *p, size_t n)
{
    ptrdiff_t r = hem_b64url_encode(p, n, t->s + t->n, TEXT_CAP - t->n);
    if (r < 0)
        fatal("base64url encoding failed");
    t->n += (size_t)r;
}

/* Index of the first occurrence of needle in t; the needle must be there. */
static size_t find(const text *t, const char *needle)
{
    size_t k = strlen(needle), i;

    for (i = 0; i + k <= t->n; i++)
        if (memcmp(t->s + i, needle, k) == 0)
            return i;
    fprintf(stderr, "test error: \"%s\" not found\n", needle);
    exit(2);
}

/* dst = src with the `del` bytes at pos replaced by the ins_len bytes at ins. */
static void edit(const text *src, size_t pos, size_t del, const char *ins, size_t ins_len,
                 text *dst)
{
    if (pos > src->n || del > src->n - pos)
        fatal("edit out of range");
    dst->n = 0;
    put(dst, src->s, pos);
    put(dst, ins, ins_len);
    put(dst, src->s + pos + del, src->n - pos - del);
}

/* The two headers hemcheck.h names, by number. */
static const char *const headers[2] = {
    "{\"ecdh\":\"x25519\",\"typ\":\"JWT\",\"alg\":\"HS256\"}",
    "{\"ecdh\":\"x25519\",\"alg\":\"HS256\",\"typ\":\"JWT\"}",
};

/* The claims in device order, where they land in the output, and their sizes. */
struct claim_def {
    const char *name;
    size_t offset, size;
};

static const struct claim_def claim_defs[8] = {
    {"jti", HEM_CHECK_JTI, 32}, {"iss", HEM_CHECK_ISS, 32}, {"qid", HEM_CHECK_QID, 32},
    {"aud", HEM_CHECK_AUD, 32}, {"fws", HEM_CHECK_FWS, 64}, {"bls", HEM_CHECK_BLS, 64},
    {"uis", HEM_CHECK_UIS, 32}, {"csn", HEM_CHECK_CSN, 16},
};
#define CLAIMS 8
#define UIS 6

/* Fields are kept in the output's own layout: HEM_CHECK_OUT bytes, the signature last. */
typedef unsigned char fields[HEM_CHECK_OUT];

/* One JSON member "name":"base64 of value". */
struct member {
    const char *name;
    const unsigned char *value;
    size_t size;
};

static void put_payload(text *json, const struct member *m, size_t count)
{
    size_t i;

    json->n = 0;
    put_str(json, "{");
    for (i = 0; i < count; i++) {
        if (i)
            put_str(json, ",");
        put_str(json, "\"");
        put_str(json, m[i].name);
        put_str(json, "\":\"");
        put_b64(json, m[i].value, m[i].size);
        put_str(json, "\"");
    }
    put_str(json, "}");
}

/* The canonical members of f, in device order; returns their count. */
static size_t members_of(const fields f, int has_uis, struct member m[CLAIMS])
{
    size_t k, count = 0;

    for (k = 0; k < CLAIMS; k++) {
        if (k == UIS && !has_uis)
            continue;
        m[count].name = claim_defs[k].name;
        m[count].value = f + claim_defs[k].offset;
        m[count].size = claim_defs[k].size;
        count++;
    }
    return count;
}

static void canonical_json(const fields f, int has_uis, text *json)
{
    struct member m[CLAIMS];
    put_payload(json, m, members_of(f, has_uis, m));
}

/* base64url(header) "." base64url(payload) "." base64url(signature) */
static void put_token(text *tok, const char *header, size_t header_len, const text *payload,
                      const unsigned char *sig, size_t sig_len)
{
    tok->n = 0;
    put_b64url(tok, (const unsigned char *)header, header_len);
    put_str(tok, ".");
    put_b64url(tok, (const unsigned char *)payload->s, payload->n);
    put_str(tok, ".");
    put_b64url(tok, sig, sig_len);
}

/* A token with the given payload JSON, header number and f's signature. */
static void token_with_json(const fields f, int header, const text *json, text *tok)
{
    put_token(tok, headers[header], strlen(headers[header]), json, f + HEM_CHECK_SIG, 32);
}

/* The one token of the shape that carries these fields. */
static void canonical_token(const fields f, int header, int has_uis, text *tok)
{
    text json;
    canonical_json(f, has_uis, &json);
    token_with_json(f, header, &json, tok);
}

static void random_fields(fields f, int has_uis)
{
    size_t i;

    for (i = 0; i < HEM_CHECK_OUT; i++)
        f[i] = next_byte();
    if (!has_uis)
        memset(f + HEM_CHECK_UIS, 0, 32);
    if (memcmp(f + HEM_CHECK_ISS, f + HEM_CHECK_AUD, 32) == 0)
        f[HEM_CHECK_AUD] ^= 1;
}

/* Index of the second '.' of a token, or 0 when it has fewer than two. */
static size_t second_dot(const char *tok, size_t len)
{
    const char *d1 = len ? memchr(tok, '.', len) : NULL;
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
    return d2 ? (size_t)(d2 - tok) : 0;
}

/* ---- calling the scan ------------------------------------------------------------------------ */

/* A scan's outcome in one number, to compare and print: HEM_CHECK_OTHER, or what
 * hem_check_found holds as header | has_uis << 1 | signed_len << 2. */
#define OUTCOME_HEADER(r) ((int)((r) & 1))
#define OUTCOME_UIS(r) ((int)((r) >> 1 & 1))
#define OUTCOME_SIGNED(r) ((size_t)((r) >> 2))

static long expected_result(int header, int has_uis, size_t signed_len)
{
    return (long)header | (long)has_uis << 1 | (long)signed_len << 2;
}

/* hem_check_scan on an exact copy of the input, into exactly sized output blocks that
 * start out full of 0xA5 (so a field left unwritten shows). It returns 0 or
 * HEM_CHECK_OTHER, and on a match hem_check_found holds a header number and a flag. */
static long scan(const char *tok, size_t len, fields got)
{
    char *in = dup_exact(tok, len);
    unsigned char *out = xmalloc(HEM_CHECK_OUT);
    hem_check_found *found = xmalloc(sizeof *found);
    long outcome = HEM_CHECK_OTHER;
    int r;

    memset(out, 0xA5, HEM_CHECK_OUT);
    memset(found, 0xA5, sizeof *found);
    r = hem_check_scan(in, len, out, found);
    CHECKF(r == 0 || r == HEM_CHECK_OTHER, "an undocumented result %d", r);
    if (r == 0) {
        CHECKF((found->header == 0 || found->header == 1) &&
                   (found->has_uis == 0 || found->has_uis == 1),
               "header %d, has_uis %d", found->header, found->has_uis);
        outcome = expected_result(found->header, found->has_uis, found->signed_len);
    }
    memcpy(got, out, HEM_CHECK_OUT);
    free(found);
    free(out);
    free(in);
    return outcome;
}

/* The token must match with exactly these fields (uis zero when absent). */
static void expect_match(const text *tok, const fields want, int header, int has_uis,
                         const char *what)
{
    fields got;
    size_t k;
    long r = scan(tok->s, tok->n, got);

    CHECKF(r == expected_result(header, has_uis, second_dot(tok->s, tok->n)),
           "%s: got %ld, want header %d, uis %d, signed length %lu", what, r, header, has_uis,
           (unsigned long)second_dot(tok->s, tok->n));
    if (r == HEM_CHECK_OTHER)
        return;
    for (k = 0; k < CLAIMS; k++) {
        const struct claim_def *c = &claim_defs[k];
        if (k == UIS && !has_uis) {
            static const unsigned char zero[32];
            CHECKF(memcmp(got + c->offset, zero, 32) == 0, "%s: uis not zeroed", what);
        } else {
            CHECKF(memcmp(got + c->offset, want + c->offset, c->size) == 0, "%s: field %s", what,
                   c->name);
        }
    }
    CHECKF(memcmp(got + HEM_CHECK_SIG, want + HEM_CHECK_SIG, 32) == 0, "%s: signature", what);
}

static void expect_other(const char *tok, size_t len, const char *what)
{
    fields got;
    long r = scan(tok, len, got);
    CHECKF(r == HEM_CHECK_OTHER, "%s: got %ld", what, r);
}

/*
 * The key invariant, for any input: either HEM_CHECK_OTHER, or a result whose fields,
 * header and "uis" presence re-encode to exactly the input, with signed_len at its second
 * '.' and iss != aud. Returns the scan's result.
 */
static long expect_consistent(const char *tok, size_t len, const char *what, long detail)
{
    fields got;
    text again;
    long r = scan(tok, len, got);
    int header, has_uis;

    if (r == HEM_CHECK_OTHER) {
        CHECK(1);
        return r;
    }
    CHECKF(r >= 0, "%s (%ld): got %ld", what, detail, r);
    if (r < 0)
        return r;
    header = OUTCOME_HEADER(r);
    has_uis = OUTCOME_UIS(r);
    CHECKF(OUTCOME_SIGNED(r) == second_dot(tok, len), "%s (%ld): signed length %lu", what,
           detail, (unsigned long)OUTCOME_SIGNED(r));
    CHECKF(memcmp(got + HEM_CHECK_ISS, got + HEM_CHECK_AUD, 32) != 0, "%s (%ld): iss == aud",
           what, detail);
    if (!has_uis) {
        static const unsigned char zero[32];
        CHECKF(memcmp(got + HEM_CHECK_UIS, zero, 32) == 0, "%s (%ld): uis not zeroed", what,
               detail);
    }
    canonical_token(got, header, has_uis, &again);
    CHECKF(again.n == len && memcmp(again.s, tok, len) == 0,
           "%s (%ld): matched, but the decoded fields encode to another token", what, detail);
    return r;
}

/* ---- the sample ------------------------------------------------------------------------------- */

/* The decoded claims of sample_token (tests/vectors/seed_check.json) and its signature. */
static const char *const sample_hex[9] = {
    "90803762b0806e2d6f094d61f32a67d8ab6cd5048339050a36c6942205a84abd", /* jti */
    "d244660a589442f4707f18bb4f57a4d86b5b4844733054462dec8ed6bd6d117a", /* iss */
    "7ba3c0bc266b98c7347d44f42b398bec8dd3233e90140e0906362c944f5ffbf0", /* qid */
    "fcb6f1a3932053a64eb55b31c46e63090e7ee1ec31a1ad6b57c7aa3081459d30", /* aud */
    "67e9006a381555d48c423348bcae451b3d3ef6b7ff26eb550a5358e92ec605e4"   /* fws */
    "3beb934c6044ff5e0740eb5726324d79c1ac34f2834bb96994ca01cadf158508",
    "f0cc28c2c2a4c601169e5da4d2dfde3afb234db47bd29a180b6733c8f2302a7f"   /* bls */
    "e154bebc585dd0690c19d5bc55718bfb83c584c32cc9d8f5674c5025610ee106",
    "e86876702a922741942d0284d4389ba18d4eb02f2b339fb5c4f65c9429e1b6ba", /* uis */
    "29fb1a28abcd9782ef3e2825d0698606",                                 /* csn */
    "767d9cc01383a142a418aaebf76216d77360560ee3fa1e9518efad9c00ea8a7b", /* signature */
};

static void from_hex_exact(const char *hex, unsigned char *dst, size_t n)
{
    if (from_hex(hex, dst, n) != n)
        fatal("hex constant of the wrong length");
}

static void sample_fields(fields f)
{
    size_t k;

    for (k = 0; k < CLAIMS; k++)
        from_hex_exact(sample_hex[k], f + claim_defs[k].offset, claim_defs[k].size);
    from_hex_exact(sample_hex[8], f + HEM_CHECK_SIG, 32);
}

static void sample_text(text *tok)
{
    tok->n = 0;
    put(tok, sample_token, sizeof sample_token - 1u);
}

static void test_sample(void)
{
    fields f;
    text tok, built;

    sample_fields(f);
    sample_text(&tok);
    CHECK(tok.n == 761 && second_dot(tok.s, tok.n) == 717);
    expect_match(&tok, f, 0, 1, "sample");
    CHECK(expect_consistent(tok.s, tok.n, "sample", 0) == expected_result(0, 1, 717));

    /* The encoder here builds the sample itself from its fields: the template is right. */
    canonical_token(f, 0, 1, &built);
    CHECK(built.n == tok.n && memcmp(built.s, tok.s, tok.n) == 0);

    /* The same fields under the other header, and without "uis". */
    canonical_token(f, 1, 1, &built);
    expect_match(&built, f, 1, 1, "sample fields, header 1");
    memset(f + HEM_CHECK_UIS, 0, 32);
    canonical_token(f, 0, 0, &built);
    CHECK(built.n == 690 && second_dot(built.s, built.n) == 646);
    expect_match(&built, f, 0, 0, "sample fields without uis");
    canonical_token(f, 1, 0, &built);
    expect_match(&built, f, 1, 0, "sample fields without uis, header 1");
}

/* ---- valid tokens ------------------------------------------------------------------------------ */

static void test_random_valid(void)
{
    unsigned char *decoded = xmalloc(hem_b64_decoded_max(761));
    int i;

    for (i = 0; i < 400; i++) {
        int header = i & 1, has_uis = (i >> 1) & 1;
        fields f;
        text tok;
        hem_token_parts parts;
        ptrdiff_t total;

        random_fields(f, has_uis);
        if (i < 4) {
            /* the extremes: every value all zero bits, then all one bits (aud apart) */
            memset(f, i < 2 ? 0x00 : 0xff, HEM_CHECK_OUT);
            f[HEM_CHECK_AUD] ^= 1;
            if (!has_uis)
                memset(f + HEM_CHECK_UIS, 0, 32);
        }
        canonical_token(f, header, has_uis, &tok);
        CHECKF(tok.n == (has_uis ? 761u : 690u), "random %d: length %lu", i,
               (unsigned long)tok.n);
        expect_match(&tok, f, header, has_uis, "random valid token");

        /* The signed length is where hemcodec's splitter puts the second '.'. */
        total = hem_token_decode(tok.s, tok.n, decoded, hem_b64_decoded_max(761), &parts, NULL);
        CHECKF(total == (ptrdiff_t)(43u + (has_uis ? 493u : 440u) + 32u) &&
                   parts.dot2 == second_dot(tok.s, tok.n),
               "random %d", i);
    }
    free(decoded);
}

/* Only iss == aud is refused; other equal claims are the shape all the same. */
static void test_equal_claims(void)
{
    fields f;
    text tok;

    random_fields(f, 1);
    memcpy(f + HEM_CHECK_AUD, f + HEM_CHECK_ISS, 32);
    canonical_token(f, 0, 1, &tok);
    expect_other(tok.s, tok.n, "iss == aud");
    canonical_token(f, 1, 0, &tok);
    expect_other(tok.s, tok.n, "iss == aud, header 1, no uis");

    f[HEM_CHECK_AUD + 31] ^= 0x01;
    canonical_token(f, 0, 1, &tok);
    expect_match(&tok, f, 0, 1, "iss and aud differ in the last bit");
    f[HEM_CHECK_AUD + 31] ^= 0x01;
    f[HEM_CHECK_AUD] ^= 0x80;
    canonical_token(f, 0, 1, &tok);
    expect_match(&tok, f, 0, 1, "iss and aud differ in the first bit");

    random_fields(f, 1);
    memcpy(f + HEM_CHECK_JTI, f + HEM_CHECK_ISS, 32);
    memcpy(f + HEM_CHECK_QID, f + HEM_CHECK_ISS, 32);
    memcpy(f + HEM_CHECK_UIS, f + HEM_CHECK_AUD, 32);
    canonical_token(f, 0, 1, &tok);
    expect_match(&tok, f, 0, 1, "jti == qid == iss, uis == aud");
}

/* ---- token-level refusals ----------------------------------------------------------------------- */

static void test_null_and_empty(void)
{
    unsigned char *out = xmalloc(HEM_CHECK_OUT);
    hem_check_found found;

    CHECK(hem_check_scan(NULL, 0, out, &found) == HEM_CHECK_OTHER);
    expect_other("", 0, "empty");
    expect_other("..", 2, "two dots");
    free(out);
}

/* Every prefix is refused, the full token matches; so do a byte added at either end. */
static void test_lengths(const text *tok, const char *label)
{
    static const char extra[] = {'A', '.', '=', '\0', '\n', ' ', '_'};
    text probe;
    size_t n, e;

    for (n = 0; n < tok->n; n++)
        expect_other(tok->s, n, label);
    CHECKF(expect_consistent(tok->s, tok->n, label, 0) != HEM_CHECK_OTHER, "%s", label);

    for (e = 0; e < sizeof extra; e++) {
        edit(tok, tok->n, 0, &extra[e], 1, &probe);
        expect_other(probe.s, probe.n, label);
        edit(tok, 0, 0, &extra[e], 1, &probe);
        expect_other(probe.s, probe.n, label);
    }
    edit(tok, tok->n, 0, ".AAAA", 5, &probe);
    expect_other(probe.s, probe.n, label);
}

/*
 * Every single-byte substitution at every position: each result is either refused or the
 * canonical encoding of what it decodes to. Substitutions in the header and at either '.'
 * are always refused; base64url characters inside the signature, except its last one
 * (which carries two unused bits), always give another valid token.
 */
static void test_substitutions(const text *tok, const char *label)
{
    static const unsigned char replacements[] = {'A', '.', '=', '+', '/', '-', '_',  ' ',
                                                 '"', '\\', 0x80, 0xff, '\0', 0 /* neighbour */};
    const size_t dot1 = 58, dot2 = second_dot(tok->s, tok->n);
    char *probe = dup_exact(tok->s, tok->n);
    unsigned long matched = 0;
    size_t pos, k;

    for (pos = 0; pos < tok->n; pos++) {
        char original = tok->s[pos];
        for (k = 0; k < sizeof replacements; k++) {
            char c = (char)replacements[k];
            long r;
            if (k == sizeof replacements - 1u) {
                int i = alphabet_index(url_alphabet, original);
                if (i < 0)
                    continue;
                c = url_alphabet[(i + 1) % 64];
            }
            if (c == original)
                continue;
            probe[pos] = c;
            r = expect_consistent(probe, tok->n, label, (long)pos);
            if (pos <= dot1 || pos == dot2)
                CHECKF(r == HEM_CHECK_OTHER, "%s: byte 0x%02x at %lu matched", label,
                       (unsigned char)c, (unsigned long)pos);
            if (pos > dot2 && pos + 1u < tok->n && alphabet_index(url_alphabet, c) >= 0)
                CHECKF(r != HEM_CHECK_OTHER, "%s: signature character '%c' at %lu refused",
                       label, c, (unsigned long)pos);
            matched += r != HEM_CHECK_OTHER;
            probe[pos] = original;
        }
    }
    printf("%s: %lu single-byte substitutions still matched, each the exact encoding of its "
           "fields\n",
           label, matched);
    free(probe);
}

/* Non-canonical base64url in each segment: the last character with an unused bit set. */
static void test_segment_trailing_bits(const text *tok, const char *label)
{
    const size_t ends[3] = {57, second_dot(tok->s, tok->n) - 1u, tok->n - 1u};
    char *probe = dup_exact(tok->s, tok->n);
    size_t s;

    for (s = 0; s < 3; s++) {
        int i = alphabet_index(url_alphabet, tok->s[ends[s]]);
        if (i < 0)
            fatal("segment end is not base64url");
        probe[ends[s]] = url_alphabet[i ^ 1];
        expect_other(probe, tok->n, label);
        probe[ends[s]] = tok->s[ends[s]];
    }
    free(probe);
}

static void test_headers(void)
{
    static const char *const refused[] = {
        "{\"alg\":\"HS256\",\"ecdh\":\"x25519\"}",
        "{\"ecdh\":\"x25519\",\"alg\":\"HS256\"}",                      /* typ missing */
        "{\"ecdh\":\"x25519\",\"typ\":\"JWT\"}",                        /* alg missing */
        "{\"typ\":\"JWT\",\"ecdh\":\"x25519\",\"alg\":\"HS256\"}",      /* same length */
        "{\"ecdh\":\"x25519\",\"typ\":\"JWT\",\"alg\":\"HS384\"}",      /* same length */
        "{\"ecdh\":\"X25519\",\"typ\":\"JWT\",\"alg\":\"HS256\"}",      /* same length */
        "{\"ecdh\":\"x25519\",\"typ\":\"JWS\",\"alg\":\"HS256\"}",      /* same length */
        "{\"ecdh\":\"x25519\",\"typ\":\"JWT\",\"alg\":\"HS256\"} ",
        "{\"ecdh\":\"x25519\", \"typ\":\"JWT\",\"alg\":\"HS256\"}",
        "{\"ecdh\":\"x25519\",\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"1\"}",
        "{\"ecdh\":\"x25519\",\"typ\":\"JWT\",\"alg\":\"HS256\"",
        "{\"ecdh\":\"x25519\",\"typ\":\"JWT\",\"alg\":\"none\"}",
        "{}",
        "",
    };
    static const unsigned char replacements[] = {' ', '"', 'A', 'a', '{', '}', 0x80, '\0'};
    fields f;
    text json, tok;
    char header[64];
    size_t i, h, pos, k;

    random_fields(f, 1);
    canonical_json(f, 1, &json);
    for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        put_token(&tok, refused[i], strlen(refused[i]), &json, f + HEM_CHECK_SIG, 32);
        expect_other(tok.s, tok.n, refused[i]);
    }

    /* Every single-byte change of either header's JSON. */
    for (h = 0; h < 2; h++) {
        size_t n = strlen(headers[h]);
        memcpy(header, headers[h], n);
        for (pos = 0; pos < n; pos++) {
            for (k = 0; k < sizeof replacements; k++) {
                if ((char)replacements[k] == headers[h][pos])
                    continue;
                header[pos] = (char)replacements[k];
                put_token(&tok, header, n, &json, f + HEM_CHECK_SIG, 32);
                CHECKF(expect_consistent(tok.s, tok.n, "header byte", (long)pos) ==
                           HEM_CHECK_OTHER,
                       "header %lu, byte %lu changed", (unsigned long)h, (unsigned long)pos);
            }
            header[pos] = headers[h][pos];
        }
    }
}

static void test_signature_sizes(void)
{
    static const size_t sizes[] = {0, 1, 31, 33, 48, 64};
    unsigned char sig[64];
    fields f;
    text json, tok;
    size_t i;

    random_fields(f, 1);
    canonical_json(f, 1, &json);
    for (i = 0; i < sizeof sig; i++)
        sig[i] = next_byte();
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char what[40];
        sprintf(what, "%lu-byte signature", (unsigned long)sizes[i]);
        put_token(&tok, headers[0], strlen(headers[0]), &json, sig, sizes[i]);
        expect_other(tok.s, tok.n, what);
    }
    memcpy(f + HEM_CHECK_SIG, sig, 32);
    put_token(&tok, headers[0], strlen(headers[0]), &json, sig, 32);
    expect_match(&tok, f, 0, 1, "32-byte signature");
}

/* ---- payload JSON refusals -------------------------------------------------------------------- */

/* Replace the first occurrence of `from` in the JSON by `to`; the result must be refused.
 * The header number follows has_uis, so that both headers are covered. */
static void expect_json_refused(const fields f, int has_uis, const char *from, const char *to)
{
    text json, changed, tok;
    char what[128];

    canonical_json(f, has_uis, &json);
    edit(&json, find(&json, from), strlen(from), to, strlen(to), &changed);
    token_with_json(f, has_uis, &changed, &tok);
    sprintf(what, "%s JSON: '%.40s' -> '%.40s'", has_uis ? "uis" : "no-uis", from, to);
    expect_other(tok.s, tok.n, what);
}

static void test_json_text(void)
{
    /* Whitespace, escapes, renamed / duplicated / extra members, broken structure; each
     * applied to the first occurrence in the canonical JSON. */
    static const char *const edits[][2] = {
        {"{\"jti\"", "{ \"jti\""},
        {"{\"jti\"", " {\"jti\""},
        {"\"jti\":", "\"jti\" :"},
        {"\"jti\":\"", "\"jti\": \""},
        {",\"iss\"", ", \"iss\""},
        {",\"aud\"", ",\t\"aud\""},
        {",\"csn\"", ",\n\"csn\""},
        {"\"}", "\" }"},
        {"\"}", "\"}\n"},
        {"\"}", "\"} "},
        {"\"}", "\"}\r"},
        {"\"jti\"", "\"\\u006ati\""},                 /* an escaped name */
        {"\"jti\"", "\"jtx\""},                       /* renamed, same length */
        {"\"iss\"", "\"ISS\""},
        {"\"qid\"", "\"iss\""},                       /* a duplicate, same length */
        {"\"aud\"", "\"qid\""},
        {"\"fws\"", "\"bls\""},
        {"\"csn\"", "\"uis\""},
        {"\"}", "\",\"x\":\"y\"}"},                   /* an extra member after csn */
        {"{\"jti\"", "{\"x\":\"y\",\"jti\""},          /* an extra member before jti */
        {"\"}", "\",\"csn\":\"\"}"},                  /* csn twice */
        {"\"}", "\"}}"},
        {"{", "["},
        {"\"}", "\"]"},
        {"\":\"", "\":[\""},
        {",", ";"},
        {"\"jti\":\"", "\"jti\":"},                   /* quotes lost */
        {"{\"jti\"", "{'jti'"},
    };
    fields f;
    size_t i;
    int has_uis;

    /* jti starts with "////": a value with '/' to escape. */
    random_fields(f, 1);
    f[HEM_CHECK_JTI] = f[HEM_CHECK_JTI + 1] = f[HEM_CHECK_JTI + 2] = 0xff;
    for (has_uis = 0; has_uis < 2; has_uis++) {
        if (!has_uis)
            memset(f + HEM_CHECK_UIS, 0, 32);
        for (i = 0; i < sizeof edits / sizeof edits[0]; i++)
            expect_json_refused(f, has_uis, edits[i][0], edits[i][1]);
        expect_json_refused(f, has_uis, "/", "\\/");
        expect_json_refused(f, has_uis, "/", "\\u002f");
        expect_json_refused(f, has_uis, "/", "\\u002F");
        expect_json_refused(f, has_uis, "=\"", "\\u003d\"");
        expect_json_refused(f, has_uis, "\"jti\":\"/", "\"jti\":\"\\/");
    }

    /* uis-only edits. */
    random_fields(f, 1);
    expect_json_refused(f, 1, "\"uis\"", "\"uiz\"");
    expect_json_refused(f, 1, "\"uis\"", "\"UIS\"");
    {
        /* an escaped letter inside a value: "\u00XX" for its first character */
        text json;
        char esc[8], first[2];
        canonical_json(f, 1, &json);
        first[0] = json.s[find(&json, "\"iss\":\"") + 7];
        first[1] = '\0';
        sprintf(esc, "\\u%04x", (unsigned char)first[0]);
        expect_json_refused(f, 1, first, esc);
    }
}

/* Builds a token from an explicit member list; the result must be refused. */
static void expect_members_refused(const fields f, int header, const struct member *m,
                                   size_t count, const char *what)
{
    text json, tok;

    put_payload(&json, m, count);
    token_with_json(f, header, &json, &tok);
    expect_other(tok.s, tok.n, what);
}

static void swap_members(struct member *m, size_t a, size_t b)
{
    struct member t = m[a];
    m[a] = m[b];
    m[b] = t;
}

static void test_members(void)
{
    static const unsigned char big[66] = {0};
    fields f;
    struct member m[CLAIMS + 1];
    size_t count, i;
    int has_uis;
    text json, tok;

    for (has_uis = 0; has_uis < 2; has_uis++) {
        random_fields(f, has_uis);

        /* Control: the member list as it is gives the canonical token. */
        count = members_of(f, has_uis, m);
        put_payload(&json, m, count);
        token_with_json(f, 0, &json, &tok);
        expect_match(&tok, f, 0, has_uis, "member list as built");

        /* Out of order: neighbours swapped, and first with last. */
        for (i = 0; i + 1u < count; i++) {
            count = members_of(f, has_uis, m);
            swap_members(m, i, i + 1u);
            expect_members_refused(f, 0, m, count, "neighbouring claims swapped");
        }
        count = members_of(f, has_uis, m);
        swap_members(m, 0, count - 1u);
        expect_members_refused(f, 1, m, count, "first and last claims swapped");

        /* A claim missing, each in turn; without "uis" that is the other valid form. */
        for (i = 0; i < count; i++) {
            count = members_of(f, has_uis, m);
            memmove(&m[i], &m[i + 1u], (count - i - 1u) * sizeof m[0]);
            if (has_uis && i == UIS) {
                fields without;
                memcpy(without, f, HEM_CHECK_OUT);
                memset(without + HEM_CHECK_UIS, 0, 32);
                put_payload(&json, m, count - 1u);
                token_with_json(f, 0, &json, &tok);
                expect_match(&tok, without, 0, 0, "uis left out");
                continue;
            }
            expect_members_refused(f, 0, m, count - 1u, "a claim missing");
        }

        /* Each claim with a value one byte short or long, or empty; 31 and 33 bytes of
         * base64 have the 44 characters of 32, 65 and 66 bytes the 88 of 64, 17 and 18
         * bytes the 24 of 16: the same token length as the canonical one. */
        for (i = 0; i < count; i++) {
            static const int deltas[] = {-1, 1, 2};
            size_t d;
            for (d = 0; d < sizeof deltas / sizeof deltas[0]; d++) {
                char what[64];
                count = members_of(f, has_uis, m);
                m[i].size = (size_t)((int)m[i].size + deltas[d]);
                if (deltas[d] > 0) /* more bytes than f holds there */
                    m[i].value = big;
                sprintf(what, "%s of %lu bytes", m[i].name, (unsigned long)m[i].size);
                expect_members_refused(f, 0, m, count, what);
            }
            count = members_of(f, has_uis, m);
            m[i].size = 0;
            expect_members_refused(f, 0, m, count, "an empty value");
        }

        /* An extra member, after csn, before jti, and in the place of uis. */
        count = members_of(f, has_uis, m);
        m[count].name = "xyz";
        m[count].value = f;
        m[count].size = 32;
        expect_members_refused(f, 0, m, count + 1u, "an extra member after csn");
        count = members_of(f, has_uis, m);
        memmove(&m[1], &m[0], count * sizeof m[0]);
        m[0].name = "xyz";
        m[0].value = f;
        m[0].size = 32;
        expect_members_refused(f, 0, m, count + 1u, "an extra member before jti");
    }

    /* Without uis, a member of uis's size in its place makes the with-uis length. */
    random_fields(f, 0);
    count = members_of(f, 0, m);
    memmove(&m[UIS + 1u], &m[UIS], (count - UIS) * sizeof m[0]);
    m[UIS].name = "xyz";
    m[UIS].value = f;
    m[UIS].size = 32;
    put_payload(&json, m, count + 1u);
    CHECK(json.n == 493);
    token_with_json(f, 0, &json, &tok);
    expect_other(tok.s, tok.n, "another 32-byte member where uis goes");

    /* uis present but empty, and uis with csn's size. */
    m[UIS].name = "uis";
    m[UIS].size = 0;
    expect_members_refused(f, 0, m, count + 1u, "uis present but empty");
    m[UIS].size = 16;
    expect_members_refused(f, 0, m, count + 1u, "uis of 16 bytes");

    /* uis after csn, in a token that has it. */
    random_fields(f, 1);
    count = members_of(f, 1, m);
    swap_members(m, UIS, UIS + 1u);
    expect_members_refused(f, 0, m, count, "uis after csn");

    /* All claims at their sizes, but csn twice instead of uis. */
    count = members_of(f, 1, m);
    m[UIS].name = "csn";
    expect_members_refused(f, 0, m, count, "csn in uis's place");
}

/* Each value's last data character with an unused bit set: non-canonical base64. The top
 * bit of the same character (a used one) gives another valid token, as a control. */
static void test_value_trailing_bits(void)
{
    fields f;
    text json, changed, tok;
    size_t k;

    random_fields(f, 1);
    canonical_json(f, 1, &json);
    for (k = 0; k < CLAIMS; k++) {
        char key[16], c;
        size_t start, last;
        int i;

        sprintf(key, "\"%s\":\"", claim_defs[k].name);
        start = find(&json, key) + strlen(key);
        last = start + hem_b64_encoded_len(claim_defs[k].size) - 1u;
        while (json.s[last] == '=')
            last--;
        i = alphabet_index(std_alphabet, json.s[last]);
        if (i < 0)
            fatal("value does not end in base64");

        c = std_alphabet[i ^ 1];
        edit(&json, last, 1, &c, 1, &changed);
        token_with_json(f, 0, &changed, &tok);
        expect_other(tok.s, tok.n, claim_defs[k].name);

        c = std_alphabet[i ^ 32];
        edit(&json, last, 1, &c, 1, &changed);
        token_with_json(f, 0, &changed, &tok);
        CHECKF(expect_consistent(tok.s, tok.n, claim_defs[k].name, (long)k) != HEM_CHECK_OTHER,
               "%s: a used bit changed", claim_defs[k].name);

        /* The padding taken for data: one byte more, the same length. */
        c = 'A';
        edit(&json, last + 1u, 1, &c, 1, &changed);
        token_with_json(f, 0, &changed, &tok);
        expect_other(tok.s, tok.n, claim_defs[k].name);
    }
}

/*
 * Every single-byte change of the payload JSON, at every position: the result is refused
 * or is the exact encoding of its fields; changes outside the values (braces, commas,
 * quotes, names) are always refused.
 */
static void test_json_substitutions(int has_uis)
{
    static const unsigned char replacements[] = {'A', 'z', '0', '+', '/', '=', '"', ',', ':',
                                                 '{', '}', ' ', '\\', '-', 0x80, '\0'};
    fields f;
    text json, changed, tok;
    unsigned char *in_value;
    unsigned long matched = 0;
    size_t pos, k;

    random_fields(f, has_uis);
    canonical_json(f, has_uis, &json);
    in_value = calloc(json.n, 1);
    if (!in_value)
        fatal("out of memory");
    for (k = 0; k < CLAIMS; k++) {
        char key[16];
        size_t start, i;
        if (k == UIS && !has_uis)
            continue;
        sprintf(key, "\"%s\":\"", claim_defs[k].name);
        start = find(&json, key) + strlen(key);
        for (i = 0; i < hem_b64_encoded_len(claim_defs[k].size); i++)
            in_value[start + i] = 1;
    }

    changed = json;
    for (pos = 0; pos < json.n; pos++) {
        for (k = 0; k < sizeof replacements; k++) {
            long r;
            if ((char)replacements[k] == json.s[pos])
                continue;
            changed.s[pos] = (char)replacements[k];
            token_with_json(f, 1, &changed, &tok);
            r = expect_consistent(tok.s, tok.n, "JSON byte", (long)pos);
            if (!in_value[pos])
                CHECKF(r == HEM_CHECK_OTHER, "JSON byte %lu ('%c') -> 0x%02x matched",
                       (unsigned long)pos, json.s[pos], replacements[k]);
            matched += r != HEM_CHECK_OTHER;
        }
        changed.s[pos] = json.s[pos];
    }
    printf("payload JSON %s uis: %lu single-byte changes still matched, each the exact "
           "encoding of its fields\n",
           has_uis ? "with" : "without", matched);
    free(in_value);
}

/* Random tokens with a few random bytes changed: the invariant holds for each. */
static void test_random_mutations(void)
{
    static const char extra[] = ".=+/-_ \"\\{}:,";
    int i;

    for (i = 0; i < 4000; i++) {
        int header = next_byte() & 1, has_uis = next_byte() & 1, changes = 1 + next_byte() % 3;
        fields f;
        text tok, json;
        int j;

        random_fields(f, has_uis);
        if (i % 2) {
            /* change the token text */
            canonical_token(f, header, has_uis, &tok);
            for (j = 0; j < changes; j++) {
                size_t pos = ((size_t)next_byte() << 8 | next_byte()) % tok.n;
                unsigned char r = next_byte();
                tok.s[pos] = r < 200 ? url_alphabet[r % 64] : extra[r % (sizeof extra - 1u)];
            }
        } else {
            /* change the JSON */
            canonical_json(f, has_uis, &json);
            for (j = 0; j < changes; j++) {
                size_t pos = ((size_t)next_byte() << 8 | next_byte()) % json.n;
                unsigned char r = next_byte();
                json.s[pos] = r < 200 ? std_alphabet[r % 64] : extra[r % (sizeof extra - 1u)];
            }
            token_with_json(f, header, &json, &tok);
        }
        expect_consistent(tok.s, tok.n, "random mutation", (long)i);
    }
}

int main(void)
{
    fields f;
    text tok;

    test_null_and_empty();
    test_sample();
    test_random_valid();
    test_equal_claims();

    sample_text(&tok);
    test_lengths(&tok, "sample");
    test_substitutions(&tok, "sample (header 0, uis)");
    test_segment_trailing_bits(&tok, "sample");

    random_fields(f, 0);
    canonical_token(f, 1, 0, &tok);
    test_lengths(&tok, "header 1, no uis");
    test_substitutions(&tok, "header 1, no uis");
    test_segment_trailing_bits(&tok, "header 1, no uis");

    test_headers();
    test_signature_sizes();
    test_json_text();
    test_members();
    test_value_trailing_bits();
    test_json_substitutions(1);
    test_json_substitutions(0);
    test_random_mutations();

    printf("%lu passed, %lu failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
