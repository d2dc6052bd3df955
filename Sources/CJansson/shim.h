#ifndef CJANSSON_SHIM_H
#define CJANSSON_SHIM_H

#include <stddef.h>
#include <jansson.h>

/* Function-like macros of jansson.h are not imported into Swift; these expose what PinJSON needs. */

/** The type tag of a value (the `json_typeof` macro). */
static inline json_type cjansson_typeof(const json_t *value) { return value->type; }

/** Decoding flags: reject duplicate keys, accept any top-level value, allow "\u0000" in strings. */
static inline size_t cjansson_decode_flags(void) { return JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL; }

/** Encoding flags: any top-level value, compact or indented by two spaces, 17 significant digits for reals. */
static inline size_t cjansson_encode_flags(int pretty)
{
    return JSON_ENCODE_ANY | JSON_REAL_PRECISION(17) | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
}

/** Log line flags: compact, every non-ASCII character escaped, 15 significant digits (1.1, not 1.1000000000000001). */
static inline size_t cjansson_log_line_flags(void)
{
    return JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15);
}

#endif
