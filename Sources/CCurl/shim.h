#ifndef SWITCHYARD_CCURL_SHIM_H
#define SWITCHYARD_CCURL_SHIM_H
#include <curl/curl.h>

/* Swift cannot call C variadic functions: one typed wrapper per argument kind. */
static inline CURLcode sy_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sy_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sy_easy_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sy_easy_setopt_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sy_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sy_easy_setopt_write(CURL *h, CURLoption o, size_t (*f)(char *, size_t, size_t, void *)) { return curl_easy_setopt(h, o, f); }
static inline CURLcode sy_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode sy_easy_getinfo_ptr(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode sy_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLMcode sy_multi_setopt_ptr(CURLM *m, CURLMoption o, void *v) { return curl_multi_setopt(m, o, v); }
static inline CURLMcode sy_multi_setopt_socketfn(CURLM *m, int (*f)(CURL *, curl_socket_t, int, void *, void *)) {
    return curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, f);
}
static inline CURLMcode sy_multi_setopt_timerfn(CURLM *m, int (*f)(CURLM *, long, void *)) {
    return curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, f);
}
static inline int sy_curl_socket_timeout(void) { return CURL_SOCKET_TIMEOUT; }
static inline size_t sy_curl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
static inline CURL *sy_curlmsg_easy(CURLMsg *m) { return m->easy_handle; }
static inline CURLcode sy_curlmsg_result(CURLMsg *m) { return m->data.result; }
static inline int sy_curlmsg_is_done(CURLMsg *m) { return m->msg == CURLMSG_DONE; }
#endif
