// SPDX-License-Identifier: GPL-2.0-only
/*
 * Open-loop memcached load generator (the latency source kopt drives).
 *
 * Open loop: requests leave on a schedule fixed in advance, whatever the
 * server does, and each latency is measured from the request's *intended*
 * send time. A closed-loop client (send, wait, send) slows down exactly
 * when the server queues, and so never sees the queueing it caused
 * ("coordinated omission"); here a slow server or a late client both show
 * up in the latency. The client's own lateness (actual - intended send
 * time) is reported separately as "lag" so a saturated generator is
 * visible rather than blamed on the server.
 *
 * Schedule: per worker thread, a Poisson stream at rate/threads (the sum
 * of independent Poisson streams is Poisson at the total rate), cut into
 * segments of at most one second (the warmup and the measured interval
 * are cut separately). Each segment holds exactly its share of the target
 * count, round(rate * t), and its arrivals are drawn as n+1 exponential
 * gaps from a seeded erand48() stream, scaled to fill the segment: that is
 * exactly a Poisson process conditioned on its count (uniform order
 * statistics), so the burstiness that builds queues is Poisson while the
 * achieved rate cannot drift from the target by sampling noise (a free
 * Poisson count is off by 1/sqrt(n): +-1.3% at 2000 req/s for 3 s). The
 * next segment is precomputed a slice at a time while the current one
 * runs, so drawing it never delays a send. Op and key choices come from a
 * second seeded stream: a run is a function of --seed.
 *
 * I/O: each worker owns its connections and an epoll; it sleeps until the
 * next arrival with epoll_pwait2() (nanosecond timeout; timer slack set to
 * 1 ns, the default 50 us would make every send late), sends every due
 * request on an idle connection or, when all are busy, pipelines it on the
 * least loaded one (memcached answers in order per connection). Responses
 * are timestamped when read. A request unanswered after --timeout ends
 * its connection (its replies can no longer be matched), which reconnects.
 *
 * Why not libmemcached: its calls are synchronous (one request in flight
 * per call, the caller blocked), so it cannot keep a send schedule while
 * replies are outstanding; the ASCII get/set subset needed is small.
 *
 * Cost: one epoll wake-up per arrival or reply batch, ~2 syscalls per
 * request: 5% of one core at 1000 req/s, 16-24% at 10000 and 66% at
 * 50000 on the 2-core sandbox, so one thread per ~50000 req/s (kopt
 * loadgen prints its own CPU use). Memory: 8 B per arrival of two
 * one-second segments, four ~190 KiB histograms per thread, 24 B per
 * sample with --raw.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"
#include "kopt.h"
#include "loadgen.h"

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define SEG_NS NSEC_PER_SEC /* longest schedule segment */
#define FILL_SLICE 1024 /* gaps drawn per loop turn for the next segment */
#define MAINT_NS (5 * NSEC_PER_MSEC) /* timeout/reconnect check period */
#define RETRY_NS (100 * NSEC_PER_MSEC) /* reconnect back-off */
#define STOP_DRAIN_NS (100 * NSEC_PER_MSEC) /* replies awaited after stop */
#define START_DELAY_NS (20 * NSEC_PER_MSEC) /* threads up before t0 */
#define READ_CHUNK 65536
#define MAX_LINE 8192 /* longer without CRLF: not memcached */
#define MAX_EVENTS 256
#define PRELOAD_BATCH 256
#define PRELOAD_BYTES (256 * 1024)
#define HIST_DIGITS 3
#define KEY_LEN 32

enum lg_op { OP_GET, OP_SET };
enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_UP };
enum reply { R_MORE, R_HIT, R_MISS, R_STORED, R_ERROR, R_PROTO };
enum raw_kind { RAW_GET_HIT, RAW_GET_MISS, RAW_SET };

struct pending {
	uint64_t intended_ns;
	uint8_t op;
	bool measured;
};

struct conn {
	int fd;
	enum conn_state state;
	uint32_t events; /* current epoll interest */
	uint64_t deadline_ns; /* connect deadline or reconnect time */
	struct pending *q; /* ring of requests on the wire, in order */
	uint32_t qcap, qhead, qlen;
	char *wbuf;
	size_t wlen, woff, wcap;
	char *rbuf;
	size_t rlen, rcap;
	bool dirty; /* on the worker's flush list */
};

/* What a worker accumulates between two loadgen_window() calls. */
struct window {
	struct hist lat, lag;
	uint64_t sent, completed, in_interval, errors, timeouts, hits, misses;
	char first_error[LOADGEN_ERR_LEN];
};

struct raw_sample {
	uint64_t intended_ns; /* since the end of the warmup */
	uint64_t latency_ns;
	uint8_t kind;
};

/* Arrivals of one segment: cum[i] = sum of gaps 0..i, n+1 gaps. */
struct seg {
	double *cum;
	size_t cap;
	uint64_t n, filled;
	uint64_t start, end; /* ns since t0 */
};

struct loadgen;

struct worker {
	struct loadgen *lg;
	int id;
	pthread_t tid;
	bool running;
	int epfd;
	struct conn *conns;
	struct conn **dirty;
	int nconns, ndirty, rr;
	uint64_t outstanding;
	double rate; /* this worker's share, requests per second */
	struct seg seg[2];
	int cur;
	uint64_t idx; /* next arrival in seg[cur] */
	bool has_next; /* seg[!cur] is the following segment */
	unsigned short gap_rng[3], op_rng[3];
	char key[KEY_LEN];
	pthread_mutex_t lock; /* guards wcur and win[wcur] */
	struct window win[2];
	int wcur;
	struct raw_sample *raw;
	size_t nraw, rawcap;
	bool raw_oom;
};

struct loadgen {
	struct loadgen_opts o;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t t0; /* schedule origin (CLOCK_MONOTONIC ns) */
	uint64_t warm_ns, end_ns; /* since t0; end_ns UINT64_MAX: open */
	uint64_t ms, me; /* absolute measurement start and end */
	uint64_t timeout_ns;
	atomic_bool stop;
	_Atomic uint64_t stop_ns;
	int stop_fd; /* eventfd in every worker's epoll */
	struct worker *w;
	int nworkers;
	bool joined;
	char *value;
	struct hist lat, lag; /* window accumulators */
	uint64_t prev_ns;
};

static atomic_bool no_pwait2;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

void loadgen_opts_default(struct loadgen_opts *o)
{
	*o = (struct loadgen_opts){
		.server = "127.0.0.1:11211",
		.rate = 1000,
		.duration_s = 10,
		.warmup_s = 1,
		.connections = 16,
		.threads = 1,
		.get_ratio = 0.9,
		.key_space = 10000,
		.value_size = 64,
		.seed = 1,
		.timeout_s = 1,
	};
}

/* ---- option checks and the server address ------------------------------ */

static int check_opts(const struct loadgen_opts *o)
{
	const char *bad = NULL;

	if (!o->server || !*o->server)
		bad = "server (--server) is empty";
	else if (!(o->rate > 0) || o->rate > LOADGEN_MAX_RATE)
		bad = "rate (--rate) must be in (0, 2000000] requests/s";
	else if (!(o->duration_s >= 0) || !isfinite(o->duration_s))
		bad = "duration (--duration) must be >= 0 s";
	else if (!(o->warmup_s >= 0) || !isfinite(o->warmup_s))
		bad = "warmup (--warmup) must be >= 0 s";
	else if (o->connections < 1 || o->connections > LOADGEN_MAX_CONNS)
		bad = "connections (--connections) must be in 1..4096";
	else if (o->threads < 1 || o->threads > LOADGEN_MAX_THREADS ||
		 o->threads > o->connections)
		bad = "threads (--threads) must be in 1..64 and <= connections";
	else if (!(o->get_ratio >= 0) || o->get_ratio > 1)
		bad = "get ratio (--get-ratio) must be in [0, 1]";
	else if (o->key_space < 1 || o->key_space > LOADGEN_MAX_KEYS)
		bad = "key space (--key-space) must be in 1..10000000";
	else if (o->value_size < 1 || o->value_size > LOADGEN_MAX_VALUE)
		bad = "value size (--value-size) must be in 1..4194304 bytes";
	else if (!(o->timeout_s > 0) || o->timeout_s > LOADGEN_MAX_TIMEOUT_S)
		bad = "timeout (--timeout) must be in (0, 60] s";
	if (bad) {
		pr_warn("loadgen: %s\n", bad);
		return -EINVAL;
	}
	return 0;
}

/* "host:port" or "[v6]:port" into addr; numeric port only. */
static int resolve(struct loadgen *lg)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	char host[256];
	const char *colon = strrchr(lg->o.server, ':'), *h = lg->o.server;
	struct addrinfo *res;
	size_t len;
	int err;

	if (!colon || !colon[1] || colon == h) {
		pr_warn("loadgen: --server '%s': expected HOST:PORT "
			"(e.g. 127.0.0.1:11211)\n",
			lg->o.server);
		return -EINVAL;
	}
	len = colon - h;
	if (h[0] == '[' && len >= 2 && h[len - 1] == ']') {
		h++;
		len -= 2;
	}
	if (len >= sizeof(host)) {
		pr_warn("loadgen: --server '%s': host name too long\n",
			lg->o.server);
		return -EINVAL;
	}
	memcpy(host, h, len);
	host[len] = '\0';
	err = getaddrinfo(host, colon + 1, &hints, &res);
	if (err) {
		pr_warn("loadgen: cannot resolve --server '%s': %s\n",
			lg->o.server, gai_strerror(err));
		return -EINVAL;
	}
	memcpy(&lg->addr, res->ai_addr, res->ai_addrlen);
	lg->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- growable buffers ---------------------------------------------------- */

static void *grow_to(void *buf, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return buf;
	while (ncap < need)
		ncap *= 2;
	p = realloc(buf, ncap * elem);
	if (p)
		*cap = ncap;
	return p;
}

/* Makes room for `need` elements in ptr; 0 or -ENOMEM (ptr kept). */
#define GROW(ptr, cap, need)                                                \
	({                                                                  \
		void *__p = grow_to((ptr), &(cap), (need), sizeof(*(ptr))); \
		if (__p)                                                    \
			(ptr) = __p;                                        \
		__p ? 0 : -ENOMEM;                                          \
	})

static int wbuf_put(struct conn *c, const void *data, size_t len)
{
	if (GROW(c->wbuf, c->wcap, c->wlen + len))
		return -ENOMEM;
	memcpy(c->wbuf + c->wlen, data, len);
	c->wlen += len;
	return 0;
}

static int queue_push(struct conn *c, const struct pending *p)
{
	if (c->qlen == c->qcap) {
		uint32_t ncap = c->qcap ? c->qcap * 2 : 16, i;
		struct pending *q = malloc(ncap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (i = 0; i < c->qlen; i++)
			q[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = q;
		c->qcap = ncap;
		c->qhead = 0;
	}
	c->q[(c->qhead + c->qlen) % c->qcap] = *p;
	c->qlen++;
	return 0;
}

static struct pending queue_pop(struct conn *c)
{
	struct pending p = c->q[c->qhead];

	c->qhead = (c->qhead + 1) % c->qcap;
	c->qlen--;
	return p;
}

/* ---- the schedule ----------------------------------------------------------- */

static uint64_t seg_end_for(const struct loadgen *lg, uint64_t start)
{
	uint64_t lim = start < lg->warm_ns ? lg->warm_ns : lg->end_ns;

	return lim - start < SEG_NS ? lim : start + SEG_NS;
}

/* Arrivals due in [0, t) since t0: the target count, rounded. */
static uint64_t count_until(const struct worker *w, uint64_t t)
{
	return (uint64_t)llround(w->rate * ((double)t / NSEC_PER_SEC));
}

static int seg_begin(struct worker *w, struct seg *s, uint64_t start)
{
	s->start = start;
	s->end = seg_end_for(w->lg, start);
	s->n = count_until(w, s->end) - count_until(w, start);
	s->filled = 0;
	if (GROW(s->cum, s->cap, s->n + 1))
		return -ENOMEM;
	return 0;
}

static void seg_fill(struct worker *w, struct seg *s, uint64_t max)
{
	for (; s->filled <= s->n && max; max--, s->filled++) {
		double gap = -log1p(-erand48(w->gap_rng));
		double prev = s->filled ? s->cum[s->filled - 1] : 0;

		s->cum[s->filled] = prev + gap;
	}
}

/* Sets up the segment after seg[cur], if the schedule goes on. */
static int sched_prepare_next(struct worker *w)
{
	uint64_t start = w->seg[w->cur].end;

	w->has_next = start < w->lg->end_ns;
	if (!w->has_next)
		return 0;
	return seg_begin(w, &w->seg[!w->cur], start);
}

/* Intended time (ns since t0) of the next arrival; UINT64_MAX at the end. */
static uint64_t sched_peek(struct worker *w)
{
	for (;;) {
		struct seg *s = &w->seg[w->cur];

		if (w->idx < s->n) {
			double total = s->cum[s->n] > 0 ? s->cum[s->n] : 1;
			double frac = s->cum[w->idx] / total;

			return s->start +
			       (uint64_t)(frac * (s->end - s->start));
		}
		if (!w->has_next)
			return UINT64_MAX;
		seg_fill(w, &w->seg[!w->cur], UINT64_MAX);
		w->cur = !w->cur;
		w->idx = 0;
		if (sched_prepare_next(w))
			return UINT64_MAX;
	}
}

static int sched_init(struct worker *w)
{
	struct loadgen *lg = w->lg;
	uint64_t mix = lg->o.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)w->id;
	size_t per_seg = (size_t)ceil(w->rate) + 2;
	unsigned short state[6];
	int i;

	/* splitmix64 spreads one seed over both 48-bit erand48 states */
	for (i = 0; i < 6; i++) {
		uint64_t z = (mix += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		state[i] = (unsigned short)(z ^ (z >> 31));
	}
	memcpy(w->gap_rng, state, sizeof(w->gap_rng));
	memcpy(w->op_rng, state + 3, sizeof(w->op_rng));
	for (i = 0; i < 2; i++)
		if (GROW(w->seg[i].cum, w->seg[i].cap, per_seg))
			return -ENOMEM;
	w->cur = 0;
	w->idx = 0;
	if (seg_begin(w, &w->seg[0], 0))
		return -ENOMEM;
	seg_fill(w, &w->seg[0], UINT64_MAX);
	return sched_prepare_next(w);
}

/* ---- statistics -------------------------------------------------------------- */

static int window_init(struct window *win, uint64_t highest)
{
	memset(win, 0, sizeof(*win));
	if (hist_init(&win->lat, highest, HIST_DIGITS) ||
	    hist_init(&win->lag, highest, HIST_DIGITS))
		return -ENOMEM;
	return 0;
}

static void window_reset(struct window *win)
{
	hist_reset(&win->lat);
	hist_reset(&win->lag);
	win->sent = win->completed = win->in_interval = 0;
	win->errors = win->timeouts = win->hits = win->misses = 0;
	win->first_error[0] = '\0';
}

static struct window *win_lock(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	return &w->win[w->wcur];
}

static void win_unlock(struct worker *w)
{
	pthread_mutex_unlock(&w->lock);
}

static void note_error(struct window *win, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note_error(struct window *win, const char *fmt, ...)
{
	va_list ap;

	if (win->first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(win->first_error, sizeof(win->first_error), fmt, ap);
	va_end(ap);
}

static void raw_add(struct worker *w, const struct pending *p, uint64_t lat,
		    enum raw_kind kind)
{
	if (!w->lg->o.raw_path || w->raw_oom)
		return;
	if (GROW(w->raw, w->rawcap, w->nraw + 1)) {
		w->raw_oom = true;
		return;
	}
	w->raw[w->nraw++] = (struct raw_sample){
		.intended_ns = p->intended_ns - w->lg->ms,
		.latency_ns = lat,
		.kind = kind,
	};
}

static void complete(struct worker *w, struct window *win,
		     const struct pending *p, enum reply r, uint64_t now)
{
	uint64_t lat = now > p->intended_ns ? now - p->intended_ns : 0;
	uint64_t end = min_u64(w->lg->me, atomic_load(&w->lg->stop_ns));

	if (!p->measured)
		return;
	if (r == R_ERROR) {
		win->errors++;
		return;
	}
	win->completed++;
	if (now < end)
		win->in_interval++;
	hist_record(&win->lat, lat);
	if (r == R_HIT)
		win->hits++;
	else if (r == R_MISS)
		win->misses++;
	raw_add(w, p, lat,
		r == R_HIT  ? RAW_GET_HIT :
		r == R_MISS ? RAW_GET_MISS :
			      RAW_SET);
}

/* ---- connections -------------------------------------------------------------- */

static const char *errname(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "?";
}

static int new_socket(const struct loadgen *lg)
{
	int fd, one = 1;

	fd = socket(lg->addr.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* small pipelined requests: Nagle would hold them back */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int epoll_set(struct worker *w, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };
	int op = c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (events == c->events)
		return 0;
	if (epoll_ctl(w->epfd, op, c->fd, &ev))
		return -errno;
	c->events = events;
	return 0;
}

/* Ends c: every request on it is lost, as an error or a timeout. */
static void conn_fail(struct worker *w, struct conn *c, bool timeout,
		      uint64_t now, const char *why)
{
	struct window *win = win_lock(w);
	uint64_t lost = 0;

	while (c->qlen) {
		struct pending p = queue_pop(c);

		w->outstanding--;
		if (!p.measured)
			continue;
		lost++;
		if (timeout)
			win->timeouts++;
		else
			win->errors++;
	}
	if (lost || !timeout)
		note_error(win, "%s: %s", w->lg->o.server, why);
	win_unlock(w);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->events = 0;
	c->state = CONN_DOWN;
	c->deadline_ns = now + (timeout ? 0 : RETRY_NS);
	c->wlen = c->woff = c->rlen = 0;
}

static void conn_connect(struct worker *w, struct conn *c, uint64_t now)
{
	const struct loadgen *lg = w->lg;
	int fd = new_socket(lg);

	c->deadline_ns = now + RETRY_NS;
	if (fd < 0)
		return;
	c->fd = fd;
	c->events = 0;
	if (!connect(fd, (const struct sockaddr *)&lg->addr, lg->addrlen)) {
		c->state = CONN_UP;
		if (!epoll_set(w, c, EPOLLIN))
			return;
	} else if (errno == EINPROGRESS) {
		c->state = CONN_CONNECTING;
		c->deadline_ns = now + lg->timeout_ns;
		if (!epoll_set(w, c, EPOLLOUT))
			return;
	}
	close(fd);
	c->fd = -1;
	c->state = CONN_DOWN;
}

static void conn_connected(struct worker *w, struct conn *c, uint64_t now)
{
	int err = 0;
	socklen_t len = sizeof(err);
	char why[96];

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err) {
		snprintf(why, sizeof(why), "reconnect failed: %s (%s)",
			 strerror(err), errname(err));
		conn_fail(w, c, false, now, why);
		return;
	}
	c->state = CONN_UP;
	if (epoll_set(w, c, EPOLLIN))
		conn_fail(w, c, false, now, "epoll_ctl failed");
}

static void conn_flush(struct worker *w, struct conn *c, uint64_t now)
{
	char why[96];
	ssize_t n;

	while (c->woff < c->wlen) {
		n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
			 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			snprintf(why, sizeof(why), "send failed: %s (%s)",
				 strerror(errno), errname(errno));
			conn_fail(w, c, false, now, why);
			return;
		}
		c->woff += n;
	}
	if (c->woff == c->wlen)
		c->woff = c->wlen = 0;
	if (epoll_set(w, c, c->wlen ? EPOLLIN | EPOLLOUT : EPOLLIN))
		conn_fail(w, c, false, now, "epoll_ctl failed");
}

/* ---- the memcached ASCII protocol ----------------------------------------- */

static bool starts(const char *line, size_t len, const char *word)
{
	size_t wl = strlen(word);

	return len >= wl && !memcmp(line, word, wl);
}

/*
 * Parses the reply at the front of c->rbuf to a request of type op.
 * Sets *used to its length; msg gets the text of an error reply.
 */
static enum reply parse_reply(const struct conn *c, enum lg_op op, size_t *used,
			      char *msg, size_t msglen)
{
	const char *buf = c->rbuf, *eol = memmem(buf, c->rlen, "\r\n", 2);
	size_t len, need;
	unsigned long bytes;
	const char *sp;
	char *end;

	snprintf(msg, msglen, "no CRLF in the first %d bytes", MAX_LINE);
	if (!eol)
		return c->rlen > MAX_LINE ? R_PROTO : R_MORE;
	len = eol - buf;
	*used = len + 2;
	snprintf(msg, msglen, "%.*s", (int)(len < 100 ? len : 100), buf);
	if (starts(buf, len, "ERROR") || starts(buf, len, "CLIENT_ERROR") ||
	    starts(buf, len, "SERVER_ERROR"))
		return R_ERROR;
	if (op == OP_SET)
		return len == 6 && starts(buf, len, "STORED") ? R_STORED :
								R_ERROR;
	if (len == 3 && starts(buf, len, "END"))
		return R_MISS;
	if (!starts(buf, len, "VALUE "))
		return R_PROTO;
	/* VALUE <key> <flags> <bytes>: the byte count is the last field */
	sp = memrchr(buf, ' ', len);
	bytes = strtoul(sp + 1, &end, 10);
	if (end != eol || bytes > LOADGEN_MAX_VALUE)
		return R_PROTO;
	need = len + 2 + bytes + 7; /* data, "\r\nEND\r\n" */
	if (c->rlen < need)
		return R_MORE;
	if (memcmp(buf + len + 2 + bytes, "\r\nEND\r\n", 7))
		return R_PROTO;
	*used = need;
	return R_HIT;
}

static void conn_readable(struct worker *w, struct conn *c)
{
	char msg[128], why[192];
	struct window *win;
	size_t used = 0;
	enum reply r = R_MORE;
	uint64_t now;
	ssize_t n;
	int err;

	if (GROW(c->rbuf, c->rcap, c->rlen + READ_CHUNK))
		return;
	n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
	err = errno;
	now = mono_ns();
	if (n < 0 && (err == EAGAIN || err == EINTR))
		return;
	if (n <= 0) {
		snprintf(why, sizeof(why), "%s",
			 n ? strerror(err) : "connection closed by server");
		conn_fail(w, c, false, now, why);
		return;
	}
	c->rlen += n;
	win = win_lock(w);
	while (c->qlen && c->rlen) {
		enum lg_op op = c->q[c->qhead].op;
		struct pending p;

		r = parse_reply(c, op, &used, msg, sizeof(msg));
		if (r == R_MORE || r == R_PROTO)
			break;
		p = queue_pop(c);
		w->outstanding--;
		if (r == R_ERROR && p.measured)
			note_error(win, "%s replied '%s' to %s",
				   w->lg->o.server, msg,
				   op == OP_GET ? "get" : "set");
		complete(w, win, &p, r, now);
		c->rlen -= used;
		memmove(c->rbuf, c->rbuf + used, c->rlen);
	}
	win_unlock(w);
	if (r == R_PROTO || (c->rlen && !c->qlen)) {
		snprintf(why, sizeof(why), "unexpected reply '%.100s'",
			 r == R_PROTO ? msg : "data with no request pending");
		conn_fail(w, c, false, now, why);
	}
}

/* ---- sending --------------------------------------------------------------------- */

/* An idle connection, round robin; else the least loaded (pipelining). */
static struct conn *pick_conn(struct worker *w)
{
	struct conn *best = NULL;
	int i, at;

	for (i = 0; i < w->nconns; i++) {
		at = (w->rr + i) % w->nconns;
		if (w->conns[at].state != CONN_UP)
			continue;
		if (!w->conns[at].qlen) {
			w->rr = (at + 1) % w->nconns;
			return &w->conns[at];
		}
		if (!best || w->conns[at].qlen < best->qlen)
			best = &w->conns[at];
	}
	return best;
}

static int put_request(struct worker *w, struct conn *c, enum lg_op op,
		       long key)
{
	const struct loadgen *lg = w->lg;
	char head[KEY_LEN + 48];
	int len;

	if (op == OP_GET)
		len = snprintf(head, sizeof(head), "get kopt:%ld\r\n", key);
	else
		len = snprintf(head, sizeof(head), "set kopt:%ld 0 0 %ld\r\n",
			       key, lg->o.value_size);
	if (wbuf_put(c, head, len))
		return -ENOMEM;
	if (op == OP_SET && (wbuf_put(c, lg->value, lg->o.value_size) ||
			     wbuf_put(c, "\r\n", 2)))
		return -ENOMEM;
	return 0;
}

static void issue(struct worker *w, struct window *win, uint64_t intended,
		  uint64_t now)
{
	const struct loadgen *lg = w->lg;
	enum lg_op op = erand48(w->op_rng) < lg->o.get_ratio ? OP_GET : OP_SET;
	long key = (long)(erand48(w->op_rng) * lg->o.key_space);
	struct pending p = { .intended_ns = intended, .op = op };
	struct conn *c = pick_conn(w);

	p.measured = intended >= lg->ms;
	if (!c || put_request(w, c, op, key) || queue_push(c, &p)) {
		if (p.measured) {
			win->errors++;
			note_error(win, "%s: request not sent: %s",
				   lg->o.server,
				   c ? "out of memory" :
				       "no connection is up (reconnecting)");
		}
		return;
	}
	w->outstanding++;
	if (!c->dirty) {
		c->dirty = true;
		w->dirty[w->ndirty++] = c;
	}
	if (p.measured) {
		win->sent++;
		hist_record(&win->lag, now - intended);
	}
}

/* Sends every request due by now; false once the schedule has ended. */
static bool issue_due(struct worker *w, uint64_t now)
{
	struct window *win = NULL;
	uint64_t next;
	bool more;

	for (;;) {
		next = sched_peek(w);
		more = next != UINT64_MAX;
		if (!more || w->lg->t0 + next > now)
			break;
		if (!win)
			win = win_lock(w);
		issue(w, win, w->lg->t0 + next, now);
		w->idx++;
	}
	if (win)
		win_unlock(w);
	while (w->ndirty) {
		struct conn *c = w->dirty[--w->ndirty];

		c->dirty = false;
		if (c->state == CONN_UP)
			conn_flush(w, c, now);
	}
	return more;
}

/* ---- the worker loop ------------------------------------------------------------- */

static void maintain(struct worker *w, uint64_t now)
{
	char why[96];
	int i;

	for (i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		if (c->state == CONN_UP && c->qlen &&
		    now - c->q[c->qhead].intended_ns >= w->lg->timeout_ns) {
			snprintf(why, sizeof(why),
				 "no reply within %.0f ms (timeout)",
				 w->lg->o.timeout_s * 1e3);
			conn_fail(w, c, true, now, why);
		}
		if (c->state == CONN_CONNECTING && now >= c->deadline_ns)
			conn_fail(w, c, false, now, "reconnect timed out");
		if (c->state == CONN_DOWN && now >= c->deadline_ns)
			conn_connect(w, c, now);
	}
}

static int wait_events(struct worker *w, struct epoll_event *ev, uint64_t ns)
{
	struct timespec ts = { .tv_sec = ns / NSEC_PER_SEC,
			       .tv_nsec = ns % NSEC_PER_SEC };
	int n;

	if (!atomic_load(&no_pwait2)) {
		n = epoll_pwait2(w->epfd, ev, MAX_EVENTS, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		/* kernels before 5.11: millisecond sleeps, sends run late */
		atomic_store(&no_pwait2, true);
	}
	return epoll_wait(w->epfd, ev, MAX_EVENTS, (int)(ns / NSEC_PER_MSEC));
}

static void handle_event(struct worker *w, const struct epoll_event *ev)
{
	struct conn *c = ev->data.ptr;
	uint64_t now = mono_ns();

	if (!c) /* the stop eventfd: the loop sees the flag */
		return;
	if (c->state == CONN_CONNECTING) {
		conn_connected(w, c, now);
		return;
	}
	if (c->state != CONN_UP)
		return;
	if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_readable(w, c);
	if (c->state == CONN_UP && (ev->events & EPOLLOUT))
		conn_flush(w, c, now);
}

/*
 * After a stop request: no more sends, and replies awaited only briefly.
 * The eventfd leaves the epoll, or level triggering would spin the loop.
 */
static uint64_t see_stop(struct worker *w, uint64_t now, uint64_t drain_until)
{
	uint64_t until = now + STOP_DRAIN_NS;

	epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->lg->stop_fd, NULL);
	return drain_until ? min_u64(drain_until, until) : until;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct loadgen *lg = w->lg;
	struct epoll_event ev[MAX_EVENTS];
	uint64_t now, next, drain_until = 0, next_maint = 0;
	bool draining = false, stopped = false;
	int i, n;

	/* the default 50 us slack would make every send up to 50 us late */
	prctl(PR_SET_TIMERSLACK, 1UL);
	for (;;) {
		now = mono_ns();
		if (!stopped && atomic_load(&lg->stop)) {
			stopped = draining = true;
			drain_until = see_stop(w, now, drain_until);
		}
		if (!draining && !issue_due(w, now)) {
			/* schedule over: wait for the last replies or timeouts */
			draining = true;
			drain_until = now + lg->timeout_ns + 2 * MAINT_NS;
		}
		if (now >= next_maint) {
			maintain(w, now);
			next_maint = now + MAINT_NS;
		}
		if (draining && (!w->outstanding || now >= drain_until))
			break;
		if (!draining && w->has_next)
			seg_fill(w, &w->seg[!w->cur], FILL_SLICE);
		next = draining ? UINT64_MAX : lg->t0 + sched_peek(w);
		next = min_u64(min_u64(next, next_maint), drain_until ?: next);
		now = mono_ns();
		n = wait_events(w, ev, next > now ? next - now : 0);
		for (i = 0; i < n; i++)
			handle_event(w, &ev[i]);
	}
	return NULL;
}

/* ---- start: connect, preload, spawn ----------------------------------------- */

static int connect_wait(const struct loadgen *lg, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0, ms = (int)(lg->o.timeout_s * 1e3) + 1000;
	socklen_t len = sizeof(err);

	if (!connect(fd, (const struct sockaddr *)&lg->addr, lg->addrlen))
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	if (poll(&pfd, 1, ms) == 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

static int connect_all(struct loadgen *lg)
{
	int i, j, fd, err, total = 0;

	for (i = 0; i < lg->nworkers; i++) {
		for (j = 0; j < lg->w[i].nconns; j++, total++) {
			fd = new_socket(lg);
			err = fd < 0 ? fd : connect_wait(lg, fd);
			if (err) {
				if (fd >= 0)
					close(fd);
				pr_warn("loadgen: cannot connect to memcached at "
					"%s (connection %d of %d): %s (%s); is "
					"memcached running and listening there? "
					"(e.g. memcached -l 127.0.0.1 -p PORT)\n",
					lg->o.server, total + 1,
					lg->o.connections, strerror(-err),
					errname(-err));
				return err;
			}
			lg->w[i].conns[j].fd = fd;
			lg->w[i].conns[j].state = CONN_UP;
		}
	}
	return 0;
}

/* Waits up to the timeout (at least 2 s) for fd to be ready for events. */
static int poll_one(const struct loadgen *lg, int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ms = (int)(max_u64(lg->timeout_ns, 2 * NSEC_PER_SEC) /
		       NSEC_PER_MSEC);
	int n = poll(&pfd, 1, ms);

	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

static int send_all(const struct loadgen *lg, int fd, const char *buf,
		    size_t len)
{
	ssize_t n;
	int err;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			err = poll_one(lg, fd, POLLOUT);
			if (err)
				return err;
			continue;
		}
		if (n < 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Reads n "STORED" replies; anything else names the reply. */
static int read_stored(const struct loadgen *lg, struct conn *c, long n)
{
	char msg[128];
	size_t used;
	ssize_t got;
	int err;

	while (n) {
		if (c->rlen) {
			enum reply r =
				parse_reply(c, OP_SET, &used, msg, sizeof(msg));

			if (r == R_STORED) {
				c->rlen -= used;
				memmove(c->rbuf, c->rbuf + used, c->rlen);
				n--;
				continue;
			}
			if (r != R_MORE) {
				pr_warn("loadgen: preload: %s replied '%s' to a "
					"set of a %ld-byte value; check the "
					"server's limits (memcached -I item "
					"size, -m memory) or lower "
					"--value-size/--key-space, or skip with "
					"--no-preload\n",
					lg->o.server, msg, lg->o.value_size);
				return -EPROTO;
			}
		}
		if (GROW(c->rbuf, c->rcap, c->rlen + READ_CHUNK))
			return -ENOMEM;
		got = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
			err = poll_one(lg, c->fd, POLLIN);
			if (err)
				return err;
			continue;
		}
		if (got <= 0)
			return got ? -errno : -ECONNRESET;
		c->rlen += got;
	}
	return 0;
}

/* Sets every key once, pipelined in batches, so that gets hit. */
static int preload(struct loadgen *lg)
{
	struct conn *c = &lg->w[0].conns[0];
	long key = 0, batch;
	int err = 0;

	while (key < lg->o.key_space && !err) {
		c->wlen = 0;
		for (batch = 0;
		     key < lg->o.key_space && batch < PRELOAD_BATCH &&
		     c->wlen < PRELOAD_BYTES;
		     batch++, key++)
			if (put_request(&lg->w[0], c, OP_SET, key))
				return -ENOMEM;
		err = send_all(lg, c->fd, c->wbuf, c->wlen);
		if (!err)
			err = read_stored(lg, c, batch);
	}
	c->wlen = 0;
	if (err && err != -EPROTO)
		pr_warn("loadgen: preload: setting %ld keys on %s failed at "
			"key %ld: %s (%s)\n",
			lg->o.key_space, lg->o.server, key, strerror(-err),
			errname(-err));
	return err;
}

/* Each connection is one descriptor: raise the soft limit if needed. */
static void raise_nofile(int conns)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)conns + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		pr_debug("loadgen: cannot raise RLIMIT_NOFILE: %s\n",
			 strerror(errno));
}

static int worker_init(struct loadgen *lg, struct worker *w, int id, int nconns)
{
	uint64_t highest = 2 * lg->timeout_ns + NSEC_PER_SEC;
	int i;

	w->lg = lg;
	w->id = id;
	w->epfd = -1;
	w->nconns = nconns;
	w->rate = lg->o.rate / lg->nworkers;
	w->conns = calloc(nconns, sizeof(*w->conns));
	w->dirty = calloc(nconns, sizeof(*w->dirty));
	if (!w->conns || !w->dirty)
		return -ENOMEM;
	for (i = 0; i < nconns; i++)
		w->conns[i].fd = -1;
	for (i = 0; i < 2; i++)
		if (window_init(&w->win[i], highest))
			return -ENOMEM;
	return 0;
}

static void worker_free(struct worker *w)
{
	int i;

	for (i = 0; w->conns && i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		if (c->fd >= 0)
			close(c->fd);
		free(c->q);
		free(c->wbuf);
		free(c->rbuf);
	}
	for (i = 0; i < 2; i++) {
		hist_free(&w->win[i].lat);
		hist_free(&w->win[i].lag);
		free(w->seg[i].cum);
	}
	if (w->epfd >= 0)
		close(w->epfd);
	free(w->conns);
	free(w->dirty);
	free(w->raw);
	pthread_mutex_destroy(&w->lock);
}

static void loadgen_free(struct loadgen *lg)
{
	int i;

	for (i = 0; lg->w && i < lg->nworkers; i++)
		worker_free(&lg->w[i]);
	free(lg->w);
	if (lg->stop_fd >= 0)
		close(lg->stop_fd);
	hist_free(&lg->lat);
	hist_free(&lg->lag);
	free(lg->value);
	free(lg);
}

static int setup_epoll(struct loadgen *lg, struct worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int i;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, lg->stop_fd, &ev))
		return -errno;
	for (i = 0; i < w->nconns; i++)
		if (epoll_set(w, &w->conns[i], EPOLLIN))
			return -errno;
	return 0;
}

static int alloc_loadgen(const struct loadgen_opts *o, struct loadgen **out)
{
	struct loadgen *lg = calloc(1, sizeof(*lg));
	uint64_t highest;
	int i, err;

	if (!lg)
		return -ENOMEM;
	lg->o = *o;
	lg->stop_fd = -1;
	lg->timeout_ns = (uint64_t)(o->timeout_s * NSEC_PER_SEC);
	highest = 2 * lg->timeout_ns + NSEC_PER_SEC;
	atomic_init(&lg->stop, false);
	atomic_init(&lg->stop_ns, UINT64_MAX);
	lg->nworkers = o->threads;
	lg->w = calloc(lg->nworkers, sizeof(*lg->w));
	lg->value = malloc(o->value_size);
	lg->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	*out = lg;
	if (!lg->w || !lg->value || lg->stop_fd < 0)
		return -ENOMEM;
	/* so that loadgen_free() can run whatever fails below */
	for (i = 0; i < lg->nworkers; i++) {
		lg->w[i].epfd = -1;
		pthread_mutex_init(&lg->w[i].lock, NULL);
	}
	memset(lg->value, 'k', o->value_size);
	if (hist_init(&lg->lat, highest, HIST_DIGITS) ||
	    hist_init(&lg->lag, highest, HIST_DIGITS))
		return -ENOMEM;
	for (i = 0; i < lg->nworkers; i++) {
		int nconns = o->connections / lg->nworkers +
			     (i < o->connections % lg->nworkers);

		err = worker_init(lg, &lg->w[i], i, nconns);
		if (err)
			return err;
	}
	return 0;
}

/* Precomputes the first segments, then fixes the clock origin. */
static int arm_schedule(struct loadgen *lg)
{
	int i;

	lg->warm_ns = (uint64_t)(lg->o.warmup_s * NSEC_PER_SEC);
	lg->end_ns = lg->o.duration_s > 0 ?
			     lg->warm_ns + (uint64_t)(lg->o.duration_s *
						      NSEC_PER_SEC) :
			     UINT64_MAX;
	for (i = 0; i < lg->nworkers; i++)
		if (sched_init(&lg->w[i]))
			return -ENOMEM;
	lg->t0 = mono_ns() + START_DELAY_NS;
	lg->ms = lg->t0 + lg->warm_ns;
	lg->me = lg->end_ns == UINT64_MAX ? UINT64_MAX : lg->t0 + lg->end_ns;
	lg->prev_ns = lg->ms;
	return 0;
}

static int spawn(struct loadgen *lg)
{
	int i, err;

	for (i = 0; i < lg->nworkers; i++) {
		err = pthread_create(&lg->w[i].tid, NULL, worker_main,
				     &lg->w[i]);
		if (err) {
			pr_warn("loadgen: cannot start worker thread %d: %s\n",
				i, strerror(err));
			return -err;
		}
		lg->w[i].running = true;
	}
	return 0;
}

int loadgen_start(const struct loadgen_opts *o, struct loadgen **out)
{
	struct loadgen *lg = NULL;
	int i, err;

	*out = NULL;
	err = check_opts(o);
	if (err)
		return err;
	err = alloc_loadgen(o, &lg);
	if (err) {
		pr_warn("loadgen: out of memory setting up %d connections\n",
			o->connections);
		goto fail;
	}
	err = resolve(lg);
	if (err)
		goto fail;
	raise_nofile(o->connections);
	err = connect_all(lg);
	if (!err && !o->no_preload)
		err = preload(lg);
	for (i = 0; !err && i < lg->nworkers; i++)
		err = setup_epoll(lg, &lg->w[i]);
	if (!err)
		err = arm_schedule(lg);
	if (!err)
		err = spawn(lg);
	if (err) {
		loadgen_request_stop(lg);
		goto fail;
	}
	*out = lg;
	return 0;
fail:
	if (lg) {
		loadgen_wait(lg);
		loadgen_free(lg);
	}
	return err;
}

/* ---- windows and stop ------------------------------------------------------------ */

void loadgen_request_stop(struct loadgen *lg)
{
	uint64_t none = UINT64_MAX, one = 1;
	ssize_t n;

	atomic_compare_exchange_strong(&lg->stop_ns, &none, mono_ns());
	atomic_store(&lg->stop, true);
	n = write(lg->stop_fd, &one, sizeof(one));
	(void)n; /* a full counter still wakes every epoll */
}

bool loadgen_interrupted(const struct loadgen *lg)
{
	return atomic_load(&lg->stop_ns) < lg->me;
}

void loadgen_wait(struct loadgen *lg)
{
	int i;

	for (i = 0; i < lg->nworkers; i++) {
		if (lg->w[i].running)
			pthread_join(lg->w[i].tid, NULL);
		lg->w[i].running = false;
	}
}

static double ns_to_us(uint64_t ns)
{
	return (double)ns / 1e3;
}

static void add_window(struct loadgen *lg, struct loadgen_stats *st,
		       struct window *win, uint64_t *in_interval)
{
	hist_merge(&lg->lat, &win->lat);
	hist_merge(&lg->lag, &win->lag);
	st->sent += win->sent;
	st->completed += win->completed;
	st->errors += win->errors;
	st->timeouts += win->timeouts;
	st->hits += win->hits;
	st->misses += win->misses;
	*in_interval += win->in_interval;
	if (!st->first_error[0] && win->first_error[0])
		memcpy(st->first_error, win->first_error,
		       sizeof(st->first_error));
	window_reset(win);
}

static void fill_latency(const struct loadgen *lg, struct loadgen_stats *st)
{
	st->p50_us = ns_to_us(hist_percentile(&lg->lat, 50));
	st->p90_us = ns_to_us(hist_percentile(&lg->lat, 90));
	st->p99_us = ns_to_us(hist_percentile(&lg->lat, 99));
	st->p999_us = ns_to_us(hist_percentile(&lg->lat, 99.9));
	st->max_us = ns_to_us(lg->lat.total ? lg->lat.max : 0);
	st->mean_us = hist_mean(&lg->lat) / 1e3;
	st->lag_p99_us = ns_to_us(hist_percentile(&lg->lag, 99));
	st->lag_max_us = ns_to_us(lg->lag.total ? lg->lag.max : 0);
	st->hist_rel_error = hist_rel_error(&lg->lat);
}

int loadgen_window(struct loadgen *lg, struct loadgen_stats *st)
{
	uint64_t now = mono_ns(), in_interval = 0, start, end;
	int i, old;

	memset(st, 0, sizeof(*st));
	hist_reset(&lg->lat);
	hist_reset(&lg->lag);
	for (i = 0; i < lg->nworkers; i++) {
		struct worker *w = &lg->w[i];

		/* swap under the lock, merge outside it: workers never wait */
		pthread_mutex_lock(&w->lock);
		old = w->wcur;
		w->wcur = !old;
		pthread_mutex_unlock(&w->lock);
		add_window(lg, st, &w->win[old], &in_interval);
	}
	end = min_u64(min_u64(now, lg->me), atomic_load(&lg->stop_ns));
	start = max_u64(lg->prev_ns, lg->ms);
	lg->prev_ns = max_u64(now, lg->prev_ns);
	st->elapsed_s = end > start ? (double)(end - start) / NSEC_PER_SEC : 0;
	st->target_qps = lg->o.rate;
	st->achieved_qps = st->elapsed_s > 0 ? in_interval / st->elapsed_s : 0;
	if (st->hits + st->misses)
		st->hit_ratio = (double)st->hits / (st->hits + st->misses);
	fill_latency(lg, st);
	return 0;
}

static const char *const raw_kind_name[] = {
	[RAW_GET_HIT] = "get_hit",
	[RAW_GET_MISS] = "get_miss",
	[RAW_SET] = "set",
};

static int write_raw(const struct loadgen *lg)
{
	FILE *f = fopen(lg->o.raw_path, "we");
	int i, err = 0;
	size_t j;

	if (!f) {
		err = -errno;
		pr_warn("loadgen: --raw: cannot create '%s': %s\n",
			lg->o.raw_path, strerror(errno));
		return err;
	}
	fprintf(f, "intended_ns,latency_ns,op\n");
	for (i = 0; i < lg->nworkers; i++) {
		const struct worker *w = &lg->w[i];

		if (w->raw_oom)
			pr_warn("loadgen: --raw: out of memory; '%s' misses "
				"samples of thread %d\n",
				lg->o.raw_path, i);
		for (j = 0; j < w->nraw; j++)
			fprintf(f, "%llu,%llu,%s\n",
				(unsigned long long)w->raw[j].intended_ns,
				(unsigned long long)w->raw[j].latency_ns,
				raw_kind_name[w->raw[j].kind]);
	}
	if (fclose(f)) {
		err = -errno;
		pr_warn("loadgen: --raw: writing '%s' failed: %s\n",
			lg->o.raw_path, strerror(errno));
	}
	return err;
}

int loadgen_stop(struct loadgen *lg, struct loadgen_stats *last)
{
	struct loadgen_stats tmp;
	int err = 0;

	loadgen_request_stop(lg);
	loadgen_wait(lg);
	loadgen_window(lg, last ? last : &tmp);
	if (lg->o.raw_path)
		err = write_raw(lg);
	loadgen_free(lg);
	return err;
}
