/*
 * hemjson: one linear pass that tells a strict JSON decoder whether a text needs its slow,
 * checking path. C99, no allocation (the caller lends a work area), no global state,
 * thread safe. It builds no values: it finds the first thing a strict decoder of I-JSON
 * (RFC 7493) with a depth cap would refuse, or says there is none.
 *
 * The verdict is the first of these, in this order:
 *
 *   HEM_JSON_UTF8       the text is not UTF-8 (RFC 3629: no overlong form, no surrogate,
 *                       nothing above U+10FFFF). offset: the first byte of the first
 *                       sequence that is not a character.
 *   HEM_JSON_DEPTH      counting brackets outside strings (a string runs from a '"' to the
 *                       next '"' not taken by a backslash, or to the end), the first '[' or
 *                       '{' at which the count of opened minus closed brackets exceeds
 *                       HEM_JSON_MAX_DEPTH. offset: that bracket. Counted over the whole
 *                       text before, and regardless of, its syntax.
 *
 * then, reading the text as JSON (RFC 8259) from its start, the first event of:
 *
 *   HEM_JSON_SYNTAX     the text cannot be JSON text: offset is the first byte that no JSON
 *                       text continues the bytes before it with (the text's length when it
 *                       ends early). A control character in a string, an unknown escape,
 *                       a bad \u escape, a missing delimiter, anything after the value.
 *   HEM_JSON_INTEGER    a number without fraction or exponent whose magnitude is over
 *                       2**53 - 1. offset: its first byte ('-' or a digit).
 *   HEM_JSON_NUMBER     a number with a fraction or an exponent that a strict decoder does
 *                       not convert: one longer than HEM_JSON_MAX_FLOAT_LEN bytes (a double
 *                       holds 17 significant digits, and converting a long literal exactly
 *                       can take tens of microseconds), or one that a correctly rounded
 *                       conversion to an IEEE double turns into an infinity (magnitude at
 *                       least 2**1024 - 2**970). offset: its first byte.
 *   HEM_JSON_CONSTANT   NaN, Infinity or -Infinity where a value starts (these are not
 *                       JSON, but a decoder that refuses them must see them as values).
 *                       offset: its first byte.
 *   HEM_JSON_DUPLICATE  an object that closes with two members of the same name: names
 *                       compare as code points after decoding escapes, a \uD800-\uDBFF
 *                       escape directly followed by a \uDC00-\uDFFF escape being one code
 *                       point. offset: the opening quote of the first member whose name an
 *                       earlier member of that object has. The event is the closing brace.
 *
 * A number or constant is an event where it starts and is read whole first (a number ends
 * as RFC 8259's grammar reads it: "01" is the number 0 and then a syntax error at "1").
 *
 * With HEM_JSON_SYNTAX the verdict also says where the innermost unfinished thing began:
 * context (HEM_JSON_IN_*) and resume. The bytes from resume to the error, after what the
 * context names, make a short text that fails as the whole one does: a decoder that words
 * its own syntax errors need not read, let alone build, every value that came before. A
 * number's tail (a '.' or an exponent marker without digits) reads as part of the number:
 * an error there is in the number's context.
 *
 *   HEM_JSON_CLEAN      none of the above: the text is JSON, and a strict decoder may take
 *                       its fast path. offset: the first byte of the value (after any
 *                       leading whitespace), which says its type. flags say what code points
 *                       it holds:
 *                       HEM_JSON_RAW_NONCHARACTER: a noncharacter (U+FDD0..U+FDEF, and
 *                       U+xFFFE, U+xFFFF of every plane) written as UTF-8;
 *                       HEM_JSON_ESCAPED_FORBIDDEN: a string with a \u escape that spells a
 *                       surrogate that is not half of a pair (as above), or a noncharacter.
 *
 * flags are 0 with every other kind. The order of events is the order in which a decoder
 * that reads left to right, and checks each value as it completes it, meets them; so a
 * strict decoder raises, for any text, the error of this verdict's kind.
 *
 * hem_json_scan_outline gives the same verdict and, for a clean text, its outline: how many
 * values it holds and where the members of its top-level object are, so that a caller can
 * refuse a text for its size or its shape without building any of it.
 */
#ifndef HEMJSON_H
#define HEMJSON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HEM_JSON_MAX_DEPTH 16
/* Longest number with a fraction or an exponent, in bytes, sign included. */
#define HEM_JSON_MAX_FLOAT_LEN 32
/* Longest text the scan takes (its offsets are 32-bit inside the work area). */
#define HEM_JSON_MAX_LEN 0x7FFFFFFFu

#define HEM_JSON_CLEAN 0
#define HEM_JSON_UTF8 1
#define HEM_JSON_DEPTH 2
#define HEM_JSON_SYNTAX 3
#define HEM_JSON_INTEGER 4
#define HEM_JSON_NUMBER 5
#define HEM_JSON_CONSTANT 6
#define HEM_JSON_DUPLICATE 7

#define HEM_JSON_RAW_NONCHARACTER 1u
#define HEM_JSON_ESCAPED_FORBIDDEN 2u

/* The contexts of a syntax error, and what resume is in each. An item or member "at resume"
 * starts there, whitespace before it included: the innermost array or object had opened
 * (FIRST) or taken a ',' (NEXT) just before resume. */
#define HEM_JSON_IN_TOP 0       /* the top-level value, no container open: resume is 0 */
#define HEM_JSON_AFTER_TOP 1    /* after the top-level value, which ends at resume */
#define HEM_JSON_FIRST_ITEM 2   /* an array's first item, at resume */
#define HEM_JSON_NEXT_ITEM 3    /* an array's next item, at resume */
#define HEM_JSON_AFTER_ITEM 4   /* after an array's item, which ends at resume */
#define HEM_JSON_FIRST_MEMBER 5 /* an object's first member (name, ':', value), at resume */
#define HEM_JSON_NEXT_MEMBER 6  /* an object's next member, at resume */
#define HEM_JSON_AFTER_MEMBER 7 /* after an object's member, whose value ends at resume */

typedef struct {
    int kind;       /* HEM_JSON_CLEAN .. HEM_JSON_DUPLICATE */
    unsigned flags; /* with HEM_JSON_CLEAN only */
    size_t offset;  /* byte offset in the text, as each kind says */
    int context;    /* with HEM_JSON_SYNTAX only (else 0): HEM_JSON_IN_TOP .. AFTER_MEMBER */
    size_t resume;  /* with HEM_JSON_SYNTAX only (else 0): as context says */
} hem_json_verdict;

/* How many top-level members an outline locates. */
#define HEM_JSON_OUTLINE_MEMBERS 64

/* A clean text's outline. Member names are not values: {"a":[1,2]} holds 4 values. */
typedef struct {
    size_t values;  /* every value, at every depth: objects, arrays, strings, numbers, true,
                       false and null */
    size_t members; /* members of the top-level value when it is an object, else 0 */
    /* For members k < min(members, HEM_JSON_OUTLINE_MEMBERS), in text order: the offset of
     * the opening quote of member k's name, and of the first byte of its value. */
    size_t name_at[HEM_JSON_OUTLINE_MEMBERS];
    size_t value_at[HEM_JSON_OUTLINE_MEMBERS];
} hem_json_outline;

/* Bytes of work area hem_json_scan needs for a text of text_len bytes: about 12 per byte
 * (room for every member name the text can hold, twice, to sort them). */
size_t hem_json_work_size(size_t text_len);

/* Scan text_len bytes at text (NULL allowed when text_len is 0). work is any writable
 * memory of work_size bytes, no alignment needed, contents ignored and overwritten.
 * Returns 0 with *verdict filled; -1, leaving *verdict as it was, when text_len is over
 * HEM_JSON_MAX_LEN or work_size is under hem_json_work_size(text_len). Time is linear in
 * text_len, apart from sorting the member names of each object that has more than a few
 * (n log n in their number). */
int hem_json_scan(const char *text, size_t text_len, void *work, size_t work_size,
                  hem_json_verdict *verdict);

/* hem_json_scan, in the same time and with the same work area, also filling *outline:
 * for a clean text as above, for any other verdict values and members 0 (and no offsets).
 * Returns as hem_json_scan does, leaving both as they were on -1. */
int hem_json_scan_outline(const char *text, size_t text_len, void *work, size_t work_size,
                          hem_json_verdict *verdict, hem_json_outline *outline);

#ifdef __cplusplus
}
#endif

#endif /* HEMJSON_H */
