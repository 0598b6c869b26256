/*
 * Self-test for hemreply: the "checked" token written whole (hem_checked_sign), behind a
 * MAC check (hem_check_answer), and its length (hem_checked_len).
 *
 * Known answers come from hemproto's Python reference (hemproto/_pycodec.py, checked_sign),
 * which the Python tests hold to the general path (CheckedReply, the JSON encoder,
 * sign_ejwt): every combination of "crt" (absent, 1, 2, 3 bytes), "newfws" and "newuis",
 * each action, iat from 0 to 2**53 - 1, and the largest reply. A second opinion written
 * here checks random fields: the token is split with hem_token_decode, its payload compared
 * with JSON built by this file's own base64 encoder, and its MAC recomputed.
 *
 * Every run covers both SHA-256 block functions (hem_sha256_select), and every call gets
 * exactly sized heap copies of its inputs and an output of exactly the room it asks for,
 * so that valgrind and AddressSanitizer catch any access past them. A refusal must leave
 * the output untouched.
 */
#include "hemreply.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hemcodec.h"
#include "hemmac.h"

#define RNG_SEED 0x2545F4914F6CDD1Du
static uint64_t rng_state = RNG_SEED;

static const char default_header[] = "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ";

/* The fields of one reply, as the known answers and the random cases give them. */
typedef struct {
    unsigned char key[32], jti[32], iss[32], aud[32], newfws[64], newuis[32];
    unsigned char crt[HEM_REPLY_MAX_CRT];
    size_t crt_len; /* 0: no "crt" */
    int has_newfws, has_newuis;
    unsigned long long iat;
    const char *act;
    const char *header;
} fields;

/* The fields of the known answers: key 0..31, jti 32..63, iss 64..95, aud 96..127, newfws
 * 128..191, newuis 192..223, crt byte i = (7 i + 0x30) mod 256. */
static void known_fields(fields *f)
{
    size_t i;

    memset(f, 0, sizeof *f);
    for (i = 0; i < 32; i++) {
        f->key[i] = (unsigned char)i;
        f->jti[i] = (unsigned char)(32 + i);
        f->iss[i] = (unsigned char)(64 + i);
        f->aud[i] = (unsigned char)(96 + i);
        f->newuis[i] = (unsigned char)(192 + i);
    }
    for (i = 0; i < 64; i++)
        f->newfws[i] = (unsigned char)(128 + i);
    for (i = 0; i < HEM_REPLY_MAX_CRT; i++)
        f->crt[i] = (unsigned char)((i * 7u + 0x30u) & 0xFFu);
    f->act = "OK";
    f->header = default_header;
}

static size_t length_of(const fields *f)
{
    return hem_checked_len(strlen(f->header), f->iat, strlen(f->act), f->crt_len, f->has_newfws,
                           f->has_newuis);
}

/* hem_checked_sign (or, with mac, hem_check_answer over signed / mac) on exactly sized
 * copies of the fields, into an exactly sized block of out_cap bytes filled with 0xA5.
 * Returns the result; *token gets the block (the caller frees it). */
static ptrdiff_t sign_exact(const fields *f, size_t out_cap, const unsigned char *signed_text,
                            size_t signed_len, const unsigned char *mac, char **token)
{
    unsigned char *key = dup_exact(f->key, 32), *jti = dup_exact(f->jti, 32);
    unsigned char *iss = dup_exact(f->iss, 32), *aud = dup_exact(f->aud, 32);
    unsigned char *crt = f->crt_len ? dup_exact(f->crt, f->crt_len) : NULL;
    unsigned char *newfws = f->has_newfws ? dup_exact(f->newfws, 64) : NULL;
    unsigned char *newuis = f->has_newuis ? dup_exact(f->newuis, 32) : NULL;
    char *act = dup_exact(f->act, strlen(f->act)), *header = dup_exact(f->header, strlen(f->header));
    char *out = xmalloc(out_cap);
    ptrdiff_t r;

    memset(out, 0xA5, out_cap);
    if (mac) {
        unsigned char *s = dup_exact(signed_text, signed_len), *m = dup_exact(mac, 32);
        r = hem_check_answer(key, signed_len ? (const char *)s : NULL, signed_len, m, jti, iss,
                             aud, f->iat, act, strlen(f->act), crt, f->crt_len, newfws, newuis,
                             header, strlen(f->header), out, out_cap);
        free(m);
        free(s);
    } else {
        r = hem_checked_sign(key, jti, iss, aud, f->iat, act, strlen(f->act), crt, f->crt_len,
                             newfws, newuis, header, strlen(f->header), out, out_cap);
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
    *token = out;
    return r;
}

static int untouched(const char *out, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)out[i] != 0xA5u)
            return 0;
    return 1;
}

/* ---- known answers ------------------------------------------------------------------------ */

static const struct {
    size_t crt_len;
    int has_newfws, has_newuis;
    const char *act;
    unsigned long long iat;
    const char *token;
} known[] = {
    {0, 0, 0, "OK", 0ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjAsImFjdCI6Ik9LIn0.Sxe5ADGoRVt1Z2Paart9f"
     "-ZwjbKbxSiieJN-5sHEQOU"
    },
    {0, 0, 1, "L", 9ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjksImFjdCI6IkwiLCJuZXd1aXMiOiJ3TUhDdzhUR"
     "nhzZkl5Y3JMek0zT3o5RFIwdFBVMWRiWDJObmEyOXpkM3Q4PSJ9.zTf2iSm_JtyUnN5pl1RQSYgbUh5M"
     "9ft02m20L6egs7w"
    },
    {0, 1, 0, "W", 10ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjEwLCJhY3QiOiJXIiwibmV3ZndzIjoiZ0lHQ2c0U"
     "0Zob2VJaVlxTGpJMk9qNUNSa3BPVWxaYVhtSm1hbTV5ZG5wK2dvYUtqcEtXbXA2aXBxcXVzcmE2dnNMR"
     "3lzN1MxdHJlNHVicTd2TDIrdnc9PSJ9.keh7u8Hu2d1_QdyDi9gStxXgb8kKkhc81b98SOLHEis"
    },
    {0, 1, 1, "R", 1764000000ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjE3NjQwMDAwMDAsImFjdCI6IlIiLCJuZXdmd3MiO"
     "iJnSUdDZzRTRmhvZUlpWXFMakkyT2o1Q1JrcE9VbFphWG1KbWFtNXlkbnArZ29hS2pwS1dtcDZpcHFxd"
     "XNyYTZ2c0xHeXM3UzF0cmU0dWJxN3ZMMit2dz09IiwibmV3dWlzIjoid01IQ3c4VEZ4c2ZJeWNyTHpNM"
     "096OURSMHRQVTFkYlgyTm5hMjl6ZDN0OD0ifQ.ZBS0T3_SXWWMqmOoLsFUDxMMi9UAb_uXBsEL2RkuU4"
     "k"
    },
    {1, 0, 0, "B", 9007199254740991ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjkwMDcxOTkyNTQ3NDA5OTEsImFjdCI6IkIiLCJjc"
     "nQiOiJNQT09In0.cS6iSvMl5XVrq4_2fmE16QWio5RnttWX9TLWuk_j_WY"
    },
    {1, 0, 1, "U", 0ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjAsImFjdCI6IlUiLCJjcnQiOiJNQT09IiwibmV3d"
     "WlzIjoid01IQ3c4VEZ4c2ZJeWNyTHpNM096OURSMHRQVTFkYlgyTm5hMjl6ZDN0OD0ifQ.EvmvRlfmbE"
     "OZHkWMaQZV6VIInqw5IT9rT_lw4nKecXs"
    },
    {1, 1, 0, "OK", 9ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjksImFjdCI6Ik9LIiwiY3J0IjoiTUE9PSIsIm5ld"
     "2Z3cyI6ImdJR0NnNFNGaG9lSWlZcUxqSTJPajVDUmtwT1VsWmFYbUptYW01eWRucCtnb2FLanBLV21wN"
     "mlwcXF1c3JhNnZzTEd5czdTMXRyZTR1YnE3dkwyK3Z3PT0ifQ.uf-wXB0aDvr2_ArD-e-xuR9HkeWUoX"
     "5gPNp3R1cXIlU"
    },
    {1, 1, 1, "L", 10ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjEwLCJhY3QiOiJMIiwiY3J0IjoiTUE9PSIsIm5ld"
     "2Z3cyI6ImdJR0NnNFNGaG9lSWlZcUxqSTJPajVDUmtwT1VsWmFYbUptYW01eWRucCtnb2FLanBLV21wN"
     "mlwcXF1c3JhNnZzTEd5czdTMXRyZTR1YnE3dkwyK3Z3PT0iLCJuZXd1aXMiOiJ3TUhDdzhURnhzZkl5Y"
     "3JMek0zT3o5RFIwdFBVMWRiWDJObmEyOXpkM3Q4PSJ9.C9_bqbx9xZAng8fYjpD3bp8UMf0Rr6vtSbDd"
     "y4v1VNA"
    },
    {2, 0, 0, "W", 1764000000ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjE3NjQwMDAwMDAsImFjdCI6IlciLCJjcnQiOiJNR"
     "GM9In0.luGLKzA5ZOxKmCo4MJkKCs-u2WC-eMThsSCGP0BUP4A"
    },
    {2, 0, 1, "R", 9007199254740991ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjkwMDcxOTkyNTQ3NDA5OTEsImFjdCI6IlIiLCJjc"
     "nQiOiJNRGM9IiwibmV3dWlzIjoid01IQ3c4VEZ4c2ZJeWNyTHpNM096OURSMHRQVTFkYlgyTm5hMjl6Z"
     "DN0OD0ifQ.A99Xk47df52BimI-61icIw8uNgSwQblI-Uk3HSkjFSo"
    },
    {2, 1, 0, "B", 0ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjAsImFjdCI6IkIiLCJjcnQiOiJNRGM9IiwibmV3Z"
     "ndzIjoiZ0lHQ2c0U0Zob2VJaVlxTGpJMk9qNUNSa3BPVWxaYVhtSm1hbTV5ZG5wK2dvYUtqcEtXbXA2a"
     "XBxcXVzcmE2dnNMR3lzN1MxdHJlNHVicTd2TDIrdnc9PSJ9.qMJl9nBsC7rh_U9vgP3-qB9ktyz7kxq-"
     "0YV4cqYBflY"
    },
    {2, 1, 1, "U", 9ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjksImFjdCI6IlUiLCJjcnQiOiJNRGM9IiwibmV3Z"
     "ndzIjoiZ0lHQ2c0U0Zob2VJaVlxTGpJMk9qNUNSa3BPVWxaYVhtSm1hbTV5ZG5wK2dvYUtqcEtXbXA2a"
     "XBxcXVzcmE2dnNMR3lzN1MxdHJlNHVicTd2TDIrdnc9PSIsIm5ld3VpcyI6IndNSEN3OFRGeHNmSXljc"
     "kx6TTNPejlEUjB0UFUxZGJYMk5uYTI5emQzdDg9In0.MOi-Vb0ad3xdpM9s1b4rKbFCo2zf83kyEOM5T"
     "UHilaE"
    },
    {3, 0, 0, "OK", 10ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjEwLCJhY3QiOiJPSyIsImNydCI6Ik1EYysifQ.P4"
     "m6UWRpqSbGwxQ66zT19eIn_YqlD6Arx5x3ODbe_Uo"
    },
    {3, 0, 1, "L", 1764000000ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjE3NjQwMDAwMDAsImFjdCI6IkwiLCJjcnQiOiJNR"
     "GMrIiwibmV3dWlzIjoid01IQ3c4VEZ4c2ZJeWNyTHpNM096OURSMHRQVTFkYlgyTm5hMjl6ZDN0OD0if"
     "Q.yDERpd9qO78CrhKRtg5fPr_mhzi1hs72dxVV2v9Y410"
    },
    {3, 1, 0, "W", 9007199254740991ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjkwMDcxOTkyNTQ3NDA5OTEsImFjdCI6IlciLCJjc"
     "nQiOiJNRGMrIiwibmV3ZndzIjoiZ0lHQ2c0U0Zob2VJaVlxTGpJMk9qNUNSa3BPVWxaYVhtSm1hbTV5Z"
     "G5wK2dvYUtqcEtXbXA2aXBxcXVzcmE2dnNMR3lzN1MxdHJlNHVicTd2TDIrdnc9PSJ9.UHTea8XxJPQu"
     "JKjvDH1rv1KKNleoWVrLtUEI2LMncHk"
    },
    {3, 1, 1, "R", 0ULL,
     "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ.eyJqdGkiOiJJQ0VpSXlRb"
     "EppY29LU29yTEMwdUx6QXhNak0wTlRZM09EazZPenc5UGo4PSIsImlzcyI6IlFFRkNRMFJGUmtkSVNVc"
     "ExURTFPVDFCUlVsTlVWVlpYV0ZsYVcxeGRYbDg9IiwiYXVkIjoiWUdGaVkyUmxabWRvYVdwcmJHMXViM"
     "0J4Y25OMGRYWjNlSGw2ZTN4OWZuOD0iLCJpYXQiOjAsImFjdCI6IlIiLCJjcnQiOiJNRGMrIiwibmV3Z"
     "ndzIjoiZ0lHQ2c0U0Zob2VJaVlxTGpJMk9qNUNSa3BPVWxaYVhtSm1hbTV5ZG5wK2dvYUtqcEtXbXA2a"
     "XBxcXVzcmE2dnNMR3lzN1MxdHJlNHVicTd2TDIrdnc9PSIsIm5ld3VpcyI6IndNSEN3OFRGeHNmSXljc"
     "kx6TTNPejlEUjB0UFUxZGJYMk5uYTI5emQzdDg9In0.XLv1W0HgR1ijH1D2RNBJbDbVMSe550d0p1wqU"
     "zGLjDg"
    },
};

static void test_known_answers(void)
{
    size_t v;
    fields f;

    known_fields(&f);
    for (v = 0; v < sizeof known / sizeof known[0]; v++) {
        size_t want = strlen(known[v].token);
        char *out;
        ptrdiff_t r;

        f.crt_len = known[v].crt_len;
        f.has_newfws = known[v].has_newfws;
        f.has_newuis = known[v].has_newuis;
        f.act = known[v].act;
        f.iat = known[v].iat;
        CHECKF(length_of(&f) == want, "case %zu: hem_checked_len %zu, want %zu", v,
               length_of(&f), want);
        r = sign_exact(&f, want, NULL, 0, NULL, &out);
        CHECKF(r == (ptrdiff_t)want && memcmp(out, known[v].token, want) == 0,
               "case %zu: result %ld", v, (long)r);
        free(out);
    }
}

/* The largest replies: a certificate of HEM_REPLY_MAX_CRT bytes, every claim, the largest
 * iat; with the default header (6043 characters) and with a header of HEM_REPLY_MAX_HEADER
 * 'A's (HEM_REPLY_MAX_LEN characters). Compared by their SHA-256 (from the reference). */
static void test_largest(void)
{
    static char long_header[HEM_REPLY_MAX_HEADER + 1];
    static const struct {
        int long_header;
        size_t length;
        const char *sha256;
    } cases[] = {
        {0, 6043, "0ecfac96c4fd139a884eb5d858d7c66f6b390fe2dee7551d86773fb92800e2fb"},
        {1, HEM_REPLY_MAX_LEN, "008f90f5a131b9440f0fb34189f6f13e724ccd27f39dca3692123dfcb5876b29"},
    };
    size_t c;
    fields f;

    memset(long_header, 'A', HEM_REPLY_MAX_HEADER);
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char digest[HEM_SHA256_SIZE], want[HEM_SHA256_SIZE];
        char *out;
        ptrdiff_t r;

        known_fields(&f);
        f.crt_len = HEM_REPLY_MAX_CRT;
        f.has_newfws = f.has_newuis = 1;
        f.iat = HEM_REPLY_MAX_IAT;
        if (cases[c].long_header)
            f.header = long_header;
        CHECK(length_of(&f) == cases[c].length);
        r = sign_exact(&f, cases[c].length, NULL, 0, NULL, &out);
        CHECKF(r == (ptrdiff_t)cases[c].length, "case %zu: result %ld", c, (long)r);
        if (r > 0) {
            hem_sha256(out, (size_t)r, digest);
            from_hex(cases[c].sha256, want, sizeof want);
            CHECKF(memcmp(digest, want, sizeof want) == 0, "case %zu: digest", c);
        }
        free(out);
    }
}

/* ---- a second opinion on random fields ----------------------------------------------------- */

/* Padded standard base64, one bit at a time from the alphabet string: nothing shared with
 * hemcodec. Returns the characters written. */
static size_t slow_base64(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t bits = n * 8u, i, written = 0;

    for (i = 0; i < bits; i += 6u) {
        unsigned value = 0, b;
        for (b = 0; b < 6u; b++) {
            size_t bit = i + b;
            unsigned one = bit < bits ? (in[bit / 8u] >> (7u - bit % 8u)) & 1u : 0u;
            value = value << 1 | one;
        }
        out[written++] = alphabet[value];
    }
    while (written % 4u)
        out[written++] = '=';
    return written;
}

/* The payload the header promises, built with sprintf and slow_base64. */
static size_t expected_payload(const fields *f, char *json)
{
    size_t n = 0;

    n += (size_t)sprintf(json + n, "{\"jti\":\"");
    n += slow_base64(f->jti, 32, json + n);
    n += (size_t)sprintf(json + n, "\",\"iss\":\"");
    n += slow_base64(f->iss, 32, json + n);
    n += (size_t)sprintf(json + n, "\",\"aud\":\"");
    n += slow_base64(f->aud, 32, json + n);
    n += (size_t)sprintf(json + n, "\",\"iat\":%llu,\"act\":\"%s\"", f->iat, f->act);
    if (f->crt_len) {
        n += (size_t)sprintf(json + n, ",\"crt\":\"");
        n += slow_base64(f->crt, f->crt_len, json + n);
        n += (size_t)sprintf(json + n, "\"");
    }
    if (f->has_newfws) {
        n += (size_t)sprintf(json + n, ",\"newfws\":\"");
        n += slow_base64(f->newfws, 64, json + n);
        n += (size_t)sprintf(json + n, "\"");
    }
    if (f->has_newuis) {
        n += (size_t)sprintf(json + n, ",\"newuis\":\"");
        n += slow_base64(f->newuis, 32, json + n);
        n += (size_t)sprintf(json + n, "\"");
    }
    n += (size_t)sprintf(json + n, "}");
    return n;
}

static void random_bytes(unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = xorshift_byte(&rng_state);
}

static const char *const actions[] = {"OK", "L", "W", "R", "B", "U"};

static void random_fields(fields *f, unsigned round)
{
    static const size_t crt_lengths[] = {0, 1, 2, 3, 4, 47, 48, 49, 509, 510, 511, 1000,
                                         HEM_REPLY_MAX_CRT};
    unsigned char pick[8];

    known_fields(f);
    random_bytes(f->key, 32);
    random_bytes(f->jti, 32);
    random_bytes(f->iss, 32);
    random_bytes(f->aud, 32);
    random_bytes(f->newfws, 64);
    random_bytes(f->newuis, 32);
    random_bytes(pick, sizeof pick);
    f->crt_len = crt_lengths[round % (sizeof crt_lengths / sizeof crt_lengths[0])];
    random_bytes(f->crt, f->crt_len);
    f->has_newfws = pick[0] & 1;
    f->has_newuis = pick[1] & 1;
    f->act = actions[pick[2] % 6u];
    f->iat = ((unsigned long long)pick[3] << 48 | (unsigned long long)pick[4] << 32 |
              (unsigned long long)pick[5] << 16 | pick[6]) %
             (HEM_REPLY_MAX_IAT + 1u);
    if (pick[7] < 32u)
        f->iat = pick[7]; /* short numbers too */
    if (memcmp(f->iss, f->aud, 32) == 0)
        f->aud[0] ^= 1u;
}

static void test_second_opinion(void)
{
    static char json[8192];
    static unsigned char decoded[8192];
    unsigned round;

    for (round = 0; round < 400; round++) {
        fields f;
        char *out;
        size_t length, json_len;
        ptrdiff_t r, total;
        hem_token_parts parts;
        unsigned char mac[HEM_SHA256_SIZE];

        random_fields(&f, round);
        length = length_of(&f);
        r = sign_exact(&f, length, NULL, 0, NULL, &out);
        CHECKF(r == (ptrdiff_t)length, "round %u: result %ld, length %zu", round, (long)r, length);
        if (r != (ptrdiff_t)length) {
            free(out);
            continue;
        }
        total = hem_token_decode(out, length, decoded, sizeof decoded, &parts, NULL);
        CHECKF(total > 0, "round %u: the token does not split", round);
        if (total > 0) {
            json_len = expected_payload(&f, json);
            CHECKF(parts.dot1 == strlen(default_header) &&
                       memcmp(out, default_header, parts.dot1) == 0,
                   "round %u: header", round);
            CHECKF(parts.payload_len == json_len &&
                       memcmp(decoded + parts.header_len, json, json_len) == 0,
                   "round %u: payload", round);
            hem_hmac_sha256(f.key, 32, out, parts.dot2, mac);
            CHECKF(parts.signature_len == 32 &&
                       memcmp(decoded + parts.header_len + parts.payload_len, mac, 32) == 0,
                   "round %u: MAC", round);
        }
        free(out);
    }
}

/* ---- room and refusals -------------------------------------------------------------------- */

static void test_room(void)
{
    fields f;
    unsigned round;

    for (round = 0; round < 40; round++) {
        size_t length;
        char *out;
        ptrdiff_t r;

        random_fields(&f, round);
        length = length_of(&f);
        r = sign_exact(&f, length - 1u, NULL, 0, NULL, &out);
        CHECKF(r == HEM_E_SPACE && untouched(out, length - 1u), "round %u: one short", round);
        free(out);
        r = sign_exact(&f, length + 7u, NULL, 0, NULL, &out);
        CHECKF(r == (ptrdiff_t)length && untouched(out + length, 7u), "round %u: room to spare",
               round);
        free(out);
    }
    known_fields(&f);
    {
        char *out;
        CHECK(sign_exact(&f, 0, NULL, 0, NULL, &out) == HEM_E_SPACE);
        free(out);
    }
}

typedef void (*spoil_fn)(fields *f);
static void spoil_reflected(fields *f) { memcpy(f->aud, f->iss, 32); }
static void spoil_iat(fields *f) { f->iat = HEM_REPLY_MAX_IAT + 1u; }
static void spoil_iat_huge(fields *f) { f->iat = ~0ULL; }
static void spoil_act_empty(fields *f) { f->act = ""; }
static void spoil_act_lower(fields *f) { f->act = "ok"; }
static void spoil_act_long(fields *f) { f->act = "OKK"; }
static void spoil_act_o(fields *f) { f->act = "O"; }
static void spoil_act_x(fields *f) { f->act = "X"; }
static void spoil_act_lk(fields *f) { f->act = "LK"; }
static void spoil_crt_long(fields *f) { f->crt_len = HEM_REPLY_MAX_CRT + 1u; }
static void spoil_header_empty(fields *f) { f->header = ""; }
static void spoil_header_dot(fields *f) { f->header = "eyJ.e30"; }
static void spoil_header_pad(fields *f) { f->header = "e30="; }
static void spoil_header_length(fields *f) { f->header = "e30AA"; }
static void spoil_header_bits(fields *f) { f->header = "e31"; }
static void spoil_header_long(fields *f)
{
    static char long_header[HEM_REPLY_MAX_HEADER + 2];
    memset(long_header, 'A', HEM_REPLY_MAX_HEADER + 1u);
    f->header = long_header;
}

/* An action's letters followed by a NUL byte, within act_len: not the action. */
static void test_act_with_a_nul(void)
{
    static const char *const acts[] = {"L", "W", "R", "B", "U", "O", ""};
    char act[3] = {0};
    char *out = xmalloc(HEM_REPLY_MAX_LEN);
    fields f;
    size_t k;

    known_fields(&f);
    for (k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        size_t n = strlen(acts[k]) + 1u;
        ptrdiff_t r;
        memcpy(act, acts[k], n);
        memset(out, 0xA5, HEM_REPLY_MAX_LEN);
        r = hem_checked_sign(f.key, f.jti, f.iss, f.aud, f.iat, act, n, NULL, 0, NULL, NULL,
                             f.header, strlen(f.header), out, HEM_REPLY_MAX_LEN);
        CHECKF(r == HEM_REPLY_E_FIELD && untouched(out, HEM_REPLY_MAX_LEN),
               "act \"%s\" and a NUL byte: %ld", acts[k], (long)r);
    }
    free(out);
}

static void test_refusals(void)
{
    static const struct {
        const char *what;
        spoil_fn spoil;
    } spoils[] = {
        {"iss == aud", spoil_reflected},      {"iat 2**53", spoil_iat},
        {"iat 2**64 - 1", spoil_iat_huge},    {"act empty", spoil_act_empty},
        {"act ok", spoil_act_lower},          {"act OKK", spoil_act_long},
        {"act O", spoil_act_o},               {"act X", spoil_act_x},
        {"act LK", spoil_act_lk},             {"crt too long", spoil_crt_long},
        {"header empty", spoil_header_empty}, {"header with a dot", spoil_header_dot},
        {"header padded", spoil_header_pad},  {"header of no length", spoil_header_length},
        {"header bits", spoil_header_bits},   {"header too long", spoil_header_long},
    };
    unsigned char *key, *ids, mac[32] = {0};
    char *out = xmalloc(HEM_REPLY_MAX_LEN);
    size_t s;

    for (s = 0; s < sizeof spoils / sizeof spoils[0]; s++) {
        fields f;
        char *token;
        ptrdiff_t r;

        known_fields(&f);
        f.crt_len = 100;
        spoils[s].spoil(&f);
        if (f.crt_len > HEM_REPLY_MAX_CRT) {
            /* Beyond the fields' buffer: a bigger one, all of it readable. */
            unsigned char *big = xmalloc(f.crt_len);
            memset(big, 0x30, f.crt_len);
            memset(out, 0xA5, HEM_REPLY_MAX_LEN);
            r = hem_checked_sign(f.key, f.jti, f.iss, f.aud, f.iat, f.act, strlen(f.act), big,
                                 f.crt_len, NULL, NULL, f.header, strlen(f.header), out,
                                 HEM_REPLY_MAX_LEN);
            CHECKF(r == HEM_REPLY_E_FIELD && untouched(out, HEM_REPLY_MAX_LEN), "%s",
                   spoils[s].what);
            free(big);
            continue;
        }
        /* Room enough for anything, and a MAC that does not match: the fields come first. */
        r = sign_exact(&f, HEM_REPLY_MAX_LEN, NULL, 0, NULL, &token);
        CHECKF(r == HEM_REPLY_E_FIELD && untouched(token, HEM_REPLY_MAX_LEN), "%s",
               spoils[s].what);
        free(token);
        r = sign_exact(&f, HEM_REPLY_MAX_LEN, (const unsigned char *)"x", 1, mac, &token);
        CHECKF(r == HEM_REPLY_E_FIELD && untouched(token, HEM_REPLY_MAX_LEN),
               "%s (check_answer)", spoils[s].what);
        free(token);
    }

    /* The pointer rules: crt NULL with a length, crt with length 0, act NULL. */
    key = xmalloc(32);
    ids = xmalloc(96);
    memset(key, 1, 32);
    random_bytes(ids, 96);
    memset(out, 0xA5, HEM_REPLY_MAX_LEN);
    CHECK(hem_checked_sign(key, ids, ids + 32, ids + 64, 1, "OK", 2, NULL, 5, NULL, NULL,
                           default_header, strlen(default_header), out,
                           HEM_REPLY_MAX_LEN) == HEM_REPLY_E_FIELD);
    CHECK(hem_checked_sign(key, ids, ids + 32, ids + 64, 1, "OK", 2, ids, 0, NULL, NULL,
                           default_header, strlen(default_header), out,
                           HEM_REPLY_MAX_LEN) == HEM_REPLY_E_FIELD);
    CHECK(hem_checked_sign(key, ids, ids + 32, ids + 64, 1, NULL, 0, NULL, 0, NULL, NULL,
                           default_header, strlen(default_header), out,
                           HEM_REPLY_MAX_LEN) == HEM_REPLY_E_FIELD);
    CHECK(hem_checked_sign(key, ids, ids + 32, ids + 64, 1, "OK", 2, NULL, 0, NULL, NULL, NULL,
                           0, out, HEM_REPLY_MAX_LEN) == HEM_REPLY_E_FIELD);
    CHECK(untouched(out, HEM_REPLY_MAX_LEN));
    free(ids);
    free(key);
    free(out);
}

/* ---- behind the MAC check ----------------------------------------------------------------- */

static void test_check_answer(void)
{
    unsigned round;

    for (round = 0; round < 60; round++) {
        fields f;
        unsigned char check_text[800], mac[HEM_SHA256_SIZE];
        size_t check_len = round * 13u % sizeof check_text, length;
        char *plain, *answered;
        ptrdiff_t r, a;

        random_fields(&f, round);
        random_bytes(check_text, check_len);
        hem_hmac_sha256(f.key, 32, check_text, check_len, mac);
        length = length_of(&f);

        r = sign_exact(&f, length, NULL, 0, NULL, &plain);
        a = sign_exact(&f, length, check_text, check_len, mac, &answered);
        CHECKF(a == r && r == (ptrdiff_t)length && memcmp(plain, answered, length) == 0,
               "round %u: hem_check_answer %ld, hem_checked_sign %ld", round, (long)a, (long)r);
        free(answered);

        /* Room is checked before the MAC: a short buffer is refused even with a good MAC. */
        a = sign_exact(&f, length - 1u, check_text, check_len, mac, &answered);
        CHECKF(a == HEM_E_SPACE && untouched(answered, length - 1u), "round %u: one short", round);
        free(answered);

        /* One bit of the MAC, or of the text, changed: refused, nothing written. */
        mac[round % 32u] ^= (unsigned char)(1u << (round % 8u));
        a = sign_exact(&f, length, check_text, check_len, mac, &answered);
        CHECKF(a == HEM_REPLY_E_MAC && untouched(answered, length), "round %u: MAC bit", round);
        free(answered);
        mac[round % 32u] ^= (unsigned char)(1u << (round % 8u));
        if (check_len) {
            check_text[round % check_len] ^= 0x80u;
            a = sign_exact(&f, length, check_text, check_len, mac, &answered);
            CHECKF(a == HEM_REPLY_E_MAC && untouched(answered, length), "round %u: text bit",
                   round);
            free(answered);
        }
        free(plain);
    }
}

int main(void)
{
    int best = hem_sha256_accelerated(), pass;

    for (pass = 0; pass < 2; pass++) {
        /* First the portable block function, then the one chosen at load. */
        CHECK(hem_sha256_select(pass == 0) == (pass == 0 ? 0 : best));
        rng_state = RNG_SEED;
        test_known_answers();
        test_largest();
        test_second_opinion();
        test_room();
        test_refusals();
        test_act_with_a_nul();
        test_check_answer();
    }
    printf("%lu passed, %lu failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
