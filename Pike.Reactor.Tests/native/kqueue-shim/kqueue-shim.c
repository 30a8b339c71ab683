/*
 * kqueue-shim: a small kqueue/kevent over Linux epoll, for testing Pike.Reactor's KqueuePoller
 * on Linux. It exports libkqueue's ABI (include/sys/event.h of mheily/libkqueue: a 32-byte
 * struct kevent, FreeBSD's filter numbers, int counts) and follows what the real things do, not
 * the poller's convenience, so that the lane fails where the real library or kernel would.
 *
 * Two modes, chosen once when the library loads by PIKE_KQUEUE_SHIM_MODE: "libkqueue" (the
 * default) models libkqueue 2.7 on Linux, "bsd" models a BSD kernel (FreeBSD's
 * sys/kern/kern_event.c and sys/kern/uipc_socket.c). Any other value makes kqueue() fail with
 * EINVAL. kqshim_mode() answers 0 (libkqueue) or 1 (bsd).
 *
 * Common to both:
 *  - EVFILT_READ / EVFILT_WRITE on sockets, level-triggered; EV_ONESHOT deletes the knote once
 *    it is reported; EV_CLEAR makes the descriptor edge-triggered; EV_ENABLE / EV_DISABLE.
 *  - EVFILT_READ: data = bytes readable (FIONREAD); EV_EOF once the peer shut down its side or
 *    the connection failed. EVFILT_WRITE: data = free space in the send buffer; EV_EOF on
 *    hang-up or error. One epoll event of a descriptor yields its read kevent, then its write
 *    kevent (libkqueue src/linux/platform.c linux_kevent_copyout, EPOLL_UDATA_FD_STATE).
 *  - EVFILT_USER with NOTE_TRIGGER, EV_CLEAR and the NOTE_FF* fflags operations.
 *  - A refused change, or any change with EV_RECEIPT, takes one entry of the eventlist with
 *    EV_ERROR and the errno (0 for success) in data. Deleting, enabling or disabling a filter
 *    that is not there: ENOENT. A closed descriptor: EBADF. Closing a descriptor drops its
 *    knotes (a later change on a new file with the same number sees none).
 *  - A change is applied before its entry looks for room: when there is none, that change and
 *    those before it stay applied, those after it are not.
 *
 * Where the two differ:
 *
 *  (a) A socket error (a refused connect).
 *      libkqueue: the read kevent is made first and reads SO_ERROR into fflags (with EV_EOF),
 *      which clears the socket's error; the write kevent of the same epoll event then reads
 *      SO_ERROR again and carries EV_EOF with fflags 0 (src/linux/read.c and write.c,
 *      evfilt_read_copyout / evfilt_write_copyout). A read kevent of a stream socket with no
 *      bytes readable also carries EV_EOF (evfilt_read_copyout: SIOCINQ == 0); a listening
 *      socket reports data 1 (KNFL_SOCKET_PASSIVE).
 *      bsd: both filters carry EV_EOF with so_error in fflags, and reporting does not clear
 *      it (FreeBSD filt_soread / filt_sowrite: kn_fflags = so->so_error). The shim can learn
 *      the error only through SO_ERROR, which clears it on Linux, so it reads it once and
 *      keeps it for the knotes of that descriptor: a caller asking SO_ERROR afterwards sees 0
 *      (stricter than the kernel). data of a listening socket: the accept queue length.
 *      A datagram socket's error (a connected UDP socket's refused port) is no EV_EOF there:
 *      filt_soread and filt_sowrite report it as plain readiness and the next recv or send
 *      returns it (and clears it), so the shim leaves it on the socket. libkqueue reads it
 *      into fflags as for any socket, which clears it: the next recv finds nothing.
 *
 *  (b) Entries that find no room in the eventlist.
 *      libkqueue: kevent() first cuts nevents to MAX_KEVENT, 512 (src/common/private.h,
 *      src/common/kevent.c kevent()). A refused change without room: -1 with that change's
 *      errno; a change with EV_RECEIPT that succeeded without room: -1 with EFAULT
 *      (kevent_copyin, CHECK_EVENTLIST_SPACE). So 1,024 changes with EV_RECEIPT fail with
 *      EFAULT whatever the size of the eventlist.
 *      bsd: no cut. A refused change without room: -1 with that change's errno; a receipt of a
 *      change that succeeded without room: the call returns 0, as if nothing had been placed,
 *      and the changes after it are not applied (kqueue_kevent: "if (nevents == 0) return
 *      (error);" with error 0 and td_retval[0] still 0).
 *
 *  (c) A call that placed EV_ERROR / receipt entries and still has room.
 *      libkqueue: it goes on to wait for events with the caller's whole timeout; if the wait
 *      times out it returns 0 and the entries are lost; if it fails (EINTR) it returns -1 and
 *      they are lost; otherwise it returns them followed by the events (src/common/kevent.c
 *      kevent(): rv = kqops.kevent_wait(...), "rv == 0: Timeout reached"). A wait that wakes
 *      without events returns what was placed (possibly 0) rather than waiting again.
 *      bsd: it returns the entries at once, without waiting or scanning for events
 *      (kqueue_kevent: "if (nerrors) { td->td_retval[0] = nerrors; return (0); }").
 *      An EV_ERROR entry's flags are the change's flags with EV_ERROR (libkqueue:
 *      el_p->flags |= EV_ERROR) or EV_ERROR alone (bsd: kevp->flags = EV_ERROR). kevent() on
 *      a descriptor that is no queue: ENOENT (libkqueue kevent(), kqueue_lookup) or EBADF.
 *
 *  (d) Closing the queue.
 *      libkqueue: the descriptor kqueue() returns is the write end of a pipe; the epoll
 *      descriptor and the pipe's read end stay open after close(kq) until a monitor thread,
 *      woken by the read end's EPOLLHUP, frees the queue (src/linux/platform.c
 *      linux_kqueue_init, monitoring_thread_loop, linux_kqueue_free). The shim's monitor
 *      frees a closed queue 250 ms after it sees the hang-up, so that a test meets the
 *      asynchrony every time instead of by chance. libkqueue_drain_pending_close() frees
 *      every queue closed so far before it returns (the monitor sweeps the hang-ups without
 *      waiting, then acknowledges, as libkqueue's does). The monitor's epoll descriptor and
 *      its eventfd are created with the first queue and kept for the life of the process.
 *      bsd: the descriptor is the epoll descriptor itself, so close(2) releases everything
 *      the queue holds of the kernel at once (FreeBSD kqueue_close). The shim still exports
 *      libkqueue_drain_pending_close (one library serves both modes); it does nothing there.
 *
 * Both: kevent interrupted by a signal returns -1/EINTR after the changes were applied
 * (kqueue(2)). EVFILT_USER triggers need no descriptor of their own: one process-wide eventfd,
 * always readable, is added to the queue's epoll set with EPOLLONESHOT on NOTE_TRIGGER, which
 * wakes a waiting kevent.
 *
 * Diagnostics and fault injection for the tests, per queue (not part of libkqueue):
 * kqshim_kevent_calls(kq) counts kevent calls, kqshim_changes(kq) changelist entries processed;
 * kqshim_fail_next(kq, filter, flags, err) makes the next change of that filter with any of
 * those flags fail with err, unapplied (errors a Linux socket never produces, such as EPIPE
 * from old macOS); kqshim_interrupt_next(kq) makes the next kevent call that would wait apply
 * its changes and return -1 with EINTR, as a signal would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#define EVFILT_READ  (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_USER  (-11)

#define EV_ADD      0x0001
#define EV_DELETE   0x0002
#define EV_ENABLE   0x0004
#define EV_DISABLE  0x0008
#define EV_ONESHOT  0x0010
#define EV_CLEAR    0x0020
#define EV_RECEIPT  0x0040
#define EV_DISPATCH 0x0080
#define EV_ERROR    0x4000
#define EV_EOF      0x8000

#define NOTE_FFNOP      0x00000000u
#define NOTE_FFAND      0x40000000u
#define NOTE_FFOR       0x80000000u
#define NOTE_FFCOPY     0xc0000000u
#define NOTE_FFCTRLMASK 0xc0000000u
#define NOTE_FFLAGSMASK 0x00ffffffu
#define NOTE_TRIGGER    0x01000000u

#define EXPORT __attribute__((visibility("default")))

struct kevent {
    uintptr_t ident;
    short filter;
    unsigned short flags;
    unsigned int fflags;
    intptr_t data;
    void *udata;
};

_Static_assert(sizeof(struct kevent) == 32, "libkqueue's struct kevent is 32 bytes on LP64");

/* What a knote keeps of its registration; flags keep EV_ONESHOT, EV_CLEAR, EV_DISPATCH. */
struct knote {
    int active;
    int disabled;
    unsigned short flags;
    unsigned int fflags;
    void *udata;
};

struct fdent {
    struct knote rd, wr;
    dev_t dev;          /* the file the knotes belong to: closing the fd drops them */
    ino_t ino;
    uint32_t in_epoll;  /* the epoll mask registered now; 0 when not registered */
    int so_error;       /* bsd: the socket error once read, kept as the kernel keeps so_error */
    int so_error_known;
};

struct unote {
    uintptr_t ident;
    int active;
    int disabled;
    int triggered;
    unsigned short flags;
    unsigned int fflags;
    void *udata;
};

struct kq {
    int id;             /* the caller's kqueue descriptor: ep (bsd) or the pipe's write end (libkqueue) */
    dev_t id_dev;       /* the file id names, so that a closed and reused number finds no queue */
    ino_t id_ino;
    int ep;             /* the epoll instance */
    int pipe_rd;        /* libkqueue: the close-detect pipe's read end, watched by the monitor; else -1 */
    long long closed_at;    /* libkqueue: when the monitor saw the hang-up (ms, CLOCK_MONOTONIC) */
    struct kq *next_closed; /* libkqueue: the monitor's list of closed queues not yet freed */
    int user_added;     /* g_user_fd is in ep's set (armed or spent) */
    pthread_mutex_t lock;
    struct fdent *fds;
    int nfds;
    struct unote *users;
    int nusers;
    unsigned long calls, changes;   /* diagnostics */
    int fail_filter, fail_flags, fail_err, interrupt;
};

#define USER_TAG (1ull << 40)

enum { MODE_INVALID = -1, MODE_LIBKQUEUE = 0, MODE_BSD = 1 };

/* How long the monitor keeps a closed queue's descriptors (libkqueue mode). */
#define CLOSE_DELAY_MS 250

/* libkqueue's MAX_KEVENT (src/common/private.h): kevent() never uses more eventlist entries. */
#define LIBKQUEUE_MAX_KEVENT 512

static int g_mode = MODE_LIBKQUEUE;
static pthread_mutex_t g_table_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_user_fd = -1;  /* eventfd holding 1 forever: readable in every epoll set it joins */
static struct kq **g_table;
static int g_table_len;

/* libkqueue mode: the monitor thread, its epoll set (each queue's pipe read end, and the drain
 * eventfd with data.ptr NULL), the drain handshake, and the closed queues it has not freed. */
static int g_monitor_started;
static int g_monitor_ep = -1;
static int g_drain_fd = -1;
static unsigned long g_drain_gen;
static pthread_cond_t g_drain_cond = PTHREAD_COND_INITIALIZER;
static struct kq *g_closed_head, *g_closed_tail;

static struct kq *kq_lookup(int id);

__attribute__((constructor)) static void read_mode(void)
{
    const char *mode = getenv("PIKE_KQUEUE_SHIM_MODE");
    if (mode == NULL || *mode == '\0' || strcmp(mode, "libkqueue") == 0)
        g_mode = MODE_LIBKQUEUE;
    else if (strcmp(mode, "bsd") == 0)
        g_mode = MODE_BSD;
    else
        g_mode = MODE_INVALID;
}

EXPORT int kqshim_mode(void)
{
    return g_mode;
}

EXPORT void kqshim_fail_next(int kqfd, int filter, int flags, int err)
{
    struct kq *kq = kq_lookup(kqfd);
    if (kq == NULL)
        return;
    pthread_mutex_lock(&kq->lock);
    kq->fail_filter = filter;
    kq->fail_flags = flags;
    kq->fail_err = err;
    pthread_mutex_unlock(&kq->lock);
}

EXPORT void kqshim_interrupt_next(int kqfd)
{
    struct kq *kq = kq_lookup(kqfd);
    if (kq != NULL)
        __atomic_store_n(&kq->interrupt, 1, __ATOMIC_SEQ_CST);
}

EXPORT unsigned long kqshim_kevent_calls(int kqfd)
{
    struct kq *kq = kq_lookup(kqfd);
    return kq == NULL ? 0 : __atomic_load_n(&kq->calls, __ATOMIC_SEQ_CST);
}

EXPORT unsigned long kqshim_changes(int kqfd)
{
    struct kq *kq = kq_lookup(kqfd);
    return kq == NULL ? 0 : __atomic_load_n(&kq->changes, __ATOMIC_SEQ_CST);
}

static void kq_free(struct kq *kq)
{
    pthread_mutex_destroy(&kq->lock);
    free(kq->fds);
    free(kq->users);
    free(kq);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libkqueue mode: releases what a closed queue still holds. Called with g_table_lock held. */
static void release_closed(struct kq *kq)
{
    epoll_ctl(g_monitor_ep, EPOLL_CTL_DEL, kq->pipe_rd, NULL);
    close(kq->pipe_rd);
    close(kq->ep);
    if (kq->id < g_table_len && g_table[kq->id] == kq)
        g_table[kq->id] = NULL;
    kq_free(kq);
}

static void note_closed(struct kq *kq)
{
    kq->closed_at = now_ms();
    kq->next_closed = NULL;
    if (g_closed_tail != NULL)
        g_closed_tail->next_closed = kq;
    else
        g_closed_head = kq;
    g_closed_tail = kq;
}

/* Frees the closed queues that are due (all of them when drain is set). Locked. */
static void release_due(int drain)
{
    long long now = now_ms();
    while (g_closed_head != NULL && (drain || now >= g_closed_head->closed_at + CLOSE_DELAY_MS)) {
        struct kq *kq = g_closed_head;
        g_closed_head = kq->next_closed;
        if (g_closed_head == NULL)
            g_closed_tail = NULL;
        release_closed(kq);
    }
}

/* libkqueue's monitoring_thread_loop (src/linux/platform.c): a queue whose pipe read end hangs up
 * was closed by its owner; free it (here: CLOSE_DELAY_MS later). A readable drain eventfd asks
 * for every closed queue to be freed now. */
static void *monitor_loop(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    struct epoll_event ready[64];
    for (;;) {
        int timeout = -1;
        pthread_mutex_lock(&g_table_lock);
        if (g_closed_head != NULL) {
            long long due = g_closed_head->closed_at + CLOSE_DELAY_MS - now_ms();
            timeout = due < 0 ? 0 : (int)due;
        }
        pthread_mutex_unlock(&g_table_lock);

        int n = epoll_wait(g_monitor_ep, ready, 64, timeout);
        if (n < 0)
            n = 0;
        pthread_mutex_lock(&g_table_lock);
        int drain = 0;
        for (int i = 0; i < n; i++) {
            if (ready[i].data.ptr == NULL)
                drain = 1;
            else
                note_closed(ready[i].data.ptr);
        }
        if (drain) {
            uint64_t v;
            while (read(g_drain_fd, &v, sizeof(v)) > 0)
                ;
            /* The hang-up is level-triggered and EPOLLONESHOT: a sweep without waiting finds
             * every queue closed by now that was not seen yet. */
            for (;;) {
                int m = epoll_wait(g_monitor_ep, ready, 64, 0);
                if (m <= 0)
                    break;
                for (int i = 0; i < m; i++)
                    if (ready[i].data.ptr != NULL)
                        note_closed(ready[i].data.ptr);
            }
        }
        release_due(drain);
        if (drain) {
            g_drain_gen++;
            pthread_cond_broadcast(&g_drain_cond);
        }
        pthread_mutex_unlock(&g_table_lock);
    }
    return NULL;
}

/* Starts the monitor with the first queue (libkqueue's linux_kqueue_init). Locked. */
static int monitor_start(void)
{
    if (g_monitor_started)
        return 0;
    g_monitor_ep = epoll_create1(EPOLL_CLOEXEC);
    if (g_monitor_ep < 0)
        return errno;
    g_drain_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event de = { .events = EPOLLIN, .data.ptr = NULL };
    if (g_drain_fd < 0 || epoll_ctl(g_monitor_ep, EPOLL_CTL_ADD, g_drain_fd, &de) < 0) {
        int saved = errno;
        if (g_drain_fd >= 0)
            close(g_drain_fd);
        close(g_monitor_ep);
        g_drain_fd = g_monitor_ep = -1;
        return saved;
    }
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, monitor_loop, NULL);
    if (rc != 0) {
        close(g_drain_fd);
        close(g_monitor_ep);
        g_drain_fd = g_monitor_ep = -1;
        return rc;
    }
    pthread_detach(thread);
    g_monitor_started = 1;
    return 0;
}

/* libkqueue's libkqueue_drain_pending_close (src/linux/platform.c): returns once the monitor has
 * freed every queue closed before the call. */
EXPORT void libkqueue_drain_pending_close(void)
{
    if (g_mode != MODE_LIBKQUEUE)
        return; /* bsd: close(2) released everything already */
    pthread_mutex_lock(&g_table_lock);
    if (!g_monitor_started) {
        pthread_mutex_unlock(&g_table_lock);
        return;
    }
    unsigned long gen = g_drain_gen;
    uint64_t one = 1;
    ssize_t written = write(g_drain_fd, &one, sizeof(one));
    (void)written;
    while (g_drain_gen == gen)
        pthread_cond_wait(&g_drain_cond, &g_table_lock);
    pthread_mutex_unlock(&g_table_lock);
}

static int kqueue_fail(struct kq *kq, int err)
{
    if (kq->pipe_rd >= 0)
        close(kq->pipe_rd);
    if (kq->id >= 0 && kq->id != kq->ep)
        close(kq->id);
    if (kq->ep >= 0)
        close(kq->ep);
    free(kq);
    errno = err;
    return -1;
}

EXPORT int kqueue(void)
{
    if (g_mode == MODE_INVALID) {
        errno = EINVAL; /* PIKE_KQUEUE_SHIM_MODE names no mode */
        return -1;
    }
    struct kq *kq = calloc(1, sizeof(*kq));
    if (kq == NULL) {
        errno = ENOMEM;
        return -1;
    }
    kq->id = kq->ep = kq->pipe_rd = -1;
    pthread_mutex_lock(&g_table_lock);
    if (g_user_fd < 0) {
        g_user_fd = eventfd(1, EFD_CLOEXEC);
        if (g_user_fd < 0) {
            pthread_mutex_unlock(&g_table_lock);
            return kqueue_fail(kq, errno);
        }
    }
    kq->ep = epoll_create1(EPOLL_CLOEXEC);
    if (kq->ep < 0) {
        pthread_mutex_unlock(&g_table_lock);
        return kqueue_fail(kq, errno);
    }
    kq->id = kq->ep;
    if (g_mode == MODE_LIBKQUEUE) {
        /* linux_kqueue_init: the caller gets the write end of a pipe; closing it hangs up the
         * read end, which the monitor watches. */
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
            pthread_mutex_unlock(&g_table_lock);
            return kqueue_fail(kq, errno);
        }
        kq->pipe_rd = pipefd[0];
        kq->id = pipefd[1];
        int err = monitor_start();
        struct epoll_event me = { .events = EPOLLHUP | EPOLLONESHOT, .data.ptr = kq };
        if (err == 0 && epoll_ctl(g_monitor_ep, EPOLL_CTL_ADD, kq->pipe_rd, &me) < 0)
            err = errno;
        if (err != 0) {
            pthread_mutex_unlock(&g_table_lock);
            return kqueue_fail(kq, err);
        }
    }
    struct stat st;
    if (fstat(kq->id, &st) == 0) {
        kq->id_dev = st.st_dev;
        kq->id_ino = st.st_ino;
    }
    if (kq->id >= g_table_len) {
        int len = kq->id + 64;
        struct kq **grown = realloc(g_table, (size_t)len * sizeof(*grown));
        if (grown == NULL) {
            if (kq->pipe_rd >= 0)
                epoll_ctl(g_monitor_ep, EPOLL_CTL_DEL, kq->pipe_rd, NULL);
            pthread_mutex_unlock(&g_table_lock);
            return kqueue_fail(kq, ENOMEM);
        }
        memset(grown + g_table_len, 0, (size_t)(len - g_table_len) * sizeof(*grown));
        g_table = grown;
        g_table_len = len;
    }
    pthread_mutex_init(&kq->lock, NULL);
    if (g_table[kq->id] != NULL && g_mode == MODE_BSD) {
        /* The caller closed an earlier queue with this number; in libkqueue mode the monitor
         * frees that one. */
        kq_free(g_table[kq->id]);
    }
    g_table[kq->id] = kq;
    pthread_mutex_unlock(&g_table_lock);
    return kq->id;
}

static struct kq *kq_lookup(int id)
{
    struct kq *kq = NULL;
    pthread_mutex_lock(&g_table_lock);
    if (id >= 0 && id < g_table_len)
        kq = g_table[id];
    pthread_mutex_unlock(&g_table_lock);
    struct stat st;
    if (kq != NULL && (fstat(id, &st) < 0 || st.st_dev != kq->id_dev || st.st_ino != kq->id_ino))
        kq = NULL; /* closed, or the number now names another file */
    return kq;
}

static uint32_t mask_of(const struct fdent *e)
{
    uint32_t mask = 0;
    int all_clear = 1;
    if (e->rd.active && !e->rd.disabled) {
        mask |= EPOLLIN | EPOLLRDHUP;
        all_clear &= (e->rd.flags & EV_CLEAR) != 0;
    }
    if (e->wr.active && !e->wr.disabled) {
        mask |= EPOLLOUT;
        all_clear &= (e->wr.flags & EV_CLEAR) != 0;
    }
    if (mask != 0 && all_clear)
        mask |= EPOLLET;
    return mask;
}

/* Brings the epoll registration of fd in line with its knotes; returns 0 or an errno. */
static int sync_fd(struct kq *kq, int fd)
{
    struct fdent *e = &kq->fds[fd];
    uint32_t mask = mask_of(e);
    struct epoll_event ev = { .events = mask, .data.u64 = (uint64_t)(uint32_t)fd };
    if (mask == e->in_epoll)
        return 0;
    if (mask == 0) {
        if (epoll_ctl(kq->ep, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != ENOENT && errno != EBADF)
            return errno;
        e->in_epoll = 0;
        return 0;
    }
    int rc = epoll_ctl(kq->ep, e->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (rc < 0 && errno == ENOENT)
        rc = epoll_ctl(kq->ep, EPOLL_CTL_ADD, fd, &ev);
    else if (rc < 0 && errno == EEXIST)
        rc = epoll_ctl(kq->ep, EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0)
        return errno;
    e->in_epoll = mask;
    return 0;
}

/* The entry for fd, with the knotes of a file closed since dropped; NULL with *err on failure. */
static struct fdent *fd_entry(struct kq *kq, int fd, int create, int *err)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0 && fd < kq->nfds)
            memset(&kq->fds[fd], 0, sizeof(kq->fds[fd]));
        *err = EBADF;
        return NULL;
    }
    if (fd >= kq->nfds) {
        if (!create) {
            *err = ENOENT;
            return NULL;
        }
        int len = fd + 256;
        struct fdent *grown = realloc(kq->fds, (size_t)len * sizeof(*grown));
        if (grown == NULL) {
            *err = ENOMEM;
            return NULL;
        }
        memset(grown + kq->nfds, 0, (size_t)(len - kq->nfds) * sizeof(*grown));
        kq->fds = grown;
        kq->nfds = len;
    }
    struct fdent *e = &kq->fds[fd];
    if ((e->rd.active || e->wr.active) && (e->dev != st.st_dev || e->ino != st.st_ino)) {
        /* The descriptor was closed and its number reused: its knotes went with the close. */
        memset(e, 0, sizeof(*e));
    }
    if (!e->rd.active && !e->wr.active) {
        e->dev = st.st_dev;
        e->ino = st.st_ino;
    }
    return e;
}

static int apply_fd_change(struct kq *kq, const struct kevent *ch)
{
    int fd = (int)ch->ident;
    int err = 0;
    if ((intptr_t)ch->ident < 0 || ch->ident > INT_MAX)
        return EBADF;
    struct fdent *e = fd_entry(kq, fd, (ch->flags & EV_ADD) != 0, &err);
    if (e == NULL)
        return err;
    struct knote *k = ch->filter == EVFILT_READ ? &e->rd : &e->wr;
    struct knote saved = *k;
    if (ch->flags & EV_ADD) {
        k->active = 1;
        k->flags = ch->flags & (EV_ONESHOT | EV_CLEAR | EV_DISPATCH);
        k->fflags = ch->fflags;
        k->udata = ch->udata;
        if (!saved.active)
            k->disabled = 0;
    } else if (!k->active) {
        return (ch->flags & (EV_DELETE | EV_ENABLE | EV_DISABLE)) ? ENOENT : EINVAL;
    }
    if (ch->flags & EV_ENABLE)
        k->disabled = 0;
    if (ch->flags & EV_DISABLE)
        k->disabled = 1;
    if (ch->flags & EV_DELETE)
        memset(k, 0, sizeof(*k));
    err = sync_fd(kq, fd);
    if (err != 0)
        *k = saved;
    return err;
}

static struct unote *user_find(struct kq *kq, uintptr_t ident)
{
    for (int i = 0; i < kq->nusers; i++)
        if (kq->users[i].active && kq->users[i].ident == ident)
            return &kq->users[i];
    return NULL;
}

/* Makes a waiting (or the next) epoll_wait on the queue return with a USER_TAG event. Locked. */
static void user_signal(struct kq *kq)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = USER_TAG };
    if (epoll_ctl(kq->ep, kq->user_added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, g_user_fd, &ev) == 0)
        kq->user_added = 1;
}

static int apply_user_change(struct kq *kq, const struct kevent *ch)
{
    struct unote *u = user_find(kq, ch->ident);
    if (u == NULL) {
        if (!(ch->flags & EV_ADD))
            return ENOENT;
        for (int i = 0; i < kq->nusers; i++)
            if (!kq->users[i].active) {
                u = &kq->users[i];
                break;
            }
        if (u == NULL) {
            struct unote *grown = realloc(kq->users, (size_t)(kq->nusers + 8) * sizeof(*grown));
            if (grown == NULL)
                return ENOMEM;
            memset(grown + kq->nusers, 0, 8 * sizeof(*grown));
            kq->users = grown;
            u = &kq->users[kq->nusers];
            kq->nusers += 8;
        }
        memset(u, 0, sizeof(*u));
        u->active = 1;
        u->ident = ch->ident;
    }
    if (ch->flags & EV_ADD) {
        u->flags = ch->flags & (EV_ONESHOT | EV_CLEAR | EV_DISPATCH);
        u->udata = ch->udata;
    }
    if (ch->flags & EV_ENABLE)
        u->disabled = 0;
    if (ch->flags & EV_DISABLE)
        u->disabled = 1;
    if (ch->flags & EV_DELETE) {
        memset(u, 0, sizeof(*u));
        return 0;
    }
    unsigned int ffl = ch->fflags & NOTE_FFLAGSMASK;
    switch (ch->fflags & NOTE_FFCTRLMASK) {
    case NOTE_FFAND: u->fflags &= ffl; break;
    case NOTE_FFOR: u->fflags |= ffl; break;
    case NOTE_FFCOPY: u->fflags = ffl; break;
    default: break;
    }
    if (ch->fflags & NOTE_TRIGGER) {
        u->triggered = 1;
        user_signal(kq);
    }
    return 0;
}

static int apply_change(struct kq *kq, const struct kevent *ch)
{
    __atomic_add_fetch(&kq->changes, 1, __ATOMIC_SEQ_CST);
    if (kq->fail_err != 0 && ch->filter == kq->fail_filter && (ch->flags & kq->fail_flags) != 0) {
        int err = kq->fail_err;
        kq->fail_err = 0;
        return err;
    }
    switch (ch->filter) {
    case EVFILT_READ:
    case EVFILT_WRITE:
        return apply_fd_change(kq, ch);
    case EVFILT_USER:
        return apply_user_change(kq, ch);
    default:
        return EINVAL;
    }
}

/* EVFILT_READ's data; *stream_empty when a connected stream socket has nothing to read. */
static intptr_t readable_bytes(int fd, int *stream_empty)
{
    int listening = 0;
    socklen_t len = sizeof(listening);
    *stream_empty = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) {
        if (g_mode == MODE_LIBKQUEUE)
            return 1; /* evfilt_read_copyout: "not available under Linux" */
        struct tcp_info info;
        socklen_t ilen = sizeof(info);
        memset(&info, 0, sizeof(info));
        /* A listening TCP socket reports its accept queue length in tcpi_unacked. */
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &ilen) == 0)
            return (intptr_t)info.tcpi_unacked;
        return 1;
    }
    int avail = 0;
    if (ioctl(fd, FIONREAD, &avail) < 0)
        return 0;
    int type = 0;
    len = sizeof(type);
    if (avail == 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM)
        *stream_empty = 1;
    return avail;
}

static int is_datagram(int fd)
{
    int type = 0;
    socklen_t len = sizeof(type);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM;
}

/* The socket error a kevent reports in fflags. libkqueue reads (and so clears) SO_ERROR for each
 * kevent it makes; a BSD kernel reports so_error without clearing it, which the shim imitates by
 * keeping what it read for the knotes of that descriptor. */
static unsigned int socket_error(struct fdent *e, int fd)
{
    if (g_mode == MODE_BSD && e->so_error_known)
        return (unsigned int)e->so_error;
    int serr = 0;
    socklen_t len = sizeof(serr);
    int rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &serr, &len);
    serr = rc < 0 ? errno : serr;
    if (g_mode == MODE_BSD && serr != 0) {
        e->so_error = serr;
        e->so_error_known = 1;
    }
    return (unsigned int)serr;
}

static intptr_t writable_bytes(int fd)
{
    int sndbuf = 0, queued = 0;
    socklen_t len = sizeof(sndbuf);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) < 0 || ioctl(fd, SIOCOUTQ, &queued) < 0)
        return 0;
    return sndbuf > queued ? sndbuf - queued : 0;
}

static void after_report(struct kq *kq, int fd, struct knote *k)
{
    if (k->flags & EV_ONESHOT)
        memset(k, 0, sizeof(*k));
    else if (k->flags & EV_DISPATCH)
        k->disabled = 1;
    else
        return;
    sync_fd(kq, fd);
}

/* Turns ready epoll entries into kevents; returns how many were written. Called locked. */
static int collect(struct kq *kq, const struct epoll_event *ready, int n, struct kevent *out, int room)
{
    int count = 0;
    for (int i = 0; i < n && count < room; i++) {
        uint32_t ev = ready[i].events;
        if (ready[i].data.u64 == USER_TAG) {
            /* The one-shot registration is spent; a trigger still standing re-arms it. */
            int still = 0;
            for (int u = 0; u < kq->nusers; u++) {
                struct unote *un = &kq->users[u];
                if (!un->active || !un->triggered || un->disabled)
                    continue;
                if (count == room) {
                    still = 1;
                    break;
                }
                struct kevent *o = &out[count++];
                memset(o, 0, sizeof(*o));
                o->ident = un->ident;
                o->filter = EVFILT_USER;
                o->flags = un->flags;
                o->fflags = un->fflags;
                o->udata = un->udata;
                if (un->flags & (EV_CLEAR | EV_ONESHOT | EV_DISPATCH))
                    un->triggered = 0;
                if (un->flags & EV_ONESHOT)
                    memset(un, 0, sizeof(*un));
                else if (un->flags & EV_DISPATCH)
                    un->disabled = 1;
                else if (un->triggered)
                    still = 1;
            }
            if (still)
                user_signal(kq);
            continue;
        }

        int fd = (int)ready[i].data.u64;
        if (fd >= kq->nfds)
            continue;
        struct fdent *e = &kq->fds[fd];
        if (g_mode == MODE_BSD && (ev & EPOLLERR) && !(ev & (EPOLLRDHUP | EPOLLHUP)) && is_datagram(fd)) {
            /* FreeBSD filt_soread/filt_sowrite: a datagram socket's so_error (an ICMP port
             * unreachable on a connected UDP socket) is plain readiness, no EV_EOF, no fflags;
             * the error stays on the socket for the next recv or send, which returns and clears
             * it. libkqueue makes no such difference (read.c reads SO_ERROR for every socket). */
            ev = (ev & ~EPOLLERR) | EPOLLIN | EPOLLOUT;
        }
        if (e->rd.active && !e->rd.disabled && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
            struct kevent *o = &out[count++];
            memset(o, 0, sizeof(*o));
            o->ident = (uintptr_t)fd;
            o->filter = EVFILT_READ;
            o->flags = e->rd.flags;
            o->udata = e->rd.udata;
            int stream_empty;
            o->data = readable_bytes(fd, &stream_empty);
            if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                o->flags |= EV_EOF;
            if (ev & EPOLLERR)
                o->fflags = socket_error(e, fd); /* (a): libkqueue read.c; FreeBSD filt_soread */
            else if ((ev & (EPOLLRDHUP | EPOLLHUP)) && g_mode == MODE_BSD)
                o->fflags = socket_error(e, fd);
            if (stream_empty && g_mode == MODE_LIBKQUEUE)
                o->flags |= EV_EOF; /* evfilt_read_copyout: SIOCINQ 0 on a stream socket */
            after_report(kq, fd, &e->rd);
        }
        if (count < room && e->wr.active && !e->wr.disabled && (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
            struct kevent *o = &out[count++];
            memset(o, 0, sizeof(*o));
            o->ident = (uintptr_t)fd;
            o->filter = EVFILT_WRITE;
            o->flags = e->wr.flags;
            o->udata = e->wr.udata;
            if (ev & EPOLLHUP)
                o->flags |= EV_EOF;
            if (ev & EPOLLERR) {
                /* (a): libkqueue write.c reads SO_ERROR again (0 if the read kevent took it);
                 * FreeBSD filt_sowrite reports so_error. */
                o->fflags = socket_error(e, fd);
                o->flags |= EV_EOF;
            } else {
                o->data = writable_bytes(fd);
            }
            after_report(kq, fd, &e->wr);
        }
    }
    return count;
}

static int timeout_ms(const struct timespec *ts)
{
    if (ts == NULL)
        return -1;
    if (ts->tv_sec < 0 || ts->tv_nsec < 0)
        return 0;
    long long ms = (long long)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

EXPORT int kevent(int kqfd, const struct kevent *changelist, int nchanges,
    struct kevent *eventlist, int nevents, const struct timespec *timeout)
{
    struct kq *kq = kq_lookup(kqfd);
    if (kq == NULL) {
        errno = g_mode == MODE_LIBKQUEUE ? ENOENT : EBADF;
        return -1;
    }
    __atomic_add_fetch(&kq->calls, 1, __ATOMIC_SEQ_CST);
    if (nchanges < 0 || nevents < 0) {
        errno = EINVAL;
        return -1;
    }
    if (eventlist == NULL)
        nevents = 0;
    if (g_mode == MODE_LIBKQUEUE && nevents > LIBKQUEUE_MAX_KEVENT)
        nevents = LIBKQUEUE_MAX_KEVENT; /* (b): kevent() in src/common/kevent.c */

    int placed = 0;
    pthread_mutex_lock(&kq->lock);
    for (int i = 0; i < nchanges; i++) {
        const struct kevent *ch = &changelist[i];
        int err = apply_change(kq, ch);
        if (err != 0 || (ch->flags & EV_RECEIPT)) {
            if (placed == nevents) {
                /* (b): no room for this entry; this change stands, those after it are not applied. */
                pthread_mutex_unlock(&kq->lock);
                if (err != 0) {
                    errno = err;
                    return -1;
                }
                if (g_mode == MODE_LIBKQUEUE) {
                    errno = EFAULT; /* kevent_copyin: a receipt without room */
                    return -1;
                }
                return 0; /* FreeBSD kqueue_kevent: return (error) with error 0 */
            }
            struct kevent *o = &eventlist[placed++];
            *o = *ch;
            o->flags = g_mode == MODE_LIBKQUEUE ? (unsigned short)(ch->flags | EV_ERROR) : EV_ERROR;
            o->data = err;
        }
    }
    pthread_mutex_unlock(&kq->lock);
    if (nevents == 0)
        return placed;
    if (placed > 0 && (g_mode == MODE_BSD || placed == nevents))
        return placed; /* (c): bsd returns the entries without scanning; libkqueue has no room left */

    /* (c), libkqueue: the entries placed so far are returned only with events; a timeout or a
     * failed wait loses them. */
    if (__atomic_exchange_n(&kq->interrupt, 0, __ATOMIC_SEQ_CST)) {
        errno = EINTR;
        return -1;
    }

    int ms = timeout_ms(timeout);
    int room = nevents - placed;
    if (room > 1024)
        room = 1024;
    struct epoll_event ready[1024];
    for (;;) {
        int n = epoll_wait(kq->ep, ready, room, ms);
        if (n < 0)
            return -1; /* EINTR included: the changes above were applied (kqueue(2)) */
        if (n == 0)
            return 0;
        pthread_mutex_lock(&kq->lock);
        int count = collect(kq, ready, n, eventlist + placed, nevents - placed);
        pthread_mutex_unlock(&kq->lock);
        if (count > 0 || ms >= 0 || g_mode == MODE_LIBKQUEUE)
            return placed + count; /* an early return without events is allowed (spurious wake-up) */
    }
}
