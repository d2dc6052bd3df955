#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <curl/curl.h>
/* curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift does
   not import: the typed static inline wrappers below are. */
#endif
