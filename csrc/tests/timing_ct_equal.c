/*
 * timing_ct_equal: a statistical timing test of hem_ct_equal and of hem_hs256_verify, after
 * dudect (O. Reparaz, J. Balasch, I. Verbauwhede, "Dude, is my code constant time?",
 * DATE 2017).
 *
 * Method. Each measurement times a batch of calls on inputs of one of two classes, chosen
 * at random per measurement so that drift in the machine's state hits both classes alike:
 *   class 0: a and b equal (random contents, fresh for every measurement);
 *   class 1: the same, but b differs from a in its first byte: the worst case for a
 *            compare that stops at the first difference.
 * The two timing distributions are compared with Welch's t-test, as dudect does: on the
 * raw measurements, on measurements cropped at 100 percentiles (the distribution has a fat
 * right tail of interrupts and cache misses, which swamps small differences), and on the
 * squared centred measurements (a difference in spread, not mean). The largest |t| of
 * these is the verdict; dudect's threshold is 10: below it, no leak was detected.
 *
 * Clock resolution. dudect times single calls with the cycle counter. Where that counter
 * (or the clock_gettime fallback) advances in coarse steps (26 cycles on some virtual
 * machines), a short call falls into two or three values and the cropped tests see no
 * spread at all. So the test first measures the clock's step, then times batches of 1, 2,
 * 4, ... calls on the same inputs until a measurement spans at least 50 steps.
 *
 * Power. The same harness measures an early-exit compare (the memcmp idiom) and must find
 * it leaking, with |t| above the threshold: a timing test that cannot see that leak proves
 * nothing about the real one.
 *
 * MAC check. hem_hs256_verify is measured the same way, on a fixed key and a message the
 * size of a device check's signed part, with a MAC wrong in its last byte (class 0) or in
 * its first byte (class 1): the two cases an early exit after the HMAC tells apart. Its
 * power check is that same HMAC followed by the early-exit compare. The block function is
 * the one the library chose when it was loaded, and the run prints which.
 *
 * Noise. A busy machine can produce a spurious large t, so the constant-time compare gets
 * up to three attempts and passes on the first one below the threshold (as does the power
 * check, on the first attempt above it). Everything is printed.
 *
 *   timing_ct_equal [MEASUREMENTS]      default 1000000 per attempt
 *
 * Exit status 0 when hem_ct_equal and hem_hs256_verify show no leak and the two early-exit
 * versions do, else 1.
 * Build with -DHEM_TIMING_PORTABLE to use clock_gettime instead of the x86 cycle counter.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */

#include "hemcodec.h"
#include "hemmac.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the clock ------------------------------------------------------------------------ */

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(HEM_TIMING_PORTABLE)
/* The time-stamp counter: the cheapest clock there is. rdtsc is not ordered with the
 * instructions around it; mfence and lfence keep it from being executed before the work
 * it is meant to follow (dudect fences the same way). */
#define CLOCK_NAME "rdtsc (cycles)"
static uint64_t now(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("mfence\n\tlfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return (uint64_t)hi << 32 | lo;
}
#else
/* Portable fallback: nanoseconds, with a cost and a step of tens of them on common
 * systems; the batch calibration below makes up for that. */
#define CLOCK_NAME "clock_gettime(CLOCK_MONOTONIC) (ns)"
static uint64_t now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

/* ---- inputs ----------------------------------------------------------------------------- */

/* xorshift64: deterministic, so a run can be repeated, and cheap enough to refill the
 * buffers for every measurement. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

static void fill_random(unsigned char *p, size_t n)
{
    size_t i;
    uint64_t r = 0;

    for (i = 0; i < n; i++) {
        if (i % 8u == 0)
            r = rng();
        p[i] = (unsigned char)r;
        r >>= 8;
    }
}

/* ---- Welch's t-test, kept online as dudect does (Welford's update) ---------------------- */

struct welch {
    double n[2], mean[2], m2[2];
};

static void push(struct welch *w, double x, int c)
{
    double delta = x - w->mean[c];
    w->n[c] += 1.0;
    w->mean[c] += delta / w->n[c];
    w->m2[c] += delta * (x - w->mean[c]);
}

/* Folds the statistics of a disjoint set of measurements into w (Chan et al.). */
static void merge(struct welch *w, const struct welch *o)
{
    int c;

    for (c = 0; c < 2; c++) {
        double n = w->n[c] + o->n[c], delta = o->mean[c] - w->mean[c];
        if (o->n[c] == 0.0)
            continue;
        w->m2[c] += o->m2[c] + delta * delta * w->n[c] * o->n[c] / n;
        w->mean[c] += delta * o->n[c] / n;
        w->n[c] = n;
    }
}

static double t_value(const struct welch *w)
{
    double v0, v1, den;

    if (w->n[0] < 2.0 || w->n[1] < 2.0)
        return 0.0;
    v0 = w->m2[0] / (w->n[0] - 1.0);
    v1 = w->m2[1] / (w->n[1] - 1.0);
    den = sqrt(v0 / w->n[0] + v1 / w->n[1]);
    return den > 0.0 ? (w->mean[0] - w->mean[1]) / den : 0.0;
}

/* ---- the measurement -------------------------------------------------------------------- */

typedef int (*compare_fn)(const void *, const void *, size_t);

/* The mistake hem_ct_equal exists to avoid: it returns at the first differing byte. */
static int early_exit_equal(const void *a, const void *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    size_t i;

    for (i = 0; i < n; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

#define THRESHOLD 10.0       /* dudect's t_threshold_moderate */
#define PERCENTILES 100      /* dudect's cropping thresholds */
#define ENOUGH 10000.0       /* dudect: no verdict from a test with fewer per class */
#define WARMUP 10000         /* measurements run and thrown away before each attempt */
#define ATTEMPTS 3
#define MIN_STEPS 50         /* a measurement must span at least this many clock steps */
#define MAX_CALLS 1024       /* calls per measurement, at most */

static volatile unsigned int sink; /* keeps the results alive */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

struct verdict {
    double max_t;     /* the largest |t| over all the tests */
    double raw_t;     /* t on the uncropped measurements */
    const char *test; /* which test gave max_t */
    int crop;         /* its percentile index, for the cropped tests */
    double kept;      /* measurements in that test */
};

/* The smallest non-zero difference between two readings of the clock: its resolution,
 * or the cost of reading it, whichever is larger. */
static uint64_t clock_step(void)
{
    uint64_t best = UINT64_MAX, t0, t1;
    int i;

    for (i = 0; i < 100000; i++) {
        t0 = now();
        t1 = now();
        if (t1 > t0 && t1 - t0 < best)
            best = t1 - t0;
    }
    return best;
}

/* The fewest calls per measurement (a power of two) whose median time on equal inputs,
 * the slowest case for an early exit, spans at least MIN_STEPS clock steps. */
static unsigned int calibrate(compare_fn fn, size_t n, uint64_t step, uint32_t *scratch)
{
    compare_fn volatile call = fn;
    unsigned char *a = calloc(n, 1), *b = calloc(n, 1);
    unsigned int calls, results = 0, k;
    int i;

    if (!a || !b) {
        fputs("out of memory\n", stderr);
        exit(2);
    }
    for (calls = 1; calls < MAX_CALLS; calls *= 2) {
        for (i = 0; i < 1001; i++) {
            uint64_t t0 = now(), t1;
            for (k = 0; k < calls; k++)
                results += (unsigned int)call(a, b, n);
            t1 = now();
            scratch[i] = t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);
        }
        qsort(scratch, 1001, sizeof *scratch, cmp_u32);
        if (scratch[500] >= MIN_STEPS * step)
            break;
    }
    sink = results;
    free(a);
    free(b);
    return calls;
}

static struct verdict analyse(const uint32_t *times, const unsigned char *classes,
                              size_t count, uint32_t *sorted);

/* Times `count` measurements of `calls` calls of fn on n-byte inputs, then runs the
 * t-tests. */
static struct verdict measure(compare_fn fn, size_t n, unsigned int calls, size_t count,
                              uint32_t *times, unsigned char *classes, uint32_t *sorted)
{
    /* Called through a volatile pointer: never inlined into the loop, the same call
     * sequence for both compares, and no chance for the compiler to see the inputs. */
    compare_fn volatile call = fn;
    unsigned char *a = malloc(n), *b = malloc(n);
    unsigned int results = 0, k;
    size_t i;

    if (!a || !b) {
        fputs("out of memory\n", stderr);
        exit(2);
    }
    for (i = 0; i < WARMUP + count; i++) {
        uint64_t r = rng(), t0, t1;
        unsigned int cls = (unsigned int)(r & 1u);
        /* 0 for class 0, 1..255 for class 1, chosen without a branch on the class */
        unsigned char delta = (unsigned char)((1u + (unsigned int)(r >> 8) % 255u) & (0u - cls));

        fill_random(a, n);
        memcpy(b, a, n);
        b[0] ^= delta;
        t0 = now();
        for (k = 0; k < calls; k++)
            results += (unsigned int)call(a, b, n);
        t1 = now();
        if (i >= WARMUP) {
            times[i - WARMUP] = t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);
            classes[i - WARMUP] = (unsigned char)cls;
        }
    }
    sink = results;
    free(a);
    free(b);
    return analyse(times, classes, count, sorted);
}

/* The t-tests on `count` measurements and their classes; sorted is scratch space. */
static struct verdict analyse(const uint32_t *times, const unsigned char *classes,
                              size_t count, uint32_t *sorted)
{
    uint32_t thresholds[PERCENTILES];
    struct welch bins[PERCENTILES + 1], acc, second;
    struct verdict v = {0.0, 0.0, "raw", -1, 0.0};
    size_t i;
    int j;

    /* Cropping thresholds as in dudect: keep the fastest 1 - 0.5^(10 (j+1) / 100) of the
     * measurements, from about 7% up to all but 0.1%, both classes pooled. */
    memcpy(sorted, times, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, cmp_u32);
    for (j = 0; j < PERCENTILES; j++)
        thresholds[j] = sorted[(size_t)((double)count *
                                        (1.0 - pow(0.5, 10.0 * (j + 1) / PERCENTILES)))];

    /* Each measurement goes to one bin: the first crop that keeps it (x < threshold), or
     * the last bin, kept only by the raw test. Crop j is then bins 0..j merged, which
     * gives all 101 first-order tests in one pass over the data. */
    memset(bins, 0, sizeof bins);
    for (i = 0; i < count; i++) {
        int lo = 0, hi = PERCENTILES;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (times[i] < thresholds[mid])
                hi = mid;
            else
                lo = mid + 1;
        }
        push(&bins[lo], (double)times[i], classes[i]);
    }
    memset(&acc, 0, sizeof acc);
    for (j = 0; j <= PERCENTILES; j++) {
        double t;
        merge(&acc, &bins[j]);
        if (acc.n[0] <= ENOUGH || acc.n[1] <= ENOUGH)
            continue;
        t = t_value(&acc);
        if (fabs(t) > v.max_t) {
            v.max_t = fabs(t);
            v.test = j < PERCENTILES ? "cropped" : "raw";
            v.crop = j < PERCENTILES ? j : -1;
            v.kept = acc.n[0] + acc.n[1];
        }
    }
    v.raw_t = t_value(&acc); /* after the last merge, acc holds every measurement */

    /* Second order: squared distance from the class mean, a difference in variance. */
    memset(&second, 0, sizeof second);
    for (i = 0; i < count; i++) {
        double d = (double)times[i] - acc.mean[classes[i]];
        push(&second, d * d, classes[i]);
    }
    if (fabs(t_value(&second)) > v.max_t) {
        v.max_t = fabs(t_value(&second));
        v.test = "second-order";
        v.crop = -1;
        v.kept = (double)count;
    }
    return v;
}

/* ---- the MAC check ---------------------------------------------------------------------- */

typedef int (*verify_fn)(const void *, size_t, const void *, size_t, const unsigned char *);

/* The same mistake one level up: compute the MAC, then compare with an early exit. */
static int early_exit_verify(const void *key, size_t key_len, const void *msg, size_t msg_len,
                             const unsigned char mac[HEM_SHA256_SIZE])
{
    unsigned char expected[HEM_SHA256_SIZE];

    hem_hmac_sha256(key, key_len, msg, msg_len, expected);
    return early_exit_equal(expected, mac, sizeof expected);
}

#define MAC_KEY 32  /* an HS256 key */
#define MAC_MSG 717 /* "header.payload" of a device check with "uis" */

/* The inputs of one attempt: a fixed key and message, their MAC, and the MAC to present. */
struct mac_inputs {
    unsigned char key[MAC_KEY], msg[MAC_MSG], mac[HEM_SHA256_SIZE], probe[HEM_SHA256_SIZE];
};

static void mac_inputs_init(struct mac_inputs *in)
{
    fill_random(in->key, sizeof in->key);
    fill_random(in->msg, sizeof in->msg);
    hem_hmac_sha256(in->key, sizeof in->key, in->msg, sizeof in->msg, in->mac);
    memcpy(in->probe, in->mac, sizeof in->probe);
}

/* The MAC with one byte changed by a non-zero delta: the last for class 0, the first for
 * class 1. */
static void mac_inputs_probe(struct mac_inputs *in, uint64_t r, unsigned int cls)
{
    size_t pos = (size_t)(31u & (cls - 1u)); /* 31 for class 0, 0 for class 1 */

    memcpy(in->probe, in->mac, sizeof in->probe);
    in->probe[pos] ^= (unsigned char)(1u + (unsigned int)(r >> 8) % 255u);
}

/* As calibrate, for a MAC check: the fewest calls per measurement (a power of two) whose
 * median time spans at least MIN_STEPS clock steps. */
static unsigned int calibrate_verify(verify_fn fn, uint64_t step, uint32_t *scratch)
{
    verify_fn volatile call = fn;
    struct mac_inputs in;
    unsigned int calls, results = 0, k;
    int i;

    mac_inputs_init(&in);
    mac_inputs_probe(&in, rng(), 0);
    for (calls = 1; calls < MAX_CALLS; calls *= 2) {
        for (i = 0; i < 1001; i++) {
            uint64_t t0 = now(), t1;
            for (k = 0; k < calls; k++)
                results += (unsigned int)call(in.key, MAC_KEY, in.msg, MAC_MSG, in.probe);
            t1 = now();
            scratch[i] = t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);
        }
        qsort(scratch, 1001, sizeof *scratch, cmp_u32);
        if (scratch[500] >= MIN_STEPS * step)
            break;
    }
    sink = results;
    return calls;
}

/* As measure, for a MAC check: classes as mac_inputs_probe makes them. */
static struct verdict measure_verify(verify_fn fn, unsigned int calls, size_t count,
                                     uint32_t *times, unsigned char *classes, uint32_t *sorted)
{
    verify_fn volatile call = fn;
    struct mac_inputs in;
    unsigned int results = 0, k;
    size_t i;

    mac_inputs_init(&in);
    for (i = 0; i < WARMUP + count; i++) {
        uint64_t r = rng(), t0, t1;
        unsigned int cls = (unsigned int)(r & 1u);

        mac_inputs_probe(&in, r, cls);
        t0 = now();
        for (k = 0; k < calls; k++)
            results += (unsigned int)call(in.key, MAC_KEY, in.msg, MAC_MSG, in.probe);
        t1 = now();
        if (i >= WARMUP) {
            times[i - WARMUP] = t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);
            classes[i - WARMUP] = (unsigned char)cls;
        }
    }
    sink = results;
    return analyse(times, classes, count, sorted);
}

/* ---- the checks ------------------------------------------------------------------------ */

struct check {
    const char *name;
    compare_fn fn;     /* a compare of n bytes, or NULL for a MAC check: */
    verify_fn verify;  /* a MAC check, of n = 32 bytes */
    size_t n;
    int must_leak; /* 1: the power check, which passes when the leak is detected */
};

static const struct check checks[] = {
    {"hem_ct_equal", hem_ct_equal, NULL, 32, 0},
    {"hem_ct_equal", hem_ct_equal, NULL, 256, 0},
    {"early-exit compare", early_exit_equal, NULL, 32, 1},
    {"early-exit compare", early_exit_equal, NULL, 256, 1},
    {"hem_hs256_verify", NULL, hem_hs256_verify, HEM_SHA256_SIZE, 0},
    {"early-exit verify", NULL, early_exit_verify, HEM_SHA256_SIZE, 1},
};

int main(int argc, char **argv)
{
    size_t count = 1000000, c;
    uint32_t *times, *sorted;
    unsigned char *classes;
    int failures = 0, attempt;
    uint64_t step;

    if (argc > 1) {
        count = (size_t)strtoul(argv[1], NULL, 10);
        if (count < 4u * (size_t)ENOUGH) {
            fprintf(stderr, "usage: %s [MEASUREMENTS], at least %lu\n", argv[0],
                    (unsigned long)(4u * (size_t)ENOUGH));
            return 2;
        }
    }
    times = malloc(count * sizeof *times);
    sorted = malloc(count * sizeof *sorted);
    classes = malloc(count);
    if (!times || !sorted || !classes) {
        fputs("out of memory\n", stderr);
        return 2;
    }

    step = clock_step();
    printf("clock: %s, step %lu; %lu measurements per attempt\n", CLOCK_NAME,
           (unsigned long)step, (unsigned long)count);
    printf("classes: equal inputs vs. inputs differing in the first byte, interleaved at "
           "random\n  (MAC checks: a %d-byte message, a MAC wrong in the last byte vs. in the "
           "first;\n  SHA-256 block function: %s)\n"
           "verdict: max |t| over raw, %d cropped and second-order Welch t-tests; "
           "leak when > %.0f\n",
           MAC_MSG, hem_sha256_accelerated() ? "SHA extensions" : "portable C", PERCENTILES,
           THRESHOLD);

    for (c = 0; c < sizeof checks / sizeof checks[0]; c++) {
        const struct check *k = &checks[c];
        unsigned int calls = k->verify ? calibrate_verify(k->verify, step, times)
                                       : calibrate(k->fn, k->n, step, times);
        int passed = 0;

        for (attempt = 1; attempt <= ATTEMPTS && !passed; attempt++) {
            struct verdict v =
                k->verify ? measure_verify(k->verify, calls, count, times, classes, sorted)
                          : measure(k->fn, k->n, calls, count, times, classes, sorted);
            int leak = v.max_t > THRESHOLD;
            passed = leak == k->must_leak;
            printf("%-18s %3lu bytes x %u, attempt %d: max |t| = %8.2f (%s", k->name,
                   (unsigned long)k->n, calls, attempt, v.max_t, v.test);
            if (v.crop >= 0)
                printf(" at percentile %d", v.crop);
            printf(", %.0f measurements), raw t = %+.2f: %s\n", v.kept, v.raw_t,
                   leak ? "LEAK DETECTED" : "no leak detected");
        }
        if (!passed) {
            printf("FAIL: %s on %lu bytes: %s\n", k->name, (unsigned long)k->n,
                   k->must_leak ? "the test could not detect a known leak"
                                : "timing depends on the data");
            failures++;
        }
    }
    free(classes);
    free(sorted);
    free(times);
    printf(failures ? "timing: FAILED\n" : "timing: passed\n");
    return failures ? 1 : 0;
}
