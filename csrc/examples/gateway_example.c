/*
 * gateway_example: how a gateway written in C checks a HEM device's check token with
 * hemproto's C core (hemcheck, hemmac, hemcodec).
 *
 *   gateway_example [TOKEN | --vendor-sample] [MAC_KEY_HEX]
 *
 * Without a token it uses a check made for this example (below); --vendor-sample uses the
 * vendor's published check, a real device token. It takes the steps a gateway takes, in
 * the order it should take them:
 *
 *   1. bound the token's length before touching it;
 *   2. match and decode it with hem_check_scan, which accepts only the exact shape devices
 *      send (canonical base64 everywhere, the claims in device order) and gives every
 *      field as bytes; anything else is explained with hem_token_decode and refused;
 *   3. read the two claims needed to find the MAC key: aud names the backend key the check
 *      is for, iss is the device's session key. The MAC key is X25519(that backend private
 *      key, iss), from your crypto library;
 *   4. check the HS256 MAC over "header.payload" with hem_hs256_verify (constant-time);
 *   5. only then act on the other claims: here jti, qid and csn are printed.
 *
 * Exit status: 0 accepted, 1 rejected (malformed, another shape, or wrong MAC), 2 usage.
 *
 * The MAC key. This example has no X25519: it takes the key as MAC_KEY_HEX, and by default
 * uses the shared secret of RFC 7748 section 6.1 (Alice's private key with Bob's public
 * key), which its own check was signed with (iss is Alice's public key, aud Bob's). The
 * vendor's sample cannot be verified by anyone but its backend: with that default key it
 * is decoded and then refused on its MAC, as it should be.
 *
 * Build (the Makefile does this for `make -C csrc example`):
 *   cc -std=c99 -Icsrc csrc/examples/gateway_example.c csrc/build/libhemcodec.a
 */
#include "hemcheck.h"
#include "hemcodec.h"
#include "hemmac.h"

#include <stdio.h>
#include <string.h>

/* A gateway should refuse oversized tokens before doing any work on them; with a fixed
 * bound the decode buffer for explaining a refusal can live on the stack
 * (hem_b64_decoded_max(MAX_TOKEN) <= MAX_DECODED). */
#define MAX_TOKEN 8192
#define MAX_DECODED (MAX_TOKEN / 4 * 3 + 2)
#define KEY_LEN 32

/* Made with hemproto.sign_check: the device key is Alice's private key of RFC 7748
 * section 6.1, the backend key Bob's public key; the other claims are fixed values. */
static const char example_check[] =
    "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ."
    "eyJqdGkiOiJtT3JDQ1NaNGg4RmRZL3ZpV2xObzkxZnRkQ3dJY2hlK1duNVlRalFOMC84PSIsImlzcyI6ImhT"
    "RHdDWWt3cDFSMGkzM2N0RDczV2cyL09nMG1PQnIwNjZTcGpxcWJUbW89IiwicWlkIjoiVDZXK3dYVXdjd0da"
    "b01majZDcjNKYTUxUHROZ29wbkN2SG0rSVBMT0FCYz0iLCJhdWQiOiIzcDdiZlh0OXdiVFRXMkhDN09RMU56"
    "K0RROGhiZUdkTnJmeCtGRytJSzA4PSIsImZ3cyI6IjAzcFpvZGMyY1VyWDgzdzlsOEIrMVhNc3YrMldSZ3lS"
    "SE9kOGlOWm5jUmI5Vy9ZOU1Tenl4bGFnYyszOFc0OXNYekJ6eVIyZlhCTFhlcno2VFZoL3NBPT0iLCJibHMi"
    "OiIwVzBLS3lRYXFWVXF6b2RWakZWaFBsK2NWdm8wQUttN0t2L3FMUHBIN3cxV0c4TW9vTDlpR3ppRTZyNG16"
    "cTBVV0toM29TeVhmS2QxY0J2SHQwZHhJZz09IiwidWlzIjoiakVYdmw5ekoydVdqOURBQW94bjRKSGs0bE1t"
    "dTZLL2hkOEpLakpsTCtVdz0iLCJjc24iOiJwMnJRTTB4NDZSaGlBNHBWbnF1dytnPT0ifQ."
    "ZuS7Ot-7AdXH3VRqxHmYEq4trfDYP14laLmZBgMm5YU";

/* RFC 7748 section 6.1: the shared secret K of Alice and Bob, X25519(a, B) = X25519(b, A). */
static const char rfc7748_shared_hex[] =
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

/* The vendor's published check example (the seed page of the protocol notes). */
static const char vendor_sample[] =
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

static void print_hex(const char *label, const unsigned char *p, size_t n)
{
    size_t i;

    printf("%s: ", label);
    for (i = 0; i < n; i++)
        printf("%02x", p[i]);
    putchar('\n');
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly 2 * n hex digits into n bytes; 0 on anything else. */
static int parse_hex(const char *text, unsigned char *out, size_t n)
{
    size_t i;

    if (strlen(text) != 2 * n)
        return 0;
    for (i = 0; i < n; i++) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 1;
}

/* Why a token is not a device check: the codec's first refusal, or its shape. */
static void explain(const char *token, size_t token_len)
{
    unsigned char decoded[MAX_DECODED];
    size_t err_offset = 0;
    hem_token_parts parts;
    ptrdiff_t r = hem_token_decode(token, token_len, decoded, sizeof decoded, &parts, &err_offset);

    if (r < 0)
        fprintf(stderr, "rejected: %s at offset %lu\n", code_name(r), (unsigned long)err_offset);
    else
        fprintf(stderr, "rejected: a well-formed token, but not a device check in its exact "
                        "shape (anything else needs a full JSON parser)\n");
}

int main(int argc, char **argv)
{
    const char *token = example_check;
    const char *key_hex = rfc7748_shared_hex;
    unsigned char fields[HEM_CHECK_OUT], key[KEY_LEN];
    size_t token_len;
    hem_check_found found;

    setvbuf(stdout, NULL, _IOLBF, 0); /* keep stdout and stderr lines in order */
    if (argc > 3) {
        fprintf(stderr, "usage: %s [TOKEN | --vendor-sample] [MAC_KEY_HEX]\n", argv[0]);
        return 2;
    }
    if (argc > 1)
        token = strcmp(argv[1], "--vendor-sample") == 0 ? vendor_sample : argv[1];
    if (argc > 2)
        key_hex = argv[2];
    if (!parse_hex(key_hex, key, sizeof key)) {
        fprintf(stderr, "usage: MAC_KEY_HEX must be %d hex digits\n", 2 * KEY_LEN);
        return 2;
    }

    /* 1. Bound the input first: the cost of everything after is linear in it. */
    token_len = strlen(token);
    if (token_len > MAX_TOKEN) {
        fprintf(stderr, "rejected: token of %lu characters, more than %d\n",
                (unsigned long)token_len, MAX_TOKEN);
        return 1;
    }

    /* 2. One pass: the exact device shape, every field decoded, or HEM_CHECK_OTHER. */
    if (hem_check_scan(token, token_len, fields, &found) == HEM_CHECK_OTHER) {
        explain(token, token_len);
        return 1;
    }
    printf("token: %lu characters, signed part %lu, header %d, %s uis\n",
           (unsigned long)token_len, (unsigned long)found.signed_len, found.header,
           found.has_uis ? "with" : "without");

    /* 3. Unverified, and used for one thing only: finding the key. A gateway looks up its
     *    private key for aud (refusing a check for a key it does not hold) and computes
     *    X25519(private, iss); here the key came from the command line or RFC 7748. */
    print_hex("aud (unverified)", fields + HEM_CHECK_AUD, 32);
    print_hex("iss (unverified)", fields + HEM_CHECK_ISS, 32);

    /* 4. The MAC over the first signed_len characters, compared in constant time inside
     *    hem_hs256_verify: memcmp may stop at the first differing byte, and that timing
     *    lets an attacker forge a MAC one byte at a time. */
    if (!hem_hs256_verify(key, sizeof key, token, found.signed_len, fields + HEM_CHECK_SIG)) {
        fprintf(stderr, "rejected: MAC mismatch\n");
        return 1;
    }
    printf("MAC: match (HMAC-SHA256 on %s)\n",
           hem_sha256_accelerated() ? "the SHA extensions" : "portable C");

    /* 5. Verified: the claims may be acted on. */
    print_hex("jti", fields + HEM_CHECK_JTI, 32);
    print_hex("qid", fields + HEM_CHECK_QID, 32);
    print_hex("csn", fields + HEM_CHECK_CSN, 16);
    printf("accepted\n");
    return 0;
}
