/*
 * libFuzzer target: hem_checked_sign, hem_check_answer and hem_checked_len, the backend's
 * reply written whole (csrc/hemreply.h).
 *
 * Each input is read as the fields of one reply: which optional claims are present, the
 * action (one of the six, or a near miss: lower case, too long, empty, bytes from the
 * input), iat (within 2**53 - 1 or anywhere), the header segment (the check's, bytes from
 * the input, or 256 / 257 'A's), a certificate of 0 to 3199 bytes, the key, jti, iss, aud,
 * newfws and newuis (bytes from the input, cycled, so short inputs give iss == aud), and a
 * check text with its MAC. A reference written from the header alone decides whether the
 * fields are valid and, if so, builds the token: the JSON by hand, its base64 and
 * base64url by a slow bit-at-a-time encoder that shares nothing with csrc/hemcodec.c, and
 * the MAC by hem_hmac_sha256 (fuzzed on its own by the mac target).
 *
 * For every input:
 *   - invalid fields: both functions return HEM_REPLY_E_FIELD and leave the output as it
 *     was, whatever the room and whatever the MAC;
 *   - valid fields: hem_checked_len is the reference token's length; into exactly that
 *     much room, both functions write the reference token byte for byte (hem_check_answer
 *     under the right MAC); one byte less is HEM_E_SPACE; a MAC with one bit changed is
 *     HEM_REPLY_E_MAC; each refusal leaves the output as it was.
 * Any violation abort()s. At exit the target says how many inputs had valid fields.
 */
#include "fuzz_common.h"
#include "hemmac.h"
#include "hemreply.h"

#define FIELD_BYTES (32u * 4u + 64u + 32u)
#define CERT_ROOM 3200u
/* Room for the JSON of any reply the reference builds (every claim, the largest cert). */
#define JSON_ROOM 8192u

static unsigned long inputs_seen, inputs_valid;

static void say_counts(void)
{
    fprintf(stderr, "fuzz_reply: %lu of %lu inputs had valid fields\n", inputs_valid,
            inputs_seen);
}

/* The input read as a stream that starts over at its end (zeros from an empty input). */
typedef struct {
    const uint8_t *data;
    size_t n, pos;
} reader;

static uint8_t next_byte(reader *r)
{
    uint8_t b;

    if (r->n == 0)
        return 0;
    b = r->data[r->pos % r->n];
    r->pos++;
    return b;
}

static void next_bytes(reader *r, unsigned char *out, size_t k)
{
    size_t i;

    for (i = 0; i < k; i++)
        out[i] = next_byte(r);
}

/* base64 (padded) or base64url (unpadded) of n bytes, six bits at a time, most significant
 * first, from the alphabet string. Returns the characters written. */
static size_t ref_encode(const char *alphabet, int pad, const unsigned char *in, size_t n,
                         char *out)
{
    size_t bits = n * 8u, i, written = 0;

    for (i = 0; i < bits; i += 6u) {
        unsigned value = 0, b;
        for (b = 0; b < 6u; b++) {
            size_t bit = i + b;
            value = value << 1 | (bit < bits ? (in[bit / 8u] >> (7u - bit % 8u)) & 1u : 0u);
        }
        out[written++] = alphabet[value];
    }
    while (pad && written % 4u)
        out[written++] = '=';
    return written;
}

static size_t put_text(char *json, size_t at, const char *text)
{
    size_t k = strlen(text);
    memcpy(json + at, text, k);
    return at + k;
}

static size_t put_claim(char *json, size_t at, const char *open, const unsigned char *value,
                        size_t n)
{
    at = put_text(json, at, open);
    at += ref_encode(REF_STD, 1, value, n, json + at);
    return put_text(json, at, "\"");
}

typedef struct {
    unsigned char key[32], jti[32], iss[32], aud[32], newfws[64], newuis[32];
    unsigned char crt[CERT_ROOM];
    int has_crt, has_newfws, has_newuis;
    size_t crt_len;
    unsigned long long iat;
    char act[4];
    size_t act_len;
    char header[300];
    size_t header_len;
} fields;

static void read_fields(reader *r, fields *f)
{
    static const char *const actions[] = {"OK", "L", "W", "R", "B", "U", "ok", "OKK"};
    uint8_t flags = next_byte(r), modes = next_byte(r);
    unsigned choice = flags >> 3 & 7u;
    size_t i;

    f->has_crt = flags & 1;
    f->has_newfws = flags >> 1 & 1;
    f->has_newuis = flags >> 2 & 1;
    if (modes & 1) { /* the action from the input: 0 to 3 bytes */
        f->act_len = next_byte(r) % 4u;
        next_bytes(r, (unsigned char *)f->act, f->act_len);
    } else {
        f->act_len = strlen(actions[choice]);
        memcpy(f->act, actions[choice], f->act_len);
    }
    f->iat = 0;
    for (i = 0; i < 8u; i++)
        f->iat = f->iat << 8 | next_byte(r);
    if (modes & 2)
        f->iat %= HEM_REPLY_MAX_IAT + 1u; /* mostly within range */
    if (modes & 4)
        f->iat %= 1000u; /* short numbers */
    switch (modes >> 3 & 3u) {
    case 0:
    case 1:
        f->header_len = strlen("eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ");
        memcpy(f->header, "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ",
               f->header_len);
        break;
    case 2: /* characters of the base64url alphabet, or anything, from the input */
        f->header_len = next_byte(r) % 12u;
        for (i = 0; i < f->header_len; i++) {
            uint8_t b = next_byte(r);
            f->header[i] = (modes & 0x80) ? (char)b : REF_URL[b % 64u];
        }
        break;
    default:
        f->header_len = HEM_REPLY_MAX_HEADER + (modes >> 5 & 1u);
        memset(f->header, 'A', f->header_len);
    }
    f->crt_len = (size_t)(next_byte(r) << 8 | next_byte(r)) % CERT_ROOM;
    if (!f->has_crt)
        f->crt_len = 0;
    next_bytes(r, f->key, 32);
    next_bytes(r, f->jti, 32);
    next_bytes(r, f->iss, 32);
    next_bytes(r, f->aud, 32);
    next_bytes(r, f->newfws, 64);
    next_bytes(r, f->newuis, 32);
    next_bytes(r, f->crt, f->crt_len);
}

/* The rules of hemreply.h, restated. */
static int ref_valid(const fields *f)
{
    static const char *const actions[] = {"OK", "L", "W", "R", "B", "U"};
    unsigned char decoded[300];
    ref_result header;
    size_t k;
    int act_ok = 0;

    for (k = 0; k < 6u; k++)
        if (f->act_len == strlen(actions[k]) && memcmp(f->act, actions[k], f->act_len) == 0)
            act_ok = 1;
    if (!act_ok || memcmp(f->iss, f->aud, 32) == 0 || f->iat > 9007199254740991ULL)
        return 0;
    if (f->has_crt && (f->crt_len < 1u || f->crt_len > 3072u))
        return 0;
    if (f->header_len < 1u || f->header_len > 256u)
        return 0;
    header = ref_url_decode((const unsigned char *)f->header, f->header_len, decoded);
    return header.code == HEM_OK;
}

/* The reference token; returns its length. */
static size_t ref_token(const fields *f, char *token)
{
    static char json[JSON_ROOM];
    char number[24];
    unsigned char mac[HEM_SHA256_SIZE];
    size_t at = 0, signed_len;

    at = put_claim(json, at, "{\"jti\":\"", f->jti, 32);
    at = put_claim(json, at, ",\"iss\":\"", f->iss, 32);
    at = put_claim(json, at, ",\"aud\":\"", f->aud, 32);
    snprintf(number, sizeof number, "%llu", f->iat);
    at = put_text(json, at, ",\"iat\":");
    at = put_text(json, at, number);
    at = put_text(json, at, ",\"act\":\"");
    memcpy(json + at, f->act, f->act_len);
    at = put_text(json, at + f->act_len, "\"");
    if (f->has_crt)
        at = put_claim(json, at, ",\"crt\":\"", f->crt, f->crt_len);
    if (f->has_newfws)
        at = put_claim(json, at, ",\"newfws\":\"", f->newfws, 64);
    if (f->has_newuis)
        at = put_claim(json, at, ",\"newuis\":\"", f->newuis, 32);
    at = put_text(json, at, "}");
    REQUIRE(at < JSON_ROOM);

    memcpy(token, f->header, f->header_len);
    token[f->header_len] = '.';
    signed_len = f->header_len + 1u + ref_encode(REF_URL, 0, (const unsigned char *)json, at,
                                                   token + f->header_len + 1u);
    hem_hmac_sha256(f->key, 32, token, signed_len, mac);
    token[signed_len] = '.';
    return signed_len + 1u + ref_encode(REF_URL, 0, mac, sizeof mac, token + signed_len + 1u);
}

/* One call of either function on exactly sized copies of everything, into room bytes
 * (at an odd address) filled with 0xA5. With mac NULL: hem_checked_sign. Returns the
 * result; *out gets the allocation (free it), *text the output inside it. */
static ptrdiff_t call(const fields *f, const unsigned char *check_text, size_t check_len,
                      const unsigned char *mac, size_t room, unsigned char **out, char **text)
{
    unsigned char *key = exact_copy(f->key, 32), *jti = exact_copy(f->jti, 32);
    unsigned char *iss = exact_copy(f->iss, 32), *aud = exact_copy(f->aud, 32);
    unsigned char *crt = f->has_crt ? exact_copy(f->crt, f->crt_len) : NULL;
    unsigned char *newfws = f->has_newfws ? exact_copy(f->newfws, 64) : NULL;
    unsigned char *newuis = f->has_newuis ? exact_copy(f->newuis, 32) : NULL;
    unsigned char *act = exact_copy(f->act, f->act_len);
    unsigned char *header = exact_copy(f->header, f->header_len);
    ptrdiff_t r;

    *out = exact_alloc(room + 1u);
    *text = (char *)*out + 1;
    memset(*out, 0xA5, room + 1u);
    if (mac) {
        unsigned char *m = exact_copy(mac, 32), *c = exact_copy(check_text, check_len);
        r = hem_check_answer(key, (const char *)c, check_len, m, jti, iss, aud, f->iat,
                             (const char *)act, f->act_len, crt, f->crt_len, newfws, newuis,
                             (const char *)header, f->header_len, *text, room);
        free(c);
        free(m);
    } else {
        r = hem_checked_sign(key, jti, iss, aud, f->iat, (const char *)act, f->act_len, crt,
                             f->crt_len, newfws, newuis, (const char *)header, f->header_len,
                             *text, room);
    }
    free(header);
    free(act);
    free(newuis);
    free(newfws);
    free(crt);
    free(aud);
    free(iss);
    free(jti);
    free(key);
    return r;
}

static int untouched(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != 0xA5u)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static fields f;
    static char expected[HEM_REPLY_MAX_LEN + 64];
    reader r;
    unsigned char mac[HEM_SHA256_SIZE], *out;
    const unsigned char *check_text;
    size_t check_len, length;
    char *text;
    ptrdiff_t got;

    if (inputs_seen++ == 0)
        atexit(say_counts);
    r.data = data;
    r.n = n;
    r.pos = 0;
    read_fields(&r, &f);
    /* The check text: the input's tail, wherever the fields stopped reading. */
    check_len = n > r.pos ? n - r.pos : 0;
    check_text = check_len ? data + r.pos : (const unsigned char *)"";
    hem_hmac_sha256(f.key, 32, check_text, check_len, mac);

    if (!ref_valid(&f)) {
        got = call(&f, NULL, 0, NULL, HEM_REPLY_MAX_LEN, &out, &text);
        REQUIRE_MSG(got == HEM_REPLY_E_FIELD, "invalid fields signed");
        REQUIRE(untouched(out, HEM_REPLY_MAX_LEN + 1u));
        free(out);
        got = call(&f, check_text, check_len, mac, 0, &out, &text);
        REQUIRE_MSG(got == HEM_REPLY_E_FIELD, "invalid fields answered");
        REQUIRE(untouched(out, 1u));
        free(out);
        return 0;
    }
    inputs_valid++;
    length = ref_token(&f, expected);
    REQUIRE(length <= HEM_REPLY_MAX_LEN);
    REQUIRE_MSG(hem_checked_len(f.header_len, f.iat, f.act_len, f.crt_len, f.has_newfws,
                                f.has_newuis) == length,
                "hem_checked_len is not the token's length");

    got = call(&f, NULL, 0, NULL, length, &out, &text);
    REQUIRE_MSG(got == (ptrdiff_t)length && memcmp(text, expected, length) == 0,
                "hem_checked_sign differs from the reference");
    REQUIRE(out[0] == 0xA5u);
    free(out);
    got = call(&f, check_text, check_len, mac, length, &out, &text);
    REQUIRE_MSG(got == (ptrdiff_t)length && memcmp(text, expected, length) == 0,
                "hem_check_answer differs from the reference");
    free(out);

    got = call(&f, NULL, 0, NULL, length - 1u, &out, &text);
    REQUIRE(got == HEM_E_SPACE && untouched(out, length));
    free(out);
    got = call(&f, check_text, check_len, mac, length - 1u, &out, &text);
    REQUIRE(got == HEM_E_SPACE && untouched(out, length));
    free(out);

    mac[(size_t)f.iat % 32u] ^= (unsigned char)(1u << (f.iat % 8u));
    got = call(&f, check_text, check_len, mac, length, &out, &text);
    REQUIRE_MSG(got == HEM_REPLY_E_MAC && untouched(out, length + 1u),
                "a changed MAC was answered");
    free(out);
    return 0;
}
