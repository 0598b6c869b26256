/*
 * hemcheck: the device check's exact shape, matched and decoded in one pass (see
 * hemcheck.h). Every length is fixed by the shape, so the walk below never reads outside
 * the bytes it decoded; every base64 text goes through hemcodec's strict decoders.
 */
#include "hemcheck.h"

#include <string.h>

#include "hemcodec.h"

#define HEADER_CHARS 58u /* base64url of the 43 header bytes */
#define HEADER_BYTES 43u
#define SIGNATURE_CHARS 43u
#define SIGNATURE_BYTES 32u
#define CLAIM_COUNT 8u
#define UIS_INDEX 6u
/* Characters of the padded base64 of 32, 64 and 16 bytes. */
#define B32 44u
#define B64 88u
#define B16 24u
/* The payload JSON with every claim (493 bytes): braces, seven commas, eight "nnn":"" */
#define JSON_MAX (2u + 7u + 8u * 8u + 5u * B32 + 2u * B64 + B16)
#define VALUE_MAX (B64 / 4u * 3u) /* hem_b64_decoded_max(B64): room for the largest claim */

static const char header_json[2][HEADER_BYTES + 1u] = {
    "{\"ecdh\":\"x25519\",\"typ\":\"JWT\",\"alg\":\"HS256\"}",
    "{\"ecdh\":\"x25519\",\"alg\":\"HS256\",\"typ\":\"JWT\"}",
};

typedef struct {
    char name[4];
    unsigned char chars, bytes;
    unsigned short offset;
} claim_shape;

static const claim_shape claims[CLAIM_COUNT] = {
    {"jti", B32, 32, HEM_CHECK_JTI}, {"iss", B32, 32, HEM_CHECK_ISS},
    {"qid", B32, 32, HEM_CHECK_QID}, {"aud", B32, 32, HEM_CHECK_AUD},
    {"fws", B64, 64, HEM_CHECK_FWS}, {"bls", B64, 64, HEM_CHECK_BLS},
    {"uis", B32, 32, HEM_CHECK_UIS}, {"csn", B16, 16, HEM_CHECK_CSN},
};

/* Bytes of the payload JSON: braces, a comma between members, and per member
 * "nnn":"value" (8 characters around the value). 493 with "uis", 440 without. */
static size_t json_length(int with_uis)
{
    size_t k, total = 2u, members = 0;

    for (k = 0; k < CLAIM_COUNT; k++) {
        if (k == UIS_INDEX && !with_uis)
            continue;
        total += 8u + claims[k].chars;
        members++;
    }
    return total + members - 1u;
}

/* Walk the payload JSON member by member, decoding each value into out. */
static int match_claims(const unsigned char *json, size_t json_len, int with_uis,
                        unsigned char *out)
{
    unsigned char value[VALUE_MAX];
    size_t k, pos = 0;

    for (k = 0; k < CLAIM_COUNT; k++) {
        const claim_shape *c = &claims[k];
        if (k == UIS_INDEX && !with_uis)
            continue;
        if (json[pos] != (pos == 0 ? '{' : ',') || json[pos + 1u] != '"' ||
            memcmp(json + pos + 2u, c->name, 3u) != 0 || memcmp(json + pos + 5u, "\":\"", 3u) != 0)
            return 0;
        pos += 8u;
        if (hem_b64_decode((const char *)json + pos, c->chars, value, sizeof value, NULL) !=
            (ptrdiff_t)c->bytes)
            return 0;
        memcpy(out + c->offset, value, c->bytes);
        pos += c->chars;
        if (json[pos] != '"')
            return 0;
        pos++;
    }
    return json[pos] == '}' && pos + 1u == json_len;
}

long hem_check_scan(const char *token, size_t token_len, unsigned char out[HEM_CHECK_OUT])
{
    unsigned char header[HEADER_BYTES], json[JSON_MAX];
    size_t payload_chars, json_len, signed_len;
    int with_uis, variant;

    if (token_len < HEADER_CHARS + 2u + SIGNATURE_CHARS)
        return HEM_CHECK_OTHER;
    payload_chars = token_len - HEADER_CHARS - 2u - SIGNATURE_CHARS;
    if (payload_chars == hem_b64url_encoded_len(json_length(1)))
        with_uis = 1;
    else if (payload_chars == hem_b64url_encoded_len(json_length(0)))
        with_uis = 0;
    else
        return HEM_CHECK_OTHER;
    json_len = json_length(with_uis);
    signed_len = HEADER_CHARS + 1u + payload_chars;
    if (token[HEADER_CHARS] != '.' || token[signed_len] != '.')
        return HEM_CHECK_OTHER;

    if (hem_b64url_decode(token, HEADER_CHARS, header, sizeof header, NULL) !=
        (ptrdiff_t)HEADER_BYTES)
        return HEM_CHECK_OTHER;
    if (memcmp(header, header_json[0], HEADER_BYTES) == 0)
        variant = 0;
    else if (memcmp(header, header_json[1], HEADER_BYTES) == 0)
        variant = 1;
    else
        return HEM_CHECK_OTHER;

    if (hem_b64url_decode(token + HEADER_CHARS + 1u, payload_chars, json, sizeof json, NULL) !=
        (ptrdiff_t)json_len)
        return HEM_CHECK_OTHER;
    if (hem_b64url_decode(token + signed_len + 1u, SIGNATURE_CHARS, out + HEM_CHECK_SIG,
                          SIGNATURE_BYTES, NULL) != (ptrdiff_t)SIGNATURE_BYTES)
        return HEM_CHECK_OTHER;
    if (!with_uis)
        memset(out + HEM_CHECK_UIS, 0, 32u);
    if (!match_claims(json, json_len, with_uis, out))
        return HEM_CHECK_OTHER;
    /* A check addressed to its own issuer is refused: the general path explains it. */
    if (memcmp(out + HEM_CHECK_ISS, out + HEM_CHECK_AUD, 32u) == 0)
        return HEM_CHECK_OTHER;
    return (long)variant | (with_uis ? HEM_CHECK_HAS_UIS : 0) |
           (long)signed_len << HEM_CHECK_SIGNED_SHIFT;
}
