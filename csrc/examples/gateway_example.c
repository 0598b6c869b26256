/*
 * gateway_example: how a gateway written in C can use hemcodec on a HEM compact token.
 *
 *   gateway_example [TOKEN]
 *
 * Without an argument it uses the vendor's published check example, a real device token.
 * It goes through the steps a gateway takes, in the order it should take them:
 *
 *   1. bound the token's length before touching it;
 *   2. split it and decode its three base64url segments with hem_token_decode, which
 *      refuses anything that is not in canonical form and says where;
 *   3. check the MAC over "header.payload" with hem_ct_equal, in constant time;
 *   4. only then read claims from the payload: here the "jti", a standard-base64 value
 *      decoded with hem_b64_decode.
 *
 * Exit status: 0 accepted, 1 rejected (malformed token or wrong MAC), 2 usage error.
 *
 * What this example does not do, and real code must:
 *   - compute the MAC. hemcodec has no HMAC: take it from your crypto library, e.g.
 *     OpenSSL's HMAC(EVP_sha256(), key, key_len, token, parts.dot2, mac, &mac_len), over
 *     the token's ASCII text up to its second '.'. Here a fixed value stands in for it.
 *   - parse JSON. The claim lookup below is a plain substring search, good enough to show
 *     the decoding call and nothing else; use a real JSON parser, and check the header's
 *     "alg" against what you expect instead of trusting it.
 *
 * Build (the Makefile does this for `make -C csrc example`):
 *   cc -std=c99 -Icsrc csrc/examples/gateway_example.c csrc/build/libhemcodec.a
 */
#include "hemcodec.h"

#include <stdio.h>
#include <string.h>

/* A gateway should refuse oversized tokens before doing any work on them. With a fixed
 * bound the decode buffer can live on the stack: hem_token_decode wants at least
 * hem_b64_decoded_max(token_len) bytes, and MAX_TOKEN / 4 * 3 + 2 covers that for every
 * token_len up to MAX_TOKEN. */
#define MAX_TOKEN 8192
#define MAX_DECODED (MAX_TOKEN / 4 * 3 + 2)

/* HS256 gives a 32-byte MAC; a jti is 32 random bytes. */
#define MAC_LEN 32
#define JTI_LEN 32

static const char sample_token[] =
    "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ."
    "eyJqdGkiOiJrSUEzWXJDQWJpMXZDVTFoOHlwbjJLdHMxUVNET1FVS05zYVVJZ1dvU3IwPSIsImlzcyI6IjBr"
    "Um1DbGlVUXZSd2Z4aTdUMWVrMkd0YlNFUnpNRlJHTGV5TzFyMXRFWG89IiwicWlkIjoiZTZQQXZDWnJtTWMw"
    "ZlVUMEt6bUw3STNUSXo2UUZBNEpCallzbEU5ZisvQT0iLCJhdWQiOiIvTGJ4bzVNZ1U2Wk90VnN4eEc1akNR"
    "NSs0ZXd4b2ExclY4ZXFNSUZGblRBPSIsImZ3cyI6Ilora0FhamdWVmRTTVFqTkl2SzVGR3owKzlyZi9KdXRW"
    "Q2xOWTZTN0dCZVE3NjVOTVlFVC9YZ2RBNjFjbU1rMTV3YXcwOG9OTHVXbVV5Z0hLM3hXRkNBPT0iLCJibHMi"
    "OiI4TXdvd3NLa3hnRVdubDJrMHQvZU92c2pUYlI3MHBvWUMyY3p5UEl3S24vaFZMNjhXRjNRYVF3WjFieFZj"
    "WXY3ZzhXRXd5ekoyUFZuVEZBbFlRN2hCZz09IiwidWlzIjoiNkdoMmNDcVNKMEdVTFFLRTFEaWJvWTFPc0M4"
    "ck01KzF4UFpjbENuaHRybz0iLCJjc24iOiJLZnNhS0t2Tmw0THZQaWdsMEdtR0JnPT0ifQ."
    "dn2cwBODoUKkGKrr92IW13NgVg7j-h6VGO-tnADqins";

/* Stands in for the HMAC-SHA256 your crypto library computes over the sample's
 * "header.payload" with the device key. It is the sample's own signature, so that the
 * sample is accepted and any other token is rejected, which is all this can show. */
static const unsigned char expected_mac[MAC_LEN] = {
    0x76, 0x7d, 0x9c, 0xc0, 0x13, 0x83, 0xa1, 0x42, 0xa4, 0x18, 0xaa, 0xeb, 0xf7, 0x62, 0x16, 0xd7,
    0x73, 0x60, 0x56, 0x0e, 0xe3, 0xfa, 0x1e, 0x95, 0x18, 0xef, 0xad, 0x9c, 0x00, 0xea, 0x8a, 0x7b};

static const char *code_name(ptrdiff_t code)
{
    switch (code) {
    case HEM_E_CHAR: return "HEM_E_CHAR";
    case HEM_E_LENGTH: return "HEM_E_LENGTH";
    case HEM_E_PADDING: return "HEM_E_PADDING";
    case HEM_E_TRAILING: return "HEM_E_TRAILING";
    case HEM_E_SPACE: return "HEM_E_SPACE";
    case HEM_E_SEGMENTS: return "HEM_E_SEGMENTS";
    default: return "unknown code";
    }
}

/* Decoded segments are attacker-controlled bytes: never print them raw to a log or a
 * terminal. Printable ASCII passes, everything else becomes \xNN. */
static void print_text(const char *label, const unsigned char *p, size_t n)
{
    size_t i;

    printf("%s (%lu bytes): ", label, (unsigned long)n);
    for (i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
    putchar('\n');
}

static void print_hex(const char *label, const unsigned char *p, size_t n)
{
    size_t i;

    printf("%s: ", label);
    for (i = 0; i < n; i++)
        printf("%02x", p[i]);
    putchar('\n');
}

/* The value of a string claim "name":"value" in JSON text, found by a substring search.
 * A stand-in for a JSON parser: it ignores escapes, nesting and duplicate keys, and a
 * "jti" inside another string would fool it. Returns 0 when the claim is not found. */
static int find_string_claim(const unsigned char *json, size_t n, const char *name,
                             const unsigned char **value, size_t *value_len)
{
    char key[64];
    size_t key_len, i, j;

    key_len = (size_t)sprintf(key, "\"%.*s\":\"", 58, name);
    for (i = 0; i + key_len <= n; i++) {
        if (memcmp(json + i, key, key_len) != 0)
            continue;
        for (j = i + key_len; j < n && json[j] != '"'; j++)
            ;
        if (j == n)
            return 0;
        *value = json + i + key_len;
        *value_len = j - (i + key_len);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *token = argc > 1 ? argv[1] : sample_token;
    size_t token_len, err_offset = 0, value_len = 0;
    unsigned char decoded[MAX_DECODED];
    unsigned char jti[JTI_LEN + 2]; /* + 2: see step 4 */
    const unsigned char *header, *payload, *signature, *value = NULL;
    hem_token_parts parts;
    ptrdiff_t r;

    if (argc > 2) {
        fprintf(stderr, "usage: %s [TOKEN]\n", argv[0]);
        return 2;
    }

    /* 1. Bound the input first: the cost of everything after is linear in it. */
    token_len = strlen(token);
    if (token_len > MAX_TOKEN) {
        fprintf(stderr, "rejected: token of %lu characters, more than %d\n",
                (unsigned long)token_len, MAX_TOKEN);
        return 1;
    }

    /* 2. Split and decode in one call. The three decoded segments land back to back in
     *    `decoded`; `parts` says where each one ends. On a refusal err_offset is the
     *    index in the token of the first thing wrong, which is worth logging: it tells a
     *    truncated token (HEM_E_SEGMENTS, HEM_E_LENGTH) from a mangled one (HEM_E_CHAR)
     *    or a re-encoded one (HEM_E_TRAILING: same bytes, non-canonical text). */
    r = hem_token_decode(token, token_len, decoded, sizeof decoded, &parts, &err_offset);
    if (r < 0) {
        if (r == HEM_E_SPACE) /* a caller bug: sizeof decoded is always enough here */
            fprintf(stderr, "rejected: HEM_E_SPACE\n");
        else
            fprintf(stderr, "rejected: %s at offset %lu\n", code_name(r),
                    (unsigned long)err_offset);
        return 1;
    }
    header = decoded;
    payload = header + parts.header_len;
    signature = payload + parts.payload_len;
    printf("token: %lu characters, '.' at %lu and %lu\n", (unsigned long)token_len,
           (unsigned long)parts.dot1, (unsigned long)parts.dot2);

    /* Shown before the MAC check for the sake of the example only: nothing in them may
     * be acted on until step 3 has passed. */
    print_text("header (unverified)", header, parts.header_len);
    print_text("payload (unverified)", payload, parts.payload_len);
    print_hex("signature", signature, parts.signature_len);

    /* 3. The MAC. Its length is public, so checking it with an ordinary comparison leaks
     *    nothing; its contents are compared with hem_ct_equal, whose running time does not
     *    depend on where the first difference is. memcmp may stop at the first differing
     *    byte, and that timing lets an attacker forge a MAC one byte at a time. */
    if (parts.signature_len != MAC_LEN || !hem_ct_equal(signature, expected_mac, MAC_LEN)) {
        fprintf(stderr, "rejected: MAC mismatch\n");
        return 1;
    }
    printf("MAC: match\n");

    /* 4. Claims. Token values such as "jti" are standard base64 with '=' padding. The
     *    output capacity must be hem_b64_decoded_max(value_len): for 44 characters that
     *    is 33 bytes, one more than the 32 that padded text decodes to. */
    if (!find_string_claim(payload, parts.payload_len, "jti", &value, &value_len)) {
        fprintf(stderr, "rejected: no \"jti\" claim\n");
        return 1;
    }
    if (hem_b64_decoded_max(value_len) > sizeof jti) {
        fprintf(stderr, "rejected: \"jti\" of %lu characters is too long\n",
                (unsigned long)value_len);
        return 1;
    }
    r = hem_b64_decode((const char *)value, value_len, jti, sizeof jti, &err_offset);
    if (r < 0) {
        /* err_offset counts from the start of the claim value, not of the token. */
        fprintf(stderr, "rejected: \"jti\" %s at offset %lu of its value\n", code_name(r),
                (unsigned long)err_offset);
        return 1;
    }
    print_hex("jti", jti, (size_t)r);
    printf("accepted\n");
    return 0;
}
