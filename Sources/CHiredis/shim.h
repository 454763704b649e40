#ifndef SWITCHYARD_CHIREDIS_SHIM_H
#define SWITCHYARD_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

/* The event hooks are function-pointer fields of a nested anonymous struct: set them here. */
typedef void (*sy_redis_ev_fn)(void *privdata);
static inline void sy_redis_attach(redisAsyncContext *ac, void *data, sy_redis_ev_fn add_read, sy_redis_ev_fn del_read,
                                   sy_redis_ev_fn add_write, sy_redis_ev_fn del_write, sy_redis_ev_fn cleanup) {
    ac->ev.data = data;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
}
static inline int sy_redis_fd(const redisAsyncContext *ac) { return ac->c.fd; }
static inline int sy_redis_err(const redisAsyncContext *ac) { return ac->err; }
static inline const char *sy_redis_errstr(const redisAsyncContext *ac) { return ac->errstr ? ac->errstr : "unknown error"; }
static inline void *sy_redis_data(const redisAsyncContext *ac) { return ac->data; }
static inline void sy_redis_set_data(redisAsyncContext *ac, void *data) { ac->data = data; }
#endif
