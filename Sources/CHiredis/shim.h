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

/* Reply objects with their children in one block. hiredis's own reader functions calloc every
   reply element and free them one by one: a rate-limit batch answers several integers per
   request, and that churn (glibc's calloc never uses the thread cache) cost the gateway more
   than parsing them. Here an array allocates its pointer table and its children's redisReply
   structs in one block, zeroed, and each child is built in its slot; only strings get their own
   buffer. The objects keep redisReply's layout, so readers see no difference; they must be
   freed with sy_redis_free_reply, which hiredis does through the reader's function table. Only
   for hiredis 0.x, whose reader interface this matches; newer ones keep their own functions. */
#if HIREDIS_MAJOR == 0
#include <stdlib.h>
#include <string.h>
static inline redisReply *sy_redis_node(const redisReadTask *task, int type) {
    redisReply *r;
    if (task->parent) {
        r = ((redisReply *)task->parent->obj)->element[task->idx];  /* a zeroed slot of the parent's block */
    } else {
        r = malloc(sizeof(redisReply));
        if (r == NULL) return NULL;
        explicit_bzero(r, sizeof(redisReply));  /* not memset: malloc + memset(0) compiles to calloc */
    }
    r->type = type;
    return r;
}
static void *sy_redis_create_string(const redisReadTask *task, char *str, size_t len) {
    char *buf = malloc(len + 1);
    if (buf == NULL) return NULL;
    redisReply *r = sy_redis_node(task, task->type);
    if (r == NULL) { free(buf); return NULL; }
    memcpy(buf, str, len);
    buf[len] = '\0';
    r->str = buf;
    r->len = len;
    return r;
}
static void *sy_redis_create_array(const redisReadTask *task, int elements) {
    redisReply *r = sy_redis_node(task, REDIS_REPLY_ARRAY);
    if (r == NULL || elements <= 0) return r;
    size_t n = (size_t)elements;
    char *block = malloc(n * (sizeof(redisReply *) + sizeof(redisReply)));
    if (block == NULL) {
        if (task->parent == NULL) free(r);
        return NULL;
    }
    redisReply **table = (redisReply **)block;
    redisReply *slots = (redisReply *)(block + n * sizeof(redisReply *));
    explicit_bzero(slots, n * sizeof(redisReply));
    for (size_t i = 0; i < n; i++) table[i] = &slots[i];
    r->element = table;
    r->elements = n;
    return r;
}
static void *sy_redis_create_integer(const redisReadTask *task, long long value) {
    redisReply *r = sy_redis_node(task, REDIS_REPLY_INTEGER);
    if (r != NULL) r->integer = value;
    return r;
}
static void *sy_redis_create_nil(const redisReadTask *task) { return sy_redis_node(task, REDIS_REPLY_NIL); }
/* What a reply owns besides its own struct: strings, and an array's block (recursively). A slot
   never filled (a reply cut short) is zero: type 0 owns nothing. */
static void sy_redis_free_contents(redisReply *r) {
    switch (r->type) {
    case REDIS_REPLY_ARRAY:
        if (r->element != NULL) {
            for (size_t j = 0; j < r->elements; j++) sy_redis_free_contents(r->element[j]);
            free(r->element);
        }
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        free(r->str);
        break;
    default:
        break;
    }
}
static void sy_redis_free_reply(void *reply) {
    if (reply == NULL) return;
    sy_redis_free_contents(reply);
    free(reply);
}
static redisReplyObjectFunctions sy_redis_reply_functions = {
    sy_redis_create_string, sy_redis_create_array, sy_redis_create_integer, sy_redis_create_nil, sy_redis_free_reply,
};
static inline void sy_redis_use_block_replies(redisAsyncContext *ac) { ac->c.reader->fn = &sy_redis_reply_functions; }
#else
static inline void sy_redis_use_block_replies(redisAsyncContext *ac) { (void)ac; }
#endif
#endif
