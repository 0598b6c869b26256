/* The vendor's published check example, shared by the self-tests that use it. */
#ifndef HEM_TESTS_SAMPLE_CHECK_H
#define HEM_TESTS_SAMPLE_CHECK_H

/* The vendor's published check example, a real device token (with "uis"), as in
 * examples/gateway_example.c and tests/vectors/seed_check.json. */
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

#endif /* HEM_TESTS_SAMPLE_CHECK_H */
