/*
 * kqueue-shim: a small kqueue/kevent over Linux epoll, for testing Pike.Reactor's KqueuePoller
 * on Linux. It exports libkqueue's ABI (include/sys/event.h of mheily/libkqueue: a 32-byte
 * struct kevent, FreeBSD's filter numbers, int counts) and follows the documented semantics of
 * kqueue(2) and libkqueue, not the poller's convenience, so that the poller also runs unchanged
 * against the real libkqueue:
 *
 *  - EVFILT_READ / EVFILT_WRITE on sockets, level-triggered; EV_ONESHOT deletes the knote once
 *    it is reported; EV_CLEAR makes the descriptor edge-triggered; EV_ENABLE / EV_DISABLE.
 *  - EVFILT_READ: data = bytes readable (FIONREAD), or the accept queue length of a listening
 *    TCP socket; EV_EOF once the peer shut down its side or the connection failed.
 *  - EVFILT_WRITE: data = free space in the send buffer; EV_EOF on hang-up; on an error
 *    (a failed connect) EV_EOF with the socket error in fflags, read through SO_ERROR the way
 *    libkqueue's linux/write.c does (which clears the socket's pending error, as there).
 *  - EVFILT_USER with NOTE_TRIGGER, EV_CLEAR and the NOTE_FF* fflags operations.
 *  - Changelist errors: when there is room, an entry with EV_ERROR and the errno in data is
 *    placed in the eventlist (with EV_RECEIPT, also for a change that succeeded, data 0);
 *    without room kevent returns -1 with errno. As FreeBSD's kern_event.c does, a call that
 *    placed such entries returns them without waiting for events, and the flags of such an
 *    entry are EV_ERROR alone.
 *  - Deleting, enabling or disabling a filter that is not there: ENOENT. A closed descriptor:
 *    EBADF. Closing a descriptor drops its knotes (a later change on a new file with the same
 *    number sees none), as kqueue does.
 *  - kevent interrupted by a signal returns -1/EINTR after the changes were applied.
 *  - The kqueue descriptor is the epoll descriptor itself, so closing it (close(2)) releases
 *    everything the queue holds of the kernel; the shim's bookkeeping for that number is freed
 *    when a later kqueue() gets the number again. EVFILT_USER triggers need no descriptor of
 *    their own: one process-wide eventfd, always readable, is added to the queue's epoll set
 *    with EPOLLONESHOT on NOTE_TRIGGER, which wakes a waiting kevent.
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
    int ep;             /* the epoll instance, which is also the caller's kqueue descriptor */
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

static pthread_mutex_t g_table_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_user_fd = -1;  /* eventfd holding 1 forever: readable in every epoll set it joins */
static struct kq **g_table;
static int g_table_len;

static struct kq *kq_lookup(int id);

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

EXPORT int kqueue(void)
{
    struct kq *kq = calloc(1, sizeof(*kq));
    if (kq == NULL) {
        errno = ENOMEM;
        return -1;
    }
    pthread_mutex_lock(&g_table_lock);
    if (g_user_fd < 0) {
        g_user_fd = eventfd(1, EFD_CLOEXEC);
        if (g_user_fd < 0) {
            int saved = errno;
            pthread_mutex_unlock(&g_table_lock);
            free(kq);
            errno = saved;
            return -1;
        }
    }
    kq->ep = epoll_create1(EPOLL_CLOEXEC);
    if (kq->ep < 0) {
        int saved = errno;
        pthread_mutex_unlock(&g_table_lock);
        free(kq);
        errno = saved;
        return -1;
    }
    pthread_mutex_init(&kq->lock, NULL);
    if (kq->ep >= g_table_len) {
        int len = kq->ep + 64;
        struct kq **grown = realloc(g_table, (size_t)len * sizeof(*grown));
        if (grown == NULL) {
            pthread_mutex_unlock(&g_table_lock);
            close(kq->ep);
            kq_free(kq);
            errno = ENOMEM;
            return -1;
        }
        memset(grown + g_table_len, 0, (size_t)(len - g_table_len) * sizeof(*grown));
        g_table = grown;
        g_table_len = len;
    }
    if (g_table[kq->ep] != NULL) {
        /* The caller closed an earlier queue with this number. */
        kq_free(g_table[kq->ep]);
    }
    g_table[kq->ep] = kq;
    pthread_mutex_unlock(&g_table_lock);
    return kq->ep;
}

static struct kq *kq_lookup(int id)
{
    struct kq *kq = NULL;
    pthread_mutex_lock(&g_table_lock);
    if (id >= 0 && id < g_table_len)
        kq = g_table[id];
    pthread_mutex_unlock(&g_table_lock);
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

static intptr_t readable_bytes(int fd)
{
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) {
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
    return avail;
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
        if (e->rd.active && !e->rd.disabled && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
            struct kevent *o = &out[count++];
            memset(o, 0, sizeof(*o));
            o->ident = (uintptr_t)fd;
            o->filter = EVFILT_READ;
            o->flags = e->rd.flags;
            o->udata = e->rd.udata;
            o->data = readable_bytes(fd);
            if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                o->flags |= EV_EOF;
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
                int serr = 0;
                socklen_t len = sizeof(serr);
                int rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &serr, &len);
                o->fflags = (unsigned int)(rc < 0 ? errno : serr);
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
        errno = EBADF;
        return -1;
    }
    __atomic_add_fetch(&kq->calls, 1, __ATOMIC_SEQ_CST);
    if (nchanges < 0 || nevents < 0) {
        errno = EINVAL;
        return -1;
    }

    int placed = 0;
    pthread_mutex_lock(&kq->lock);
    for (int i = 0; i < nchanges; i++) {
        const struct kevent *ch = &changelist[i];
        int err = apply_change(kq, ch);
        if (err != 0 || (ch->flags & EV_RECEIPT)) {
            if (placed == nevents) {
                pthread_mutex_unlock(&kq->lock);
                errno = err;
                return err == 0 ? placed : -1;
            }
            struct kevent *o = &eventlist[placed++];
            *o = *ch;
            o->flags = EV_ERROR;
            o->data = err;
        }
    }
    pthread_mutex_unlock(&kq->lock);
    if (placed > 0 || nevents == 0)
        return placed;

    if (__atomic_exchange_n(&kq->interrupt, 0, __ATOMIC_SEQ_CST)) {
        errno = EINTR;
        return -1;
    }

    int ms = timeout_ms(timeout);
    int room = nevents > 1024 ? 1024 : nevents;
    struct epoll_event ready[1024];
    for (;;) {
        int n = epoll_wait(kq->ep, ready, room, ms);
        if (n < 0)
            return -1; /* EINTR included: the changes above were applied (kqueue(2)) */
        if (n == 0)
            return 0;
        pthread_mutex_lock(&kq->lock);
        int count = collect(kq, ready, n, eventlist, nevents);
        pthread_mutex_unlock(&kq->lock);
        if (count > 0 || ms >= 0)
            return count; /* an early return without events is allowed (spurious wake-up) */
    }
}
