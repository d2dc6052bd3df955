#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <curl/curl.h>
/* curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift does
   not import: the typed static inline wrappers below are. */

static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value)
{ return curl_easy_setopt(handle, option, value); }

static inline CURLcode ccurl_easy_setopt_off(CURL *handle, CURLoption option, curl_off_t value)
{ return curl_easy_setopt(handle, option, value); }

/* Strings are copied by libcurl (except CURLOPT_POSTFIELDS, which this package does not use). */
static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value)
{ return curl_easy_setopt(handle, option, value); }

static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, const void *value)
{ return curl_easy_setopt(handle, option, value); }

/* The list must outlive the transfer; libcurl does not copy it. */
static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value)
{ return curl_easy_setopt(handle, option, value); }

/* For CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION. */
static inline CURLcode ccurl_easy_setopt_write_function(CURL *handle, CURLoption option, curl_write_callback value)
{ return curl_easy_setopt(handle, option, value); }

static inline CURLcode ccurl_easy_setopt_opensocket_function(CURL *handle, curl_opensocket_callback value)
{ return curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, value); }

static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value)
{ return curl_easy_getinfo(handle, info, value); }

static inline CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value)
{ return curl_multi_setopt(handle, option, value); }

#endif
