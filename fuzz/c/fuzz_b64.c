/*
 * libFuzzer target: hem_b64_decode and hem_b64_encode (standard alphabet, '=' padded).
 *
 * For every input: either it decodes and the output re-encodes to exactly the input, or it
 * is refused with HEM_E_CHAR, HEM_E_PADDING, HEM_E_LENGTH or HEM_E_TRAILING at the offset
 * hemcodec.h documents; in both cases the slow reference decoder in fuzz_common.h agrees
 * on the result, the bytes and the offset. Also: the input taken as bytes round-trips
 * through the encoder, and the capacity contracts hold. Any violation abort()s.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decoder(data, size, hem_b64_decode, hem_b64_encode, ref_std_decode, REF_STD, 1,
                  hem_b64_encoded_len);
    return 0;
}
