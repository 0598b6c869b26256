/*
 * libFuzzer target: hem_check_scan, the matcher of the device check's exact shape.
 *
 * Every input gets two verdicts that must agree:
 *   - hem_check_scan's;
 *   - a reference matcher written from the shape in csrc/hemcheck.h alone. It splits the
 *     token at its two '.', decodes the segments with the slow reference decoders of
 *     fuzz_common.h and walks the payload JSON as a fixed sequence of literals and claim
 *     values. It shares no code or tables with csrc/hemcheck.c or csrc/hemcodec.c.
 * Both must match the same tokens with the same header, "uis" flag, signed length and
 * field bytes, and refuse all others with HEM_CHECK_OTHER.
 *
 * On a match, also: the fields re-encoded with the exact template (the header it names,
 * the claims in device order, "uis" only when flagged, then the signature) through
 * hem_b64_encode and hem_b64url_encode give the input byte for byte; the signed length is
 * the index of the second '.'; iss != aud; an absent "uis" leaves 32 zero bytes; the whole
 * output is the same whatever the buffer held before; hem_token_decode accepts the token
 * with the same header, payload and signature bytes. Any violation abort()s.
 *
 * A custom mutator makes five mutations in eight inside a segment: it decodes the header,
 * the payload or one claim value in the payload, mutates the decoded bytes and re-encodes
 * them, so that edits land in the JSON and the claim values instead of breaking the
 * base64url around them. One in eight builds a token in the shape from the input's bytes,
 * half of the time with one edit of its JSON. At exit the target says how many inputs
 * matched the shape.
 */
#include "fuzz_common.h"
#include "hemcheck.h"

#define CLAIMS 8
#define UIS_CLAIM 6
#define HEADER_BYTES 43u
#define SIG_BYTES 32u
#define JSON_ROOM 512u  /* longer than the payload JSON of any check in the shape */
#define TOKEN_ROOM 1024u /* longer than any check token in the shape */

static const char *const ref_headers[2] = {
    "{\"ecdh\":\"x25519\",\"typ\":\"JWT\",\"alg\":\"HS256\"}",
    "{\"ecdh\":\"x25519\",\"alg\":\"HS256\",\"typ\":\"JWT\"}",
};

typedef struct {
    const char *name;
    size_t offset, size;
} ref_claim;

static const ref_claim ref_claims[CLAIMS] = {
    {"jti", HEM_CHECK_JTI, 32}, {"iss", HEM_CHECK_ISS, 32}, {"qid", HEM_CHECK_QID, 32},
    {"aud", HEM_CHECK_AUD, 32}, {"fws", HEM_CHECK_FWS, 64}, {"bls", HEM_CHECK_BLS, 64},
    {"uis", HEM_CHECK_UIS, 32}, {"csn", HEM_CHECK_CSN, 16},
};

/* --- the reference matcher ---------------------------------------------------------------- */

/* Step over the literal lit at json[*pos]; 0 when the text there is something else. */
static int ref_literal(const unsigned char *json, size_t len, size_t *pos, const char *lit)
{
    size_t k = strlen(lit);

    if (len - *pos < k || memcmp(json + *pos, lit, k) != 0)
        return 0;
    *pos += k;
    return 1;
}

/* Step over a claim value: the text up to the next '"', which must be canonical standard
 * base64 of exactly size bytes (the reference decoder refuses any other text). scratch
 * holds len bytes. */
static int ref_claim_value(const unsigned char *json, size_t len, size_t *pos, size_t size,
                           unsigned char *dest, unsigned char *scratch)
{
    const unsigned char *start = json + *pos;
    const unsigned char *end = memchr(start, '"', len - *pos);
    ref_result r;

    if (end == NULL)
        return 0;
    r = ref_std_decode(start, (size_t)(end - start), scratch);
    if (r.code != HEM_OK || r.len != size)
        return 0;
    memcpy(dest, scratch, size);
    *pos += (size_t)(end - start);
    return 1;
}

/* The payload JSON against the template, filling the claim fields; -1 when it does not
 * fit, else whether "uis" is present. */
static int ref_payload(const unsigned char *json, size_t len, unsigned char *fields,
                       unsigned char *scratch)
{
    size_t pos = 0, k;
    int with_uis = 0;
    char lit[16];

    for (k = 0; k < CLAIMS; k++) {
        snprintf(lit, sizeof lit, "%s\"%s\":\"", k == 0 ? "{" : "\",", ref_claims[k].name);
        if (!ref_literal(json, len, &pos, lit)) {
            if (k == UIS_CLAIM)
                continue; /* optional: the next literal must be csn's */
            return -1;
        }
        if (!ref_claim_value(json, len, &pos, ref_claims[k].size, fields + ref_claims[k].offset,
                             scratch))
            return -1;
        if (k == UIS_CLAIM)
            with_uis = 1;
    }
    if (!ref_literal(json, len, &pos, "\"}") || pos != len)
        return -1;
    return with_uis;
}

/* hem_check_scan's contract restated: HEM_CHECK_OTHER, or 0 with the header, the "uis"
 * flag and the signed length in *found and every field in fields (HEM_CHECK_OUT bytes). */
static int ref_scan(const unsigned char *s, size_t n, unsigned char *fields,
                    hem_check_found *found)
{
    size_t dots[2], ndots = 0, i;
    unsigned char *header, *json, *sig;
    ref_result h, p, g;
    int result = HEM_CHECK_OTHER;
    int variant = -1, with_uis;

    for (i = 0; i < n; i++)
        if (s[i] == '.') {
            if (ndots < 2)
                dots[ndots] = i;
            ndots++;
        }
    if (ndots != 2)
        return HEM_CHECK_OTHER;
    header = exact_alloc(n);
    json = exact_alloc(n);
    sig = exact_alloc(n);
    h = ref_url_decode(s, dots[0], header);
    p = ref_url_decode(s + dots[0] + 1, dots[1] - dots[0] - 1, json);
    g = ref_url_decode(s + dots[1] + 1, n - dots[1] - 1, sig);
    if (h.code != HEM_OK || p.code != HEM_OK || g.code != HEM_OK || g.len != SIG_BYTES)
        goto done;
    for (i = 0; i < 2; i++)
        if (h.len == HEADER_BYTES && memcmp(header, ref_headers[i], HEADER_BYTES) == 0)
            variant = (int)i;
    if (variant < 0)
        goto done;
    memset(fields, 0, HEM_CHECK_OUT);
    memcpy(fields + HEM_CHECK_SIG, sig, SIG_BYTES);
    /* The header is known by now: its buffer serves as scratch for the claim values. */
    with_uis = ref_payload(json, p.len, fields, header);
    if (with_uis < 0)
        goto done;
    if (memcmp(fields + HEM_CHECK_ISS, fields + HEM_CHECK_AUD, 32) == 0)
        goto done;
    found->header = variant;
    found->has_uis = with_uis;
    found->signed_len = dots[1];
    result = 0;
done:
    free(sig);
    free(json);
    free(header);
    return result;
}

/* --- the template ------------------------------------------------------------------------- */

static void append(char *buf, size_t cap, size_t *len, const char *text, size_t k)
{
    REQUIRE(cap - *len >= k);
    memcpy(buf + *len, text, k);
    *len += k;
}

/* The payload JSON the template makes of the fields. Returns its length. */
static size_t template_json(const unsigned char *fields, int with_uis, char *json)
{
    size_t len = 0, k;
    ptrdiff_t w;
    char lit[16];

    for (k = 0; k < CLAIMS; k++) {
        const ref_claim *c = &ref_claims[k];
        if (k == UIS_CLAIM && !with_uis)
            continue;
        snprintf(lit, sizeof lit, "%s\"%s\":\"", k == 0 ? "{" : ",", c->name);
        append(json, JSON_ROOM, &len, lit, strlen(lit));
        w = hem_b64_encode(fields + c->offset, c->size, json + len, JSON_ROOM - len);
        REQUIRE(w == (ptrdiff_t)hem_b64_encoded_len(c->size));
        len += (size_t)w;
        append(json, JSON_ROOM, &len, "\"", 1);
    }
    append(json, JSON_ROOM, &len, "}", 1);
    return len;
}

/* header "." payload "." signature, each base64url. Returns the token's length. */
static size_t template_token(int variant, const char *json, size_t json_len,
                             const unsigned char *sig, char *token)
{
    size_t len = 0;
    ptrdiff_t w;

    w = hem_b64url_encode((const unsigned char *)ref_headers[variant], HEADER_BYTES, token,
                          TOKEN_ROOM);
    REQUIRE(w > 0);
    len += (size_t)w;
    append(token, TOKEN_ROOM, &len, ".", 1);
    w = hem_b64url_encode((const unsigned char *)json, json_len, token + len, TOKEN_ROOM - len);
    REQUIRE(w > 0);
    len += (size_t)w;
    append(token, TOKEN_ROOM, &len, ".", 1);
    w = hem_b64url_encode(sig, SIG_BYTES, token + len, TOKEN_ROOM - len);
    REQUIRE(w > 0);
    return len + (size_t)w;
}

/* Everything a match promises about the token and the decoded fields. */
static void check_match(const unsigned char *in, size_t n, const hem_check_found *found,
                        const unsigned char *out)
{
    int variant = found->header, with_uis = found->has_uis;
    size_t signed_len = found->signed_len, json_len, token_len, k;
    const unsigned char *dot1 = memchr(in, '.', n), *dot2;
    char json[JSON_ROOM], token[TOKEN_ROOM];

    REQUIRE_MSG(dot1 != NULL, "matched a token without a '.'");
    dot2 = memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - in));
    REQUIRE_MSG(dot2 != NULL, "matched a token with one '.'");
    REQUIRE_MSG(signed_len == (size_t)(dot2 - in),
                "the signed length is not the index of the second '.'");
    REQUIRE_MSG(memcmp(out + HEM_CHECK_ISS, out + HEM_CHECK_AUD, 32) != 0,
                "matched a check whose iss equals its aud");
    if (!with_uis)
        for (k = 0; k < 32; k++)
            REQUIRE_MSG(out[HEM_CHECK_UIS + k] == 0, "uis absent but its bytes are not zero");

    json_len = template_json(out, with_uis, json);
    token_len = template_token(variant, json, json_len, out + HEM_CHECK_SIG, token);
    if (token_len != n || memcmp(token, in, n) != 0)
        fprintf(stderr, "hemfuzz: the template gives (%zu bytes)\n%.*s\n", token_len,
                (int)token_len, token);
    REQUIRE_MSG(token_len == n && memcmp(token, in, n) == 0,
                "the decoded fields do not re-encode to the token");

    /* The general splitter agrees on every segment. */
    {
        size_t cap = hem_b64_decoded_max(n);
        unsigned char *blob = exact_alloc(cap);
        hem_token_parts parts;
        ptrdiff_t w = hem_token_decode((const char *)in, n, blob, cap, &parts, NULL);

        REQUIRE_MSG(w >= 0, "hem_token_decode refuses a matched token");
        REQUIRE(parts.dot2 == signed_len);
        REQUIRE(parts.header_len == HEADER_BYTES &&
                memcmp(blob, ref_headers[variant], HEADER_BYTES) == 0);
        REQUIRE(parts.payload_len == json_len && memcmp(blob + HEADER_BYTES, json, json_len) == 0);
        REQUIRE(parts.signature_len == SIG_BYTES &&
                memcmp(blob + HEADER_BYTES + json_len, out + HEM_CHECK_SIG, SIG_BYTES) == 0);
        free(blob);
    }
}

/* A verdict in words, for the log of a finding. */
static const char *describe(int result, const hem_check_found *found, char *text, size_t cap)
{
    if (result != 0)
        snprintf(text, cap, "a refusal (%d)", result);
    else
        snprintf(text, cap, "header %d, %s uis, signed length %zu", found->header,
                 found->has_uis ? "with" : "without", found->signed_len);
    return text;
}

/* How many inputs matched, said at exit: a run where none did tested little. */
static unsigned long inputs_run, inputs_matched;

static void say_matches(void)
{
    fprintf(stderr, "fuzz_check: %lu of %lu inputs matched the shape\n", inputs_matched,
            inputs_run);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    unsigned char *in = exact_copy(data, n);
    unsigned char *out = exact_alloc(HEM_CHECK_OUT);
    unsigned char *again = exact_alloc(HEM_CHECK_OUT);
    hem_check_found *found = (hem_check_found *)(void *)exact_alloc(sizeof *found);
    unsigned char ref_fields[HEM_CHECK_OUT];
    hem_check_found found_again, ref_found;
    int got, want;

    if (inputs_run++ == 0)
        atexit(say_matches);
    memset(out, 0xA5, HEM_CHECK_OUT);
    got = hem_check_scan((const char *)in, n, out, found);
    REQUIRE_MSG(got == HEM_CHECK_OTHER || got == 0, "an undocumented result");
    inputs_matched += got == 0;

    if (got == 0) {
        REQUIRE_MSG((found->header == 0 || found->header == 1) &&
                        (found->has_uis == 0 || found->has_uis == 1),
                    "a header number or a uis flag out of range");
        check_match(in, n, found, out);
        /* A match fills all HEM_CHECK_OUT bytes: nothing left over from before shows. */
        memset(again, 0x5A, HEM_CHECK_OUT);
        REQUIRE(hem_check_scan((const char *)in, n, again, &found_again) == 0);
        REQUIRE(found_again.header == found->header && found_again.has_uis == found->has_uis &&
                found_again.signed_len == found->signed_len);
        REQUIRE_MSG(memcmp(out, again, HEM_CHECK_OUT) == 0,
                    "the output depends on what the buffer held before");
    }

    want = ref_scan(in, n, ref_fields, &ref_found);
    if (got != want ||
        (got == 0 && (found->header != ref_found.header || found->has_uis != ref_found.has_uis ||
                      found->signed_len != ref_found.signed_len))) {
        char mine[80], theirs[80];
        fprintf(stderr, "hemfuzz: hem_check_scan gave %s, the reference matcher %s\n",
                describe(got, found, mine, sizeof mine),
                describe(want, &ref_found, theirs, sizeof theirs));
    }
    REQUIRE_MSG(got != 0 || want == 0, "matched a token that is not in the shape");
    REQUIRE_MSG(got == 0 || want != 0, "refused a token in the shape");
    if (got == 0) {
        REQUIRE_MSG(found->header == ref_found.header && found->has_uis == ref_found.has_uis &&
                        found->signed_len == ref_found.signed_len,
                    "the header, uis flag or signed length differ from the reference's");
        REQUIRE_MSG(memcmp(out, ref_fields, HEM_CHECK_OUT) == 0,
                    "the fields differ from the reference matcher's");
    }

    if (n == 0)
        REQUIRE(hem_check_scan(NULL, 0, out, &found_again) == HEM_CHECK_OTHER);

    free(found);
    free(again);
    free(out);
    free(in);
    return 0;
}

/* --- the mutator -------------------------------------------------------------------------- */

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* A mutation of a decoded segment in place: returns the new length (at most room). */
typedef size_t (*inner_mutation)(unsigned char *raw, size_t len, size_t room, unsigned int seed);

static size_t mutate_bytes(unsigned char *raw, size_t len, size_t room, unsigned int seed)
{
    (void)seed;
    return LLVMFuzzerMutate(raw, len, room);
}

/* One claim value of a payload JSON: its bytes mutated and re-encoded as canonical base64
 * of the same size, so that the token stays in the shape (unless iss now equals aud, which
 * one time in eight is made so on purpose by copying iss over aud). */
static size_t mutate_claim(unsigned char *json, size_t len, size_t room, unsigned int seed)
{
    size_t spans[CLAIMS + 2][2], count = 0, i, k, text_len, cap;
    unsigned char *raw;
    ptrdiff_t w;

    for (i = 0; i + 3 <= len && count < CLAIMS + 2; i++)
        if (memcmp(json + i, "\":\"", 3) == 0) {
            const unsigned char *end = memchr(json + i + 3, '"', len - i - 3);
            if (end == NULL)
                break;
            spans[count][0] = i + 3;
            spans[count][1] = (size_t)(end - json);
            count++;
            i = (size_t)(end - json);
        }
    if (count == 0)
        return LLVMFuzzerMutate(json, len, room);
    if (seed / 16 % 8 == 0 && count > 3 &&
        spans[1][1] - spans[1][0] == spans[3][1] - spans[3][0]) {
        memmove(json + spans[3][0], json + spans[1][0], spans[1][1] - spans[1][0]);
        return len;
    }
    k = seed % count;
    text_len = spans[k][1] - spans[k][0];
    cap = hem_b64_decoded_max(text_len);
    raw = exact_alloc(cap + 1);
    w = hem_b64_decode((const char *)json + spans[k][0], text_len, raw, cap, NULL);
    if (w <= 0) {
        free(raw);
        return LLVMFuzzerMutate(json, len, room);
    }
    i = LLVMFuzzerMutate(raw, (size_t)w, (size_t)w);
    if (i < (size_t)w)
        memset(raw + i, (int)(seed >> 8 & 0xFFu), (size_t)w - i);
    /* The same size encodes to the same length: the JSON keeps its length. */
    hem_b64_encode(raw, (size_t)w, (char *)json + spans[k][0], text_len);
    free(raw);
    return len;
}

/* Apply inner to the bytes under the header (which 0) or payload (which 1) segment and
 * re-encode them; 0 when the input has no such segment that decodes, or no room. */
static size_t mutate_segment(uint8_t *data, size_t size, size_t max_size, int which,
                             inner_mutation inner, unsigned int seed)
{
    const uint8_t *dot1 = size ? memchr(data, '.', size) : NULL, *dot2;
    size_t start, end, rest, avail, room, cap, new_len, total = 0;
    unsigned char *raw, *built;
    ptrdiff_t w;

    if (dot1 == NULL)
        return 0;
    dot2 = memchr(dot1 + 1, '.', size - (size_t)(dot1 + 1 - data));
    if (dot2 == NULL)
        return 0;
    start = which == 0 ? 0 : (size_t)(dot1 - data) + 1;
    end = (size_t)((which == 0 ? dot1 : dot2) - data);
    rest = size - (end - start);
    if (max_size <= rest + 4)
        return 0;
    avail = max_size - rest;
    room = avail / 4 * 3; /* its encoding fits in avail */
    cap = hem_b64_decoded_max(end - start);
    raw = exact_alloc((cap > room ? cap : room) + 1);
    w = hem_b64url_decode((const char *)data + start, end - start, raw, cap, NULL);
    if (w < 0 || (size_t)w > room) {
        free(raw);
        return 0;
    }
    new_len = inner(raw, (size_t)w, room, seed);
    built = exact_alloc(max_size);
    memcpy(built, data, start);
    w = hem_b64url_encode(raw, new_len, (char *)built + start, max_size - start);
    if (w >= 0 && start + (size_t)w + (size - end) <= max_size) {
        memcpy(built + start + (size_t)w, data + end, size - end);
        total = start + (size_t)w + (size - end);
        memcpy(data, built, total);
    }
    free(built);
    free(raw);
    return total;
}

/* A token in the shape made by the template from the input's bytes (as field bytes, read
 * from a place the seed picks), half of the time with one mutation of its payload JSON. A
 * coverage-guided corpus keeps few tokens in the shape (they all take the same path), so
 * this is what keeps matches frequent. 0 when there is no room. */
static size_t build_from_bytes(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    unsigned char fields[HEM_CHECK_OUT];
    char json[JSON_ROOM], token[TOKEN_ROOM];
    int with_uis = (seed >> 1 & 1) != 0;
    size_t i, json_len, len;

    for (i = 0; i < HEM_CHECK_OUT; i++)
        fields[i] = size ? data[(i + seed) % size] : (unsigned char)(i * 37u);
    if (memcmp(fields + HEM_CHECK_ISS, fields + HEM_CHECK_AUD, 32) == 0)
        fields[HEM_CHECK_AUD] ^= 1;
    if (!with_uis)
        memset(fields + HEM_CHECK_UIS, 0, 32);
    json_len = template_json(fields, with_uis, json);
    len = template_token((int)(seed & 1), json, json_len, fields + HEM_CHECK_SIG, token);
    if (len > max_size)
        return 0;
    memcpy(data, token, len);
    if (seed >> 2 & 1) {
        size_t mutated = mutate_segment(data, len, max_size, 1, mutate_bytes, seed >> 3);
        if (mutated > 0)
            return mutated;
    }
    return len;
}

/* Of eight mutations: two on the text as it is, one on the decoded header, two on the
 * decoded payload JSON, two on one decoded claim value (which keep the token in the
 * shape), one a token built from the input's bytes. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    size_t got = 0;

    switch (seed % 8) {
    case 2:
        got = build_from_bytes(data, size, max_size, seed / 8);
        break;
    case 3:
        got = mutate_segment(data, size, max_size, 0, mutate_bytes, seed / 8);
        break;
    case 4:
    case 5:
        got = mutate_segment(data, size, max_size, 1, mutate_bytes, seed / 8);
        break;
    case 6:
    case 7:
        got = mutate_segment(data, size, max_size, 1, mutate_claim, seed / 8);
        break;
    default:
        break;
    }
    return got > 0 ? got : LLVMFuzzerMutate(data, size, max_size);
}
