#ifndef SWITCHYARD_CLINUX_H
#define SWITCHYARD_CLINUX_H
/* Linux calls that Swift's Glibc module does not export (epoll, eventfd, timerfd, accept4,
   pthread_setname_np). Thin wrappers only: errno is left as the kernel set it. */
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define SY_EPOLLIN 0x001u
#define SY_EPOLLOUT 0x004u
#define SY_EPOLLERR 0x008u
#define SY_EPOLLHUP 0x010u
#define SY_EPOLLRDHUP 0x2000u

typedef struct sy_epoll_event {
    uint32_t events;
    uint64_t data;
} __attribute__((packed)) sy_epoll_event;

int sy_epoll_create(void);
int sy_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
int sy_epoll_wait(int epfd, sy_epoll_event *events, int maxevents, int timeout_ms);
int sy_epoll_ctl_add(void);
int sy_epoll_ctl_mod(void);
int sy_epoll_ctl_del(void);

int sy_eventfd(void);
int sy_eventfd_signal(int fd);
int sy_eventfd_drain(int fd);

int sy_timerfd_create(void);
/* Arms the timer at an absolute CLOCK_MONOTONIC deadline in nanoseconds; 0 disarms. */
int sy_timerfd_arm(int fd, uint64_t deadline_ns);
int sy_timerfd_drain(int fd);

uint64_t sy_monotonic_ns(void);
uint64_t sy_realtime_ns(void);

int sy_accept4(int fd);
int sy_set_thread_name(const char *name);
int sy_cpu_count(void);
/* Listener with SO_REUSEADDR and SO_REUSEPORT, non-blocking. host is a literal IPv4/IPv6 address.
   Returns the fd or -1 (errno set). */
int sy_listen_tcp(const char *host, int port, int backlog, int reuseport);
int sy_bound_port(int fd);
int sy_peer_host(int fd, char *buf, int len);      /* the peer's IP address as text; 0 or -1 */
int sy_connect_tcp(const char *host, int port);  /* blocking connect, for tests and tools */
int sy_set_nodelay(int fd);
ssize_t sy_send_nosignal(int fd, const void *buf, size_t len);
int sy_signalfd(const int *signals, int count);   /* blocks them for the calling thread too */
int sy_signalfd_read(int fd);                      /* returns signo or -1 */
int sy_block_signals_all_threads(const int *signals, int count);
#endif
