/*
 * hemcheck: the device check's exact shape, matched and decoded in one pass (see
 * hemcheck.h). The shape's facts come from hemshape.h, generated from hemproto/schema.py.
 * Every length is fixed by the shape, so the walk below never reads outside the bytes it
 * decoded; every base64 text goes through hemcodec's strict decoders.
 */
#include "hemcheck.h"

#include <string.h>

#include "hemcodec.h"

#define CLAIMS HEM_SHAPE_CHECK_CLAIMS
#define OPTIONAL HEM_SHAPE_CHECK_OPTIONAL
#define HEADERS HEM_SHAPE_HEADERS
#define HEADER_BYTES HEM_SHAPE_HEADER_BYTES
#define HEADER_CHARS HEM_SHAPE_HEADER_CHARS
#define SIGNATURE_BYTES HEM_SHAPE_SIGNATURE_BYTES
#define SIGNATURE_CHARS HEM_SHAPE_SIGNATURE_CHARS

static const char header_json[HEADERS][HEADER_BYTES + 1u] = {HEM_SHAPE_HEADER_TEXTS};

/* One claim, in hemshape.h's order of fields: its name, the characters of its base64 and
 * the bytes they decode to, and where those go in out. */
typedef struct {
    const char *name;
    unsigned short name_len, chars, bytes, offset;
} claim_shape;

static const claim_shape claims[CLAIMS] = {HEM_SHAPE_CHECK_TABLE};

/* Walk the payload JSON member by member, {"name":"value" then ,"name":"value", decoding
 * each value into out. */
static int match_claims(const unsigned char *json, size_t json_len, int with_optional,
                        unsigned char *out)
{
    unsigned char value[HEM_SHAPE_CHECK_VALUE_MAX];
    size_t k, pos = 0;

    for (k = 0; k < CLAIMS; k++) {
        const claim_shape *c = &claims[k];
        if (k == OPTIONAL && !with_optional)
            continue;
        if (json[pos] != (pos == 0 ? '{' : ',') || json[pos + 1u] != '"' ||
            memcmp(json + pos + 2u, c->name, c->name_len) != 0 ||
            memcmp(json + pos + 2u + c->name_len, "\":\"", 3u) != 0)
            return 0;
        pos += 5u + c->name_len;
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

int hem_check_scan(const char *token, size_t token_len, unsigned char out[HEM_CHECK_OUT],
                   hem_check_found *found)
{
    unsigned char header[HEADER_BYTES], json[HEM_SHAPE_CHECK_JSON_FULL];
    size_t payload_chars, json_len, signed_len;
    int with_optional, variant;

    /* The payload's length alone says whether the optional claim is there. */
    if (token_len < HEADER_CHARS + 2u + SIGNATURE_CHARS)
        return HEM_CHECK_OTHER;
    payload_chars = token_len - HEADER_CHARS - 2u - SIGNATURE_CHARS;
    if (payload_chars == HEM_SHAPE_CHECK_PAYLOAD_FULL) {
        with_optional = 1;
        json_len = HEM_SHAPE_CHECK_JSON_FULL;
    } else if (payload_chars == HEM_SHAPE_CHECK_PAYLOAD_SHORT) {
        with_optional = 0;
        json_len = HEM_SHAPE_CHECK_JSON_SHORT;
    } else {
        return HEM_CHECK_OTHER;
    }
    signed_len = HEADER_CHARS + 1u + payload_chars;
    if (token[HEADER_CHARS] != '.' || token[signed_len] != '.')
        return HEM_CHECK_OTHER;

    if (hem_b64url_decode(token, HEADER_CHARS, header, sizeof header, NULL) !=
        (ptrdiff_t)HEADER_BYTES)
        return HEM_CHECK_OTHER;
    for (variant = 0; variant < (int)HEADERS; variant++)
        if (memcmp(header, header_json[variant], HEADER_BYTES) == 0)
            break;
    if (variant == (int)HEADERS)
        return HEM_CHECK_OTHER;

    if (hem_b64url_decode(token + HEADER_CHARS + 1u, payload_chars, json, sizeof json, NULL) !=
        (ptrdiff_t)json_len)
        return HEM_CHECK_OTHER;
    if (hem_b64url_decode(token + signed_len + 1u, SIGNATURE_CHARS, out + HEM_CHECK_SIG,
                          SIGNATURE_BYTES, NULL) != (ptrdiff_t)SIGNATURE_BYTES)
        return HEM_CHECK_OTHER;
    if (!with_optional)
        memset(out + claims[OPTIONAL].offset, 0, claims[OPTIONAL].bytes);
    if (!match_claims(json, json_len, with_optional, out))
        return HEM_CHECK_OTHER;
    /* A check addressed to its own issuer is refused: the general path explains it. */
    if (memcmp(out + HEM_CHECK_ISS, out + HEM_CHECK_AUD, HEM_SHAPE_CHECK_KEY_BYTES) == 0)
        return HEM_CHECK_OTHER;
    found->header = variant;
    found->has_uis = with_optional;
    found->signed_len = signed_len;
    return 0;
}
