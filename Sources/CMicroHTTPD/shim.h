#ifndef CMICROHTTPD_SHIM_H
#define CMICROHTTPD_SHIM_H

#include <stdint.h>
#include <sys/types.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>

/* Variadic functions of microhttpd.h are not imported into Swift; these static inline wrappers are. */

/** `MHD_start_daemon` with every option passed through one `MHD_OPTION_ARRAY` (terminated by `MHD_OPTION_END`). */
static inline struct MHD_Daemon *
cmhd_start_daemon(unsigned int flags, uint16_t port, MHD_AccessHandlerCallback handler, void *handler_cls,
                  const struct MHD_OptionItem *options)
{
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/** The peer address of a connection, or NULL. */
static inline const struct sockaddr *cmhd_client_addr(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return info ? info->client_addr : NULL;
}

/** The socket of a connection, or -1. */
static inline int cmhd_connection_fd(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

/** The pointer stored by the `MHD_OPTION_NOTIFY_CONNECTION` callback for a connection, or NULL. */
static inline void *cmhd_socket_context(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/** A request header (case-insensitive name) with its full length, NUL bytes included; NULL when absent. */
static inline const char *cmhd_header_value(struct MHD_Connection *connection, const char *name, size_t *length)
{
    const char *value = NULL;
    size_t size = 0;
    if (MHD_lookup_connection_value_n(connection, MHD_HEADER_KIND, name, strlen(name), &value, &size) != MHD_YES || value == NULL) {
        return NULL;
    }
    *length = size;
    return value;
}

/** Where `cmhd_header_hides_bytes` collects the header name that starts first after a value. */
struct cmhd_next_key {
    const char *after;
    const char *next;
};

static enum MHD_Result cmhd_collect_next_key(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                             const char *value, size_t value_size)
{
    struct cmhd_next_key *found = cls;
    (void)kind; (void)key_size; (void)value; (void)value_size;
    if (key > found->after && (found->next == NULL || key < found->next)) found->next = key;
    return MHD_YES;
}

/**
 * Whether a header value (as returned by `cmhd_header_value`) was cut short by a NUL byte in it.
 * libmicrohttpd 0.9.75 parses header lines in place, turning CR and LF into NUL bytes and measuring
 * values with strlen, so `Bearer TOKEN<NUL>junk` reads as `Bearer TOKEN`. A value that ends at its
 * line is followed by its terminator (one or two NULs) and then by the next header's name: anything
 * else means the line went on. Only the byte right after the value's end is read (it is part of the
 * line's terminator, so always inside MHD's buffer). Not seen: a NUL directly before the line end of
 * the last header.
 */
static inline int cmhd_header_hides_bytes(struct MHD_Connection *connection, const char *value, size_t length)
{
    const char *end = value + length;
    struct cmhd_next_key found = { end, NULL };
    MHD_get_connection_values_n(connection, MHD_HEADER_KIND, cmhd_collect_next_key, &found);
    if (found.next == end + 1) return 0;                    /* LF line end, then the next header */
    if (found.next == end + 2) return end[1] != '\0';       /* CR LF line end, then the next header */
    if (found.next != NULL) return 1;                       /* bytes between the value and the next header */
    return end[1] != '\0';                                  /* last header: its line end, then the empty line */
}

/* Cast macros of microhttpd.h, which are not imported into Swift. */
static const uint64_t CMHD_SIZE_UNKNOWN = MHD_SIZE_UNKNOWN;
static const ssize_t CMHD_CONTENT_READER_END_OF_STREAM = MHD_CONTENT_READER_END_OF_STREAM;
static const ssize_t CMHD_CONTENT_READER_END_WITH_ERROR = MHD_CONTENT_READER_END_WITH_ERROR;

/** Sets the idle timeout of one connection in seconds (0: none); MHD_YES on success. */
static inline enum MHD_Result cmhd_set_connection_timeout(struct MHD_Connection *connection, unsigned int seconds)
{
    return MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT, seconds);
}

#endif
