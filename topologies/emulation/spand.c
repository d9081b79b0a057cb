/* naas-spand: the span emulator. Every relayed span of a fabric, in one process.

   A span joins two interfaces (the outer ends of the two veth pairs of a span link):
   each frame received on one end leaves on the other at its arrival time (the kernel's
   receive timestamp) plus the span's one-way delay. A span never reorders: a frame never
   leaves before the one ahead of it, so a delay change applies to the frames that arrive
   after it. A frame more than MAX_LATE_NS overdue when its turn comes is dropped, as a
   router port's finite buffer would; every frame delivered has its lateness (sent minus
   due) recorded in a histogram, so the emulation can say when it was not on time.

   Built by scripts/setup-host.sh:  gcc -O2 -o .venv/bin/naas-spand spand.c
   Run by topologies/emulation/span.py (SpanEmulator). Needs CAP_NET_RAW.

   Control: one JSON object a line on stdin, exactly one JSON line in reply on stdout.
     {"add": ID, "a": IFNAME, "b": IFNAME, "delay_ms": D[, "loss_pct": L]} -> {"ok": true}
     {"set": ID[, "delay_ms": D][, "loss_pct": L]}          -> {"ok": true}
     {"remove": ID}                                         -> {"ok": true}
     {"stats": true} or {"stats": ID}                       -> {"spans": {ID: {...}, ...}}
     anything wrong                                         -> {"error": "..."}
   A span's loss (loss_pct, 0-100) drops that share of the frames it receives, each at random,
   while the carrier stays up: a gray failure (100: a stalled span). A span's stats: "a", "b",
   "delay_ms", "loss_pct", "serial" (which add made it: counters start over), and per direction
   ("a_to_b", "b_to_a") the frames received, sent, queued, dropped_loss (its loss),
   dropped_queue (queue full), dropped_send (the kernel refused them: the span is cut), dropped_late (over 100 ms
   overdue), dropped_size (longer than MAX_FRAME), late_max_ns, and late_us: the lateness
   histogram as [lo, hi, frames] for each bucket [lo, hi) microseconds that has frames.
   {"ready": true} is printed once at start. Exits 0 on EOF on stdin, SIGTERM or SIGINT.

   The loop: frames come in by recvmmsg, a batch at a time, straight into slots of a shared
   pool, and leave by sendmmsg from those slots. The loop sleeps in epoll_pwait2 (nanosecond
   timeout) until EARLY_NS before the next departure and spins the rest: waking from a sleep
   takes 20-80 us on these VMs. Frames of spans of 2 ms or more do not wake it: they are read
   at the next wake-up if that comes before any of them can be due (see LAZY_FROM_NS).
   It runs under SCHED_FIFO when asked (--rt-priority): on a loaded machine an ordinary
   process waits milliseconds for a core. Measured in docs/benchmarks.md. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <math.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define BATCH 64                       /* frames a recvmmsg or sendmmsg moves at most */
#define SLOT_BYTES 2048                /* one frame's buffer */
#define HEADROOM 4                     /* room in front of a frame to put its VLAN tag back */
#define MAX_FRAME (SLOT_BYTES - HEADROOM)
#define QUEUE_FRAMES 10000             /* a direction's queue; more is dropped (dropped_queue) */
#define MAX_LATE_NS 100000000LL        /* 100 ms overdue: dropped, not sent (dropped_late) */
#ifndef EARLY_NS
#define EARLY_NS 30000LL /* wake this long before a departure, then spin */
#endif
#define STAMP_TRUST_NS 1000000000LL    /* a receive stamp further off than this: the clock was stepped */
#define SOCKET_BYTES (4 << 20)
#define ID_MAX 64
/* Lateness histogram, in microseconds: 1 us wide buckets below 32 us, then 16 a doubling
   (at most 6% wide), up to 2^21 us; the last bucket takes anything later. */
#define LINEAR_US 32
#define SUB_BUCKETS 16
#define BUCKETS (LINEAR_US + 16 * SUB_BUCKETS)

struct slot {
    int64_t due;
    uint32_t len, off;
    struct slot *next; /* free list */
    unsigned char data[SLOT_BYTES];
};

struct direction {
    int in_fd, out_fd; /* receive here, send there */
    struct slot **ring;
    uint32_t head, count;
    int64_t last_due;
    int active; /* index in the active list, or -1 */
    uint64_t received, sent, dropped_loss, dropped_queue, dropped_send, dropped_late, dropped_size;
    int64_t late_max_ns;
    uint64_t late[BUCKETS];
};

struct span {
    char id[ID_MAX], ifname[2][IF_NAMESIZE];
    int fd[2];
    double delay_ms, loss_pct;
    int64_t delay_ns;
    uint64_t loss_below; /* a frame is dropped when a draw of 64 random bits falls below this */
    uint64_t serial; /* which "add" made it: counters restart with a new one */
    int lazy;        /* its sockets are in ep_lazy, not ep_eager */
    struct direction dir[2]; /* 0: a to b, 1: b to a */
    struct span *next;
};

static struct span *spans;
static uint64_t serials;
static struct direction **active; /* directions with frames queued */
static int n_active, cap_active;
static struct slot *free_slots;
/* Frames of short spans wake the loop as they arrive. Those of spans at least LAZY_FROM_NS
   long are read at the next wake-up for a departure, if that comes before any of them can
   be due (the kernel stamps each frame on arrival, so reading it later changes nothing):
   one wake-up a frame instead of two. */
#ifndef LAZY_FROM_NS
#define LAZY_FROM_NS 2000000LL
#endif
#define READ_MARGIN_NS 100000LL
static int ep_eager, ep_lazy; /* the span sockets of each kind */
static int ep_part, ep_full;  /* what a sleep waits for: control and eager frames; and lazy too */
static int64_t lazy_min_ns = INT64_MAX, lazy_read_at;
static int more_to_read; /* a socket still held frames after a full batch */

static void die(const char *what) {
    fprintf(stderr, "naas-spand: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int64_t clock_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* --- loss ------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t draw(void) { /* xorshift64*: fast, and random enough to drop frames by */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static int lost(struct span *sp) {
    return sp->loss_below && (sp->loss_pct >= 100 || draw() < sp->loss_below);
}

/* --- the frame pool ---------------------------------------------------------------- */

static struct slot *slot_get(void) {
    if (!free_slots) {
        struct slot *chunk = malloc(256 * sizeof *chunk);
        if (!chunk)
            return NULL;
        for (int i = 0; i < 256; i++) {
            chunk[i].next = free_slots;
            free_slots = &chunk[i];
        }
    }
    struct slot *s = free_slots;
    free_slots = s->next;
    return s;
}

static void slot_put(struct slot *s) {
    s->next = free_slots;
    free_slots = s;
}

/* --- lateness ---------------------------------------------------------------------- */

static int bucket_of(int64_t late_ns) {
    uint64_t us = late_ns > 0 ? (uint64_t)late_ns / 1000 : 0;
    if (us < LINEAR_US)
        return (int)us;
    int e = 63 - __builtin_clzll(us); /* us in [2^e, 2^(e+1)) */
    int b = LINEAR_US + (e - 5) * SUB_BUCKETS + (int)((us >> (e - 4)) & (SUB_BUCKETS - 1));
    return b < BUCKETS ? b : BUCKETS - 1;
}

static void bucket_bounds(int b, uint64_t *lo, uint64_t *hi) {
    if (b < LINEAR_US) {
        *lo = b, *hi = b + 1;
        return;
    }
    int e = 5 + (b - LINEAR_US) / SUB_BUCKETS, sub = (b - LINEAR_US) % SUB_BUCKETS;
    *lo = (uint64_t)(SUB_BUCKETS + sub) << (e - 4);
    *hi = b == BUCKETS - 1 ? UINT64_MAX / 1000 : *lo + (1ULL << (e - 4));
}

/* --- directions and the active list ------------------------------------------------ */

static void activate(struct direction *d) {
    if (d->active >= 0)
        return;
    if (n_active == cap_active) {
        cap_active = cap_active ? 2 * cap_active : 64;
        active = realloc(active, cap_active * sizeof *active);
        if (!active)
            die("realloc");
    }
    d->active = n_active;
    active[n_active++] = d;
}

static void deactivate(struct direction *d) {
    if (d->active < 0)
        return;
    struct direction *last = active[--n_active];
    active[d->active] = last;
    last->active = d->active;
    d->active = -1;
}

static void enqueue(struct direction *d, struct slot *s, int64_t arrival, int64_t delay_ns) {
    d->received++;
    if (d->count == QUEUE_FRAMES) {
        d->dropped_queue++;
        slot_put(s);
        return;
    }
    int64_t due = arrival + delay_ns;
    if (due < d->last_due) /* a span does not reorder */
        due = d->last_due;
    d->last_due = s->due = due;
    d->ring[(d->head + d->count++) % QUEUE_FRAMES] = s;
    activate(d);
}

static struct slot *head_of(struct direction *d) {
    return d->count ? d->ring[d->head] : NULL;
}

static struct slot *dequeue(struct direction *d) {
    struct slot *s = d->ring[d->head];
    d->head = (d->head + 1) % QUEUE_FRAMES;
    if (--d->count == 0)
        deactivate(d);
    return s;
}

static void drop_all(struct direction *d) {
    while (d->count)
        slot_put(dequeue(d));
}

/* --- receiving ---------------------------------------------------------------------- */

static struct mmsghdr msgs[BATCH];
static struct iovec iovs[BATCH];
static struct slot *batch[BATCH];
static struct sockaddr_ll from[BATCH];
static char controls[BATCH][CMSG_SPACE(sizeof(struct tpacket_auxdata)) + CMSG_SPACE(sizeof(struct timespec))];

static void receive(struct span *sp, int side) {
    struct direction *d = &sp->dir[side];
    int n = 0;
    for (; n < BATCH; n++) {
        if (!(batch[n] = slot_get()))
            break;
        iovs[n] = (struct iovec){batch[n]->data + HEADROOM, MAX_FRAME};
        msgs[n].msg_hdr = (struct msghdr){
            .msg_name = &from[n], .msg_namelen = sizeof from[n], .msg_iov = &iovs[n], .msg_iovlen = 1,
            .msg_control = controls[n], .msg_controllen = sizeof controls[n]};
    }
    int got = n ? recvmmsg(sp->fd[side], msgs, n, MSG_DONTWAIT, NULL) : 0;
    if (got < 0)
        got = 0; /* EAGAIN; or ENETDOWN, reported once when the link went down */
    if (got == BATCH)
        more_to_read = 1;
    int64_t now_mono = clock_ns(CLOCK_MONOTONIC), now_real = clock_ns(CLOCK_REALTIME);
    for (int i = 0; i < got; i++) {
        struct slot *s = batch[i];
        struct msghdr *h = &msgs[i].msg_hdr;
        if (from[i].sll_pkttype == PACKET_OUTGOING) { /* our own send, if the kernel shows it */
            slot_put(s);
            continue;
        }
        if (h->msg_flags & MSG_TRUNC) {
            d->received++, d->dropped_size++;
            slot_put(s);
            continue;
        }
        if (lost(sp)) {
            d->received++, d->dropped_loss++;
            slot_put(s);
            continue;
        }
        s->off = HEADROOM, s->len = msgs[i].msg_len;
        int64_t arrival = now_mono;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec t;
                memcpy(&t, CMSG_DATA(c), sizeof t);
                int64_t stamp = t.tv_sec * 1000000000LL + t.tv_nsec;
                if (llabs(stamp - now_real) < STAMP_TRUST_NS) /* the kernel stamps in CLOCK_REALTIME */
                    arrival = now_mono - (now_real - stamp);
            } else if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
                /* The kernel moved the VLAN tag out of the frame: put it back after the MACs. */
                struct tpacket_auxdata aux;
                memcpy(&aux, CMSG_DATA(c), sizeof aux);
                if ((aux.tp_status & TP_STATUS_VLAN_VALID) && s->len >= 12) {
                    uint16_t tpid = aux.tp_status & TP_STATUS_VLAN_TPID_VALID ? aux.tp_vlan_tpid : 0x8100;
                    unsigned char *p = s->data + HEADROOM - 4;
                    memmove(p, p + 4, 12);
                    p[12] = tpid >> 8, p[13] = tpid & 0xff;
                    p[14] = aux.tp_vlan_tci >> 8, p[15] = aux.tp_vlan_tci & 0xff;
                    s->off -= 4, s->len += 4;
                }
            }
        }
        enqueue(d, s, arrival, sp->delay_ns);
    }
    for (int i = got; i < n; i++)
        slot_put(batch[i]);
}

/* --- sending ------------------------------------------------------------------------ */

static void record(struct direction *d, int64_t late_ns) {
    d->sent++;
    d->late[bucket_of(late_ns)]++;
    if (late_ns > d->late_max_ns)
        d->late_max_ns = late_ns;
}

/* Send the frames of d due by now; true if it sent a full batch (more may be due). */
static int depart(struct direction *d, int64_t now) {
    int n = 0;
    struct slot *s;
    while (n < BATCH && (s = head_of(d)) && s->due <= now) {
        dequeue(d);
        if (now - s->due > MAX_LATE_NS) {
            d->dropped_late++;
            slot_put(s);
            continue;
        }
        batch[n] = s;
        iovs[n] = (struct iovec){s->data + s->off, s->len};
        msgs[n].msg_hdr = (struct msghdr){.msg_iov = &iovs[n], .msg_iovlen = 1};
        n++;
    }
    int i = 0, failed[BATCH] = {0};
    while (i < n) {
        int r = sendmmsg(d->out_fd, msgs + i, n - i, MSG_DONTWAIT);
        if (r > 0) {
            i += r;
        } else { /* ENETDOWN/ENXIO (the span is cut), ENOBUFS, EAGAIN: this frame is lost */
            failed[i++] = 1;
        }
    }
    int64_t sent_at = clock_ns(CLOCK_MONOTONIC);
    for (i = 0; i < n; i++) {
        if (failed[i])
            d->dropped_send++;
        else
            record(d, sent_at - batch[i]->due);
        slot_put(batch[i]);
    }
    return n == BATCH;
}

/* The earliest departure of every direction with frames queued, or INT64_MAX. */
static int64_t next_due(void) {
    int64_t next = INT64_MAX;
    for (int i = 0; i < n_active; i++) {
        int64_t due = head_of(active[i])->due;
        if (due < next)
            next = due;
    }
    return next;
}

/* Send everything due, then spin until a departure less than EARLY_NS away, and so on. */
static int64_t depart_all(void) {
    for (;;) {
        int64_t now = clock_ns(CLOCK_MONOTONIC);
        int more = 0;
        for (int i = 0; i < n_active;) {
            struct direction *d = active[i];
            more |= depart(d, now);
            if (i < n_active && active[i] == d)
                i++; /* else d left the list and another took its place */
        }
        if (more)
            continue;
        int64_t next = next_due();
        if (next == INT64_MAX || next - clock_ns(CLOCK_MONOTONIC) > EARLY_NS)
            return next;
        while (clock_ns(CLOCK_MONOTONIC) < next)
            __builtin_ia32_pause();
    }
}

/* --- sockets ------------------------------------------------------------------------ */

static int open_port(const char *ifname) {
    unsigned index = if_nametoindex(ifname);
    if (!index)
        return -1;
    /* Protocol 0 until bound, so that frames of other interfaces are never queued. */
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, bytes = SOCKET_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes))
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    struct sockaddr_ll addr = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = index};
    if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr)) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one); /* else: sll_pkttype */
    return fd;
}

/* --- replies ------------------------------------------------------------------------ */

static char *out;
static size_t out_len, out_cap;

static void put(const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(out + out_len, out_cap - out_len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < out_cap - out_len) {
            out_len += n;
            return;
        }
        out_cap = out_cap ? 2 * out_cap + n : 65536;
        if (!(out = realloc(out, out_cap)))
            die("realloc");
    }
}

static void flush_reply(void) {
    put("\n");
    for (size_t done = 0; done < out_len;) {
        ssize_t n = write(STDOUT_FILENO, out + done, out_len - done);
        if (n < 0 && errno != EINTR)
            exit(0); /* nobody reads us any more */
        if (n > 0)
            done += n;
    }
    out_len = 0;
}

/* Text from us or the caller, as a JSON string (ids and interface names are plain). */
static void put_string(const char *s) {
    put("\"");
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            put("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            put("\\u%04x", *s);
        else
            put("%c", *s);
    put("\"");
}

static void reply_error(const char *fmt, ...) {
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    out_len = 0;
    put("{\"error\": ");
    put_string(text);
    put("}");
    flush_reply();
}

static void put_direction(const char *name, struct direction *d) {
    put("\"%s\": {\"received\": %lu, \"sent\": %lu, \"queued\": %u, \"dropped_loss\": %lu, "
        "\"dropped_queue\": %lu, \"dropped_send\": %lu, \"dropped_late\": %lu, \"dropped_size\": %lu, "
        "\"late_max_ns\": %ld, \"late_us\": [",
        name, d->received, d->sent, d->count, d->dropped_loss, d->dropped_queue, d->dropped_send,
        d->dropped_late, d->dropped_size, d->late_max_ns);
    const char *sep = "";
    for (int b = 0; b < BUCKETS; b++) {
        if (!d->late[b])
            continue;
        uint64_t lo, hi;
        bucket_bounds(b, &lo, &hi);
        put("%s[%lu, %lu, %lu]", sep, lo, hi, d->late[b]);
        sep = ", ";
    }
    put("]}");
}

static void put_span(struct span *sp) {
    put_string(sp->id);
    put(": {\"a\": ");
    put_string(sp->ifname[0]);
    put(", \"b\": ");
    put_string(sp->ifname[1]);
    put(", \"delay_ms\": %.17g, \"loss_pct\": %.17g, \"serial\": %lu, ", sp->delay_ms, sp->loss_pct,
        sp->serial);
    put_direction("a_to_b", &sp->dir[0]);
    put(", ");
    put_direction("b_to_a", &sp->dir[1]);
    put("}");
}

/* --- commands: flat JSON objects ------------------------------------------------- */

enum kind { NONE, STRING, NUMBER, TRUE, FALSE, NUL };
struct field {
    char key[16];
    enum kind kind;
    char text[ID_MAX];
    double number;
};
#define FIELDS 8

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

/* A JSON string at p (after the quote) into buf; NULL if malformed or too long. */
static const char *parse_string(const char *p, char *buf, size_t size) {
    size_t n = 0;
    for (; *p && *p != '"'; p++) {
        char c = *p;
        if ((unsigned char)c < 0x20)
            return NULL;
        if (c == '\\') {
            c = *++p;
            if (c == 'n')
                c = '\n';
            else if (c == 't')
                c = '\t';
            else if (c != '"' && c != '\\' && c != '/')
                return NULL; /* \u and the rest: not in ids or interface names */
        }
        if (n + 1 >= size)
            return NULL;
        buf[n++] = c;
    }
    if (*p != '"')
        return NULL;
    buf[n] = 0;
    return p + 1;
}

/* Parse one line; the number of fields, or -1 with *why set. */
static int parse_object(const char *p, struct field *f, const char **why) {
    int n = 0;
    *why = "command must be a JSON object of strings, numbers and booleans";
    p = skip_space(p);
    if (*p++ != '{')
        return -1;
    p = skip_space(p);
    if (*p == '}')
        return *skip_space(p + 1) ? -1 : 0;
    for (;;) {
        if (n == FIELDS || *p++ != '"')
            return -1;
        if (!(p = parse_string(p, f[n].key, sizeof f[n].key)))
            return -1;
        p = skip_space(p);
        if (*p++ != ':')
            return -1;
        p = skip_space(p);
        if (*p == '"') {
            f[n].kind = STRING;
            if (!(p = parse_string(p + 1, f[n].text, sizeof f[n].text)))
                return -1;
        } else if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5) || !strncmp(p, "null", 4)) {
            f[n].kind = *p == 't' ? TRUE : *p == 'f' ? FALSE : NUL;
            p += *p == 'f' ? 5 : 4;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end;
            f[n].kind = NUMBER;
            f[n].number = strtod(p, &end);
            if (end == p || !isfinite(f[n].number))
                return -1;
            p = end;
        } else {
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (!strcmp(f[i].key, f[n].key)) {
                *why = "a key is given twice";
                return -1;
            }
        n++;
        p = skip_space(p);
        if (*p == '}')
            return *skip_space(p + 1) ? -1 : n;
        if (*p++ != ',')
            return -1;
        p = skip_space(p);
    }
}

static struct field *field(struct field *f, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (!strcmp(f[i].key, key))
            return &f[i];
    return NULL;
}

static struct span *find(const char *id) {
    for (struct span *sp = spans; sp; sp = sp->next)
        if (!strcmp(sp->id, id))
            return sp;
    return NULL;
}

/* The keys of a command are exactly `verb` and the ones in `keys`. */
static int only(struct field *f, int n, const char *verb, const char *const *keys) {
    for (int i = 0; i < n; i++) {
        int known = !strcmp(f[i].key, verb);
        for (const char *const *k = keys; *k && !known; k++)
            known = !strcmp(f[i].key, *k);
        if (!known) {
            reply_error("%s: unknown key %s", verb, f[i].key);
            return 0;
        }
    }
    return 1;
}

/* The delay in `f`, checked; -1 (an error sent) if it is not a number >= 0. */
static double delay_of(struct field *f, int n) {
    struct field *d = field(f, n, "delay_ms");
    if (!d || d->kind != NUMBER || d->number < 0 || d->number > 1e6) {
        reply_error("delay_ms must be a number of ms >= 0");
        return -1;
    }
    return d->number;
}

/* The loss in `f`, checked: -1 (an error sent) if it is not a number 0-100, -2 if absent. */
static double loss_of(struct field *f, int n) {
    struct field *l = field(f, n, "loss_pct");
    if (!l)
        return -2;
    if (l->kind != NUMBER || !(l->number >= 0 && l->number <= 100)) {
        reply_error("loss_pct must be a number 0-100");
        return -1;
    }
    return l->number;
}

static void set_loss(struct span *sp, double pct) {
    sp->loss_pct = pct;
    double below = pct / 100 * 18446744073709551616.0; /* pct of 2^64 */
    sp->loss_below = pct <= 0 ? 0 : below >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)below;
}

static void update_lazy_min(void) {
    lazy_min_ns = INT64_MAX;
    for (struct span *sp = spans; sp; sp = sp->next)
        if (sp->lazy && sp->delay_ns < lazy_min_ns)
            lazy_min_ns = sp->delay_ns;
}

/* Put the span's sockets in the set its delay calls for (first = not yet in any). */
static void place(struct span *sp, int first) {
    int lazy = sp->delay_ns >= LAZY_FROM_NS;
    if (first || lazy != sp->lazy) {
        for (int side = 0; side < 2; side++) {
            /* The event carries the span and the side: spans live until removed. */
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)sp | side};
            if (!first && epoll_ctl(sp->lazy ? ep_lazy : ep_eager, EPOLL_CTL_DEL, sp->fd[side], NULL))
                die("epoll_ctl");
            if (epoll_ctl(lazy ? ep_lazy : ep_eager, EPOLL_CTL_ADD, sp->fd[side], &ev))
                die("epoll_ctl");
        }
        sp->lazy = lazy;
    }
    update_lazy_min();
}

static void set_delay(struct span *sp, double delay_ms) {
    sp->delay_ms = delay_ms;
    sp->delay_ns = (int64_t)llround(delay_ms * 1e6);
}

static void close_span(struct span *sp) {
    for (int side = 0; side < 2; side++) {
        drop_all(&sp->dir[side]);
        free(sp->dir[side].ring);
        if (sp->fd[side] >= 0)
            close(sp->fd[side]); /* leaves the epoll set with it */
    }
    free(sp);
}

static void add_span(struct field *f, int n) {
    static const char *const keys[] = {"a", "b", "delay_ms", "loss_pct", NULL};
    struct field *id = field(f, n, "add"), *a = field(f, n, "a"), *b = field(f, n, "b");
    if (!only(f, n, "add", keys))
        return;
    if (id->kind != STRING || !*id->text)
        return reply_error("add: the span id must be a non-empty string");
    if (!a || !b || a->kind != STRING || b->kind != STRING || strlen(a->text) >= IF_NAMESIZE ||
        strlen(b->text) >= IF_NAMESIZE || !*a->text || !*b->text)
        return reply_error("add: a and b must be interface names");
    double delay = delay_of(f, n), loss = loss_of(f, n);
    if (delay < 0 || loss == -1)
        return;
    if (find(id->text))
        return reply_error("add: span %s exists", id->text);
    struct span *sp = calloc(1, sizeof *sp);
    if (!sp)
        die("calloc");
    snprintf(sp->id, sizeof sp->id, "%s", id->text);
    snprintf(sp->ifname[0], IF_NAMESIZE, "%s", a->text);
    snprintf(sp->ifname[1], IF_NAMESIZE, "%s", b->text);
    set_delay(sp, delay);
    set_loss(sp, loss < 0 ? 0 : loss);
    sp->serial = ++serials;
    sp->fd[0] = sp->fd[1] = -1;
    for (int side = 0; side < 2; side++) {
        struct direction *d = &sp->dir[side];
        d->active = -1;
        d->last_due = INT64_MIN;
        if (!(d->ring = malloc(QUEUE_FRAMES * sizeof *d->ring)))
            die("malloc");
        if ((sp->fd[side] = open_port(sp->ifname[side])) < 0) {
            int saved = errno;
            close_span(sp);
            return reply_error("add: cannot open %s: %s", side ? b->text : a->text, strerror(saved));
        }
    }
    for (int side = 0; side < 2; side++) {
        sp->dir[side].in_fd = sp->fd[side];
        sp->dir[side].out_fd = sp->fd[1 - side];
    }
    sp->next = spans;
    spans = sp;
    place(sp, 1);
    put("{\"ok\": true}");
    flush_reply();
}

static void command(const char *line) {
    struct field f[FIELDS];
    const char *why;
    int n = parse_object(line, f, &why);
    if (n < 0)
        return reply_error("%s", why);
    struct field *verb;
    if ((verb = field(f, n, "add")))
        return add_span(f, n);
    if ((verb = field(f, n, "set"))) {
        static const char *const keys[] = {"delay_ms", "loss_pct", NULL};
        struct span *sp;
        if (!only(f, n, "set", keys))
            return;
        if (verb->kind != STRING || !(sp = find(verb->text)))
            return reply_error("set: no such span");
        int has_delay = field(f, n, "delay_ms") != NULL;
        double delay = has_delay ? delay_of(f, n) : sp->delay_ms, loss = loss_of(f, n);
        if (delay < 0 || loss == -1)
            return;
        if (!has_delay && loss == -2)
            return reply_error("set: give delay_ms, loss_pct or both");
        if (loss >= 0)
            set_loss(sp, loss);
        set_delay(sp, delay); /* frames queued keep the delay they came in with */
        place(sp, 0);
        put("{\"ok\": true}");
        return flush_reply();
    }
    if ((verb = field(f, n, "remove"))) {
        static const char *const keys[] = {NULL};
        if (!only(f, n, "remove", keys))
            return;
        for (struct span **p = &spans; *p; p = &(*p)->next)
            if (verb->kind == STRING && !strcmp((*p)->id, verb->text)) {
                struct span *sp = *p;
                *p = sp->next;
                close_span(sp);
                update_lazy_min();
                put("{\"ok\": true}");
                return flush_reply();
            }
        return reply_error("remove: no such span");
    }
    if ((verb = field(f, n, "stats"))) {
        static const char *const keys[] = {NULL};
        if (!only(f, n, "stats", keys))
            return;
        if (verb->kind != TRUE && !(verb->kind == STRING && find(verb->text)))
            return reply_error("stats: true, or the id of a span");
        put("{\"spans\": {");
        const char *sep = "";
        for (struct span *sp = spans; sp; sp = sp->next)
            if (verb->kind == TRUE || !strcmp(sp->id, verb->text)) {
                put("%s", sep);
                put_span(sp);
                sep = ", ";
            }
        put("}}");
        return flush_reply();
    }
    reply_error("command must have one of the keys add, set, remove, stats");
}

/* --- the loop ----------------------------------------------------------------------- */

static char in[1 << 16];
static size_t in_len;

/* Read stdin and run every complete line; false on EOF. */
static int read_commands(void) {
    ssize_t got = read(STDIN_FILENO, in + in_len, sizeof in - in_len);
    if (got == 0)
        return 0;
    if (got < 0)
        return errno == EINTR || errno == EAGAIN;
    in_len += got;
    char *start = in, *nl;
    while ((nl = memchr(start, '\n', in + in_len - start))) {
        *nl = 0;
        if (*skip_space(start))
            command(start);
        start = nl + 1;
    }
    in_len -= start - in;
    memmove(in, start, in_len);
    if (in_len == sizeof in) { /* a line longer than any command */
        in_len = 0;
        reply_error("command line too long");
    }
    return 1;
}

#define STDIN_TAG 1ULL
#define SIGNAL_TAG 3ULL /* spans are aligned: their tags have bit 0 for the side only */
#define SET_TAG 5ULL

/* Read the sockets of one set that have frames, a batch each. */
static void read_frames(int ep) {
    struct epoll_event ready[128];
    int n = epoll_wait(ep, ready, 128, 0);
    if (n == 128)
        more_to_read = 1;
    for (int i = 0; i < n; i++)
        receive((struct span *)(uintptr_t)(ready[i].data.u64 & ~1ULL), (int)(ready[i].data.u64 & 1));
}

static int add_to(int ep, int fd, uint64_t tag) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int main(int argc, char **argv) {
    /* --label NAME only names the process (ps shows which fabric it serves).
       --rt-priority N runs it under SCHED_FIFO at priority N (1-99), as the kernel's own
       packet processing would: ahead of every ordinary process of a busy machine. */
    int priority = 0;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--label") && i + 1 < argc)
            i++;
        else if (!strcmp(argv[i], "--rt-priority") && i + 1 < argc &&
                 (priority = (int)strtol(argv[++i], &end, 10), *end == 0) && priority >= 1 && priority <= 99)
            continue;
        else {
            fprintf(stderr, "usage: naas-spand [--label NAME] [--rt-priority 1-99]\n");
            return 2;
        }
    }
    if (priority) {
        struct sched_param param = {.sched_priority = priority};
        if (sched_setscheduler(0, SCHED_FIFO, &param))
            fprintf(stderr, "naas-spand: SCHED_FIFO %d: %s (running unprioritized)\n", priority, strerror(errno));
    }
    prctl(PR_SET_TIMERSLACK, 1UL); /* wake when asked, not up to 50 us later */
    rng_state ^= (uint64_t)clock_ns(CLOCK_REALTIME) | 1;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sigfd = signalfd(-1, &stop, SFD_CLOEXEC);
    ep_eager = epoll_create1(EPOLL_CLOEXEC), ep_lazy = epoll_create1(EPOLL_CLOEXEC);
    ep_part = epoll_create1(EPOLL_CLOEXEC), ep_full = epoll_create1(EPOLL_CLOEXEC);
    if (sigfd < 0 || ep_eager < 0 || ep_lazy < 0 || ep_part < 0 || ep_full < 0)
        die("epoll/signalfd");
    if (add_to(ep_part, STDIN_FILENO, STDIN_TAG) || add_to(ep_part, sigfd, SIGNAL_TAG) ||
        add_to(ep_part, ep_eager, SET_TAG) || add_to(ep_full, ep_part, SET_TAG) || add_to(ep_full, ep_lazy, SET_TAG))
        die("epoll_ctl (stdin must be a pipe)");
    /* A stats reply of a large fabric under load is over the pipe's default 64 KiB: with room
       for it, the loop never waits for the reader (a busy Python) while frames are due. */
    fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
    put("{\"ready\": true}");
    flush_reply();
    struct epoll_event events[8];
    for (;;) {
        more_to_read = 0;
        read_frames(ep_eager);
        read_frames(ep_lazy);
        lazy_read_at = clock_ns(CLOCK_MONOTONIC);
        int64_t next = depart_all(), now = clock_ns(CLOCK_MONOTONIC);
        /* Lazy frames arriving from now on can be due at lazy_read_at + lazy_min_ns at the
           earliest: if the next departure comes before, they need not wake us. */
        int64_t wake = next == INT64_MAX ? INT64_MAX : next - EARLY_NS;
        int64_t lazy_by = lazy_min_ns == INT64_MAX ? INT64_MAX : lazy_read_at + lazy_min_ns - EARLY_NS - READ_MARGIN_NS;
        int ep = wake <= lazy_by ? ep_part : ep_full;
        struct timespec wait, *timeout = NULL;
        if (more_to_read)
            wake = now;
        if (wake != INT64_MAX) {
            int64_t ns = wake > now ? wake - now : 0;
            wait = (struct timespec){ns / 1000000000LL, ns % 1000000000LL};
            timeout = &wait;
        }
        if (epoll_pwait2(ep, events, 8, timeout, NULL) < 0 && errno != EINTR)
            die("epoll_pwait2");
        int n = epoll_wait(ep_part, events, 8, 0), commands = 0;
        for (int i = 0; i < n; i++) {
            if (events[i].data.u64 == SIGNAL_TAG)
                return 0;
            commands |= events[i].data.u64 == STDIN_TAG;
        }
        if (commands) {
            do { /* every frame that arrived before a command is queued under the settings before it */
                more_to_read = 0;
                read_frames(ep_eager);
                read_frames(ep_lazy);
            } while (more_to_read);
            if (!read_commands())
                return 0;
        }
    }
}
