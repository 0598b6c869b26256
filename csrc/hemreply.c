/*
 * hemreply: the "checked" token in one call (see hemreply.h). The payload JSON is written
 * piece by piece into a small buffer and turned into base64url as it fills, straight into
 * the output, so no whole copy of the payload is ever kept; the MAC is hemmac's. The
 * claims' names and sizes, the actions and the limits come from hemshape.h, generated from
 * hemproto/schema.py.
 */
#include "hemreply.h"

#include <string.h>

#include "hemcodec.h"
#include "hemmac.h"

#define MAC_CHARS HEM_SHAPE_SIGNATURE_CHARS /* base64url of the MAC bytes */
/* Input bytes per hem_b64_encode call for a field: a multiple of 3, so that the pieces'
 * encodings put together are the encoding of the whole. */
#define FIELD_CHUNK 48u
#define FIELD_CHUNK_CHARS 64u
/* The JSON buffer: base64url is flushed from it in multiples of 3 bytes; a short reply
 * fits whole, and there is always room for one encoded field chunk after a flush. */
#define JSON_BUFFER 510u

/* The JSON before each value, from the claims' names in hemshape.h: the object's or the
 * member's opening, with the quote that closes the value before it and the one that opens
 * this value, where there are such quotes. */
#define OPEN_JTI "{\"" HEM_SHAPE_REPLY_JTI "\":\""
#define OPEN_ISS "\",\"" HEM_SHAPE_REPLY_ISS "\":\""
#define OPEN_AUD "\",\"" HEM_SHAPE_REPLY_AUD "\":\""
#define OPEN_IAT "\",\"" HEM_SHAPE_REPLY_IAT "\":"
#define OPEN_ACT ",\"" HEM_SHAPE_REPLY_ACT "\":\""
#define OPEN_CRT ",\"" HEM_SHAPE_REPLY_CRT "\":\""
#define OPEN_NEWFWS ",\"" HEM_SHAPE_REPLY_NEWFWS "\":\""
#define OPEN_NEWUIS ",\"" HEM_SHAPE_REPLY_NEWUIS "\":\""
#define LITERAL_LEN(text) (sizeof text - 1u)
/* Characters of the padded base64 of n bytes, as hem_b64_encoded_len gives. */
#define B64_OF(n) (((n) + 2u) / 3u * 4u)

static const char actions[HEM_SHAPE_REPLY_ACTIONS][HEM_SHAPE_REPLY_ACTION_MAX + 1u] = {
    HEM_SHAPE_REPLY_ACTION_TEXTS};

static int valid_act(const char *act, size_t act_len)
{
    size_t k;

    if (act == NULL || act_len < 1u || act_len > HEM_SHAPE_REPLY_ACTION_MAX)
        return 0;
    /* The whole text: "L" followed by a NUL byte is not "L". */
    for (k = 0; k < HEM_SHAPE_REPLY_ACTIONS; k++)
        if (strlen(actions[k]) == act_len && memcmp(act, actions[k], act_len) == 0)
            return 1;
    return 0;
}

static int valid_header(const char *header, size_t header_len)
{
    unsigned char decoded[HEM_REPLY_MAX_HEADER / 4u * 3u + 3u];

    if (header == NULL || header_len < 1u || header_len > HEM_REPLY_MAX_HEADER)
        return 0;
    return hem_b64url_decode(header, header_len, decoded, sizeof decoded, NULL) >= 0;
}

static size_t decimal_length(unsigned long long value)
{
    size_t n = 1;

    while (value >= 10u) {
        value /= 10u;
        n++;
    }
    return n;
}

/* The payload's length in bytes: the members' names, quotes, colons, commas and values. */
static size_t payload_length(unsigned long long iat, size_t act_len, size_t crt_len,
                             int has_newfws, int has_newuis)
{
    /* {"jti":"J","iss":"I","aud":"A","iat":N,"act":"X"} */
    size_t n = LITERAL_LEN(OPEN_JTI) + B64_OF(HEM_SHAPE_REPLY_JTI_BYTES) +
               LITERAL_LEN(OPEN_ISS) + B64_OF(HEM_SHAPE_REPLY_ISS_BYTES) +
               LITERAL_LEN(OPEN_AUD) + B64_OF(HEM_SHAPE_REPLY_AUD_BYTES) +
               LITERAL_LEN(OPEN_IAT) + decimal_length(iat) + LITERAL_LEN(OPEN_ACT) + act_len +
               LITERAL_LEN("\"}");

    if (crt_len)
        n += LITERAL_LEN(OPEN_CRT) + B64_OF(crt_len) + 1u;
    if (has_newfws)
        n += LITERAL_LEN(OPEN_NEWFWS) + B64_OF(HEM_SHAPE_REPLY_NEWFWS_BYTES) + 1u;
    if (has_newuis)
        n += LITERAL_LEN(OPEN_NEWUIS) + B64_OF(HEM_SHAPE_REPLY_NEWUIS_BYTES) + 1u;
    return n;
}

size_t hem_checked_len(size_t header_len, unsigned long long iat, size_t act_len, size_t crt_len,
                       int has_newfws, int has_newuis)
{
    size_t payload = payload_length(iat, act_len, crt_len, has_newfws, has_newuis);
    return header_len + 1u + hem_b64url_encoded_len(payload) + 1u + MAC_CHARS;
}

/* The payload on its way to base64url: JSON accumulates in buf and is encoded into out,
 * three bytes at a time, whenever the buffer runs short and at the end. */
typedef struct {
    char *out;
    size_t fill;
    unsigned char buf[JSON_BUFFER];
} writer;

static void flush(writer *w, int last)
{
    size_t n = last ? w->fill : w->fill / 3u * 3u;
    size_t chars = hem_b64url_encoded_len(n);

    /* The room was checked once for the whole token: this cannot fail. */
    (void)hem_b64url_encode(w->buf, n, w->out, chars);
    w->out += chars;
    memmove(w->buf, w->buf + n, w->fill - n);
    w->fill -= n;
}

static void put(writer *w, const char *text, size_t n)
{
    while (n) {
        size_t take = sizeof w->buf - w->fill;
        if (take > n)
            take = n;
        memcpy(w->buf + w->fill, text, take);
        w->fill += take;
        text += take;
        n -= take;
        if (w->fill == sizeof w->buf)
            flush(w, 0);
    }
}

/* A binary value as padded standard base64, between the quotes put() wrote around it. */
static void put_base64(writer *w, const unsigned char *value, size_t n)
{
    while (n) {
        size_t take = n < FIELD_CHUNK ? n : FIELD_CHUNK;
        if (sizeof w->buf - w->fill < FIELD_CHUNK_CHARS)
            flush(w, 0);
        w->fill += (size_t)hem_b64_encode(value, take, (char *)w->buf + w->fill,
                                          FIELD_CHUNK_CHARS);
        value += take;
        n -= take;
    }
}

static void put_decimal(writer *w, unsigned long long value)
{
    char digits[20];
    size_t n = 0;

    do {
        digits[sizeof digits - 1u - n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value);
    put(w, digits + sizeof digits - n, n);
}

/* Why a reply with these fields cannot be written into out_cap bytes (HEM_REPLY_E_FIELD,
 * HEM_E_SPACE), or 0 when it can: the checks both writers make before writing. */
static ptrdiff_t refusal(const unsigned char iss[32], const unsigned char aud[32],
                         unsigned long long iat, const char *act, size_t act_len,
                         const unsigned char *crt, size_t crt_len, const unsigned char *newfws,
                         const unsigned char *newuis, const char *header, size_t header_len,
                         size_t out_cap)
{
    if (memcmp(iss, aud, HEM_SHAPE_REPLY_ISS_BYTES) == 0 || iat > HEM_REPLY_MAX_IAT ||
        !valid_act(act, act_len))
        return HEM_REPLY_E_FIELD;
    if (crt == NULL ? crt_len != 0u : crt_len < 1u || crt_len > HEM_REPLY_MAX_CRT)
        return HEM_REPLY_E_FIELD;
    if (!valid_header(header, header_len))
        return HEM_REPLY_E_FIELD;
    if (out_cap < hem_checked_len(header_len, iat, act_len, crt_len, newfws != NULL,
                                  newuis != NULL))
        return HEM_E_SPACE;
    return 0;
}

/* Writes a token already known to fit, from fields already checked. */
static size_t write_token(const unsigned char key[32], const unsigned char jti[32],
                          const unsigned char iss[32], const unsigned char aud[32],
                          unsigned long long iat, const char *act, size_t act_len,
                          const unsigned char *crt, size_t crt_len,
                          const unsigned char *newfws, const unsigned char *newuis,
                          const char *header, size_t header_len, char *out)
{
    writer w;
    size_t signed_len;
    unsigned char mac[HEM_SHA256_SIZE];

    memcpy(out, header, header_len);
    out[header_len] = '.';
    w.out = out + header_len + 1u;
    w.fill = 0;
    put(&w, OPEN_JTI, LITERAL_LEN(OPEN_JTI));
    put_base64(&w, jti, HEM_SHAPE_REPLY_JTI_BYTES);
    put(&w, OPEN_ISS, LITERAL_LEN(OPEN_ISS));
    put_base64(&w, iss, HEM_SHAPE_REPLY_ISS_BYTES);
    put(&w, OPEN_AUD, LITERAL_LEN(OPEN_AUD));
    put_base64(&w, aud, HEM_SHAPE_REPLY_AUD_BYTES);
    put(&w, OPEN_IAT, LITERAL_LEN(OPEN_IAT));
    put_decimal(&w, iat);
    put(&w, OPEN_ACT, LITERAL_LEN(OPEN_ACT));
    put(&w, act, act_len);
    put(&w, "\"", 1u);
    if (crt) {
        put(&w, OPEN_CRT, LITERAL_LEN(OPEN_CRT));
        put_base64(&w, crt, crt_len);
        put(&w, "\"", 1u);
    }
    if (newfws) {
        put(&w, OPEN_NEWFWS, LITERAL_LEN(OPEN_NEWFWS));
        put_base64(&w, newfws, HEM_SHAPE_REPLY_NEWFWS_BYTES);
        put(&w, "\"", 1u);
    }
    if (newuis) {
        put(&w, OPEN_NEWUIS, LITERAL_LEN(OPEN_NEWUIS));
        put_base64(&w, newuis, HEM_SHAPE_REPLY_NEWUIS_BYTES);
        put(&w, "\"", 1u);
    }
    put(&w, "}", 1u);
    flush(&w, 1);

    signed_len = (size_t)(w.out - out);
    hem_hmac_sha256(key, 32u, out, signed_len, mac);
    out[signed_len] = '.';
    (void)hem_b64url_encode(mac, sizeof mac, out + signed_len + 1u, MAC_CHARS);
    return signed_len + 1u + MAC_CHARS;
}

ptrdiff_t hem_checked_sign(const unsigned char key[32], const unsigned char jti[32],
                           const unsigned char iss[32], const unsigned char aud[32],
                           unsigned long long iat, const char *act, size_t act_len,
                           const unsigned char *crt, size_t crt_len,
                           const unsigned char *newfws, const unsigned char *newuis,
                           const char *header, size_t header_len, char *out, size_t out_cap)
{
    ptrdiff_t refused = refusal(iss, aud, iat, act, act_len, crt, crt_len, newfws, newuis,
                                header, header_len, out_cap);
    if (refused)
        return refused;
    return (ptrdiff_t)write_token(key, jti, iss, aud, iat, act, act_len, crt, crt_len, newfws,
                                  newuis, header, header_len, out);
}

ptrdiff_t hem_check_answer(const unsigned char key[32], const char *check_signed,
                           size_t check_signed_len, const unsigned char check_mac[32],
                           const unsigned char jti[32], const unsigned char iss[32],
                           const unsigned char aud[32], unsigned long long iat, const char *act,
                           size_t act_len, const unsigned char *crt, size_t crt_len,
                           const unsigned char *newfws, const unsigned char *newuis,
                           const char *header, size_t header_len, char *out, size_t out_cap)
{
    ptrdiff_t refused = refusal(iss, aud, iat, act, act_len, crt, crt_len, newfws, newuis,
                                header, header_len, out_cap);
    if (refused)
        return refused;
    if (!hem_hs256_verify(key, 32u, check_signed, check_signed_len, check_mac))
        return HEM_REPLY_E_MAC;
    return (ptrdiff_t)write_token(key, jti, iss, aud, iat, act, act_len, crt, crt_len, newfws,
                                  newuis, header, header_len, out);
}
