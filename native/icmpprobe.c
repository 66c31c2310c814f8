/* ICMP echo from inside many network namespaces at once, for `lab check`'s reach probe: one
 * raw ICMP socket per source namespace, every echo of a wave sent from one thread, every reply
 * collected against one deadline, instead of an `ip netns exec ... fping` process per source.
 *
 * openIcmp(nsFd) makes the socket on the calling (main) thread: setns(2) into the namespace,
 * socket(2), setns back, all before any other JavaScript runs (the trick system/netns.ts uses
 * for netlink sockets). A socket belongs to the namespace it was made in for its whole life, so
 * echoAll() may then send and receive on libuv's worker thread, which never changes namespace.
 *
 * echoAll(fds, addrs, groups, timeoutMs, graceMs, burst) -> Promise<Float64Array>: job i
 * sends one echo on fds[i] to addrs[i] (an IPv4 address as a host-order uint32) and gets its
 * round-trip time in ms, or -1 for no reply. groups[i] > 0 names the expected answer the job
 * belongs to (a reach cell expected to answer, by any of its target's addresses); 0 none.
 * Echoes go out `burst` at a time, draining replies between bursts (a burst far beyond the
 * per-CPU backlog, net.core.netdev_max_backlog, would drop packets of its own). Every echo has
 * at least timeoutMs after the last one was sent, as fping -t gives each target. With graceMs
 * >= 0, once every group has an answer, waiting stops graceMs after that (or after the last
 * send, if later): the caller decides when that is sound (lab/reach.ts).
 *
 * A raw ICMP socket sees every echo reply reaching its namespace, other programs' too: a
 * reply counts only when it comes from the job's address, to this socket's echo identifier,
 * with this run's random cookie and the job's index in its payload.
 *
 * neighSeed(nsFd, addrs) and neighUnseed(nsFd, ifindexes, addrs) make and remove the neighbour
 * entries the probe will need inside one namespace (system/neigh-table.ts says why), with one
 * rtnetlink socket made there the same way and every request of the namespace in one sendmsg:
 * a lab's 2,000 of them cost milliseconds, not the netlink package's per-request promise. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>

#define ICMP_ECHOREPLY_T 0
#define ICMP_ECHO_T 8
#define ICMP_FILTER_OPT 1 /* linux/icmp.h ICMP_FILTER; that header clashes with netinet's */
#define PAYLOAD 16        /* cookie (8), job index (4), zero (4) */
#define PKT (8 + PAYLOAD)
#define RCVBUF (4 << 20)

typedef struct {
  int fd;
  uint32_t addr; /* network order */
  uint32_t group;
  uint16_t id;
  double sent_ms;
  double rtt_ms;
} job_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  job_t *jobs;
  size_t n;
  int timeout_ms, grace_ms, burst;
  uint8_t cookie[8];
  int err; /* errno of a failure that stopped the whole run (poll), else 0 */
  uint8_t *group_done; /* [max group + 1]: a group has had its first answer */
  uint32_t groups_left;
} run_t;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static uint16_t checksum(const uint8_t *p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += (uint32_t)(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons((uint16_t)~sum);
}

static void throw_errno(napi_env env, const char *what, int err) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, "EICMPPROBE", msg);
}

/* Moves the calling thread into the namespace open on nsfd; returns a descriptor of the one it
 * left (for leave), or -1 after throwing. */
static int enter(napi_env env, int nsfd) {
  int back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (back < 0) {
    throw_errno(env, "open /proc/thread-self/ns/net", errno);
    return -1;
  }
  if (setns(nsfd, CLONE_NEWNET) != 0) {
    int e = errno;
    close(back);
    throw_errno(env, "setns into the namespace", e);
    return -1;
  }
  return back;
}

/* Back where enter() was called. Failing would leave Node's main thread in a lab node: abort. */
static void leave(int back) {
  if (setns(back, CLONE_NEWNET) != 0) napi_fatal_error("icmpprobe", NAPI_AUTO_LENGTH, "setns back to netloom's own namespace failed", NAPI_AUTO_LENGTH);
  close(back);
}

/* openIcmp(nsFd): a non-blocking raw ICMP socket made inside the namespace open on nsFd (-1:
 * the caller's own), passing echo replies only. */
static napi_value OpenIcmp(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t nsfd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &nsfd) != napi_ok) {
    napi_throw_type_error(env, NULL, "openIcmp(nsFd): nsFd must be an integer");
    return NULL;
  }
  int back = nsfd >= 0 ? enter(env, nsfd) : -1;
  if (nsfd >= 0 && back < 0) return NULL;
  int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  int e = errno;
  if (back >= 0) leave(back);
  if (fd < 0) {
    throw_errno(env, "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)", e);
    return NULL;
  }
  uint32_t only_replies = ~(1U << ICMP_ECHOREPLY_T);
  setsockopt(fd, SOL_RAW, ICMP_FILTER_OPT, &only_replies, sizeof only_replies);
  /* Room for every reply of a wave even if the worker is slow to drain (root may exceed rmem_max). */
  int rcv = RCVBUF;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  napi_create_int32(env, fd, &result);
  return result;
}

static void send_one(run_t *r, size_t i) {
  job_t *j = &r->jobs[i];
  uint8_t pkt[PKT] = {0};
  uint32_t idx = htonl((uint32_t)i);
  pkt[0] = ICMP_ECHO_T;
  memcpy(pkt + 4, &(uint16_t){htons(j->id)}, 2);
  memcpy(pkt + 6, &(uint16_t){htons((uint16_t)i)}, 2);
  memcpy(pkt + 8, r->cookie, 8);
  memcpy(pkt + 16, &idx, 4);
  uint16_t sum = checksum(pkt, PKT);
  memcpy(pkt + 2, &sum, 2);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = j->addr};
  j->sent_ms = now_ms();
  /* An immediate error (no route: ENETUNREACH) leaves the job unanswered, as it is. */
  sendto(j->fd, pkt, PKT, 0, (struct sockaddr *)&to, sizeof to);
}

/* Reads every queued reply of one socket, noting when a group got its first answer. */
static void drain(run_t *r, int fd, double *last_expected) {
  uint8_t buf[512];
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t len = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (len < 0) return; /* EAGAIN: drained (any other error: nothing more to read now) */
    if (len < 20) continue;
    size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
    if ((size_t)len < ihl + PKT) continue;
    const uint8_t *icmp = buf + ihl;
    if (icmp[0] != ICMP_ECHOREPLY_T || icmp[1] != 0 || memcmp(icmp + 8, r->cookie, 8) != 0) continue;
    uint32_t idx;
    memcpy(&idx, icmp + 16, 4);
    idx = ntohl(idx);
    if (idx >= r->n) continue;
    job_t *j = &r->jobs[idx];
    uint16_t id;
    memcpy(&id, icmp + 4, 2);
    if (j->fd != fd || ntohs(id) != j->id || from.sin_addr.s_addr != j->addr || j->rtt_ms >= 0) continue;
    double t = now_ms();
    j->rtt_ms = t - j->sent_ms;
    if (j->group && !r->group_done[j->group]) {
      r->group_done[j->group] = 1;
      r->groups_left--;
      *last_expected = t;
    }
  }
}

static void execute(napi_env env, void *data) {
  (void)env;
  run_t *r = data;
  /* The distinct sockets, polled together. */
  struct pollfd *pfds = calloc(r->n ? r->n : 1, sizeof *pfds);
  if (!pfds) {
    r->err = ENOMEM;
    return;
  }
  size_t nfds = 0;
  for (size_t i = 0; i < r->n; i++) {
    size_t k = 0;
    while (k < nfds && pfds[k].fd != r->jobs[i].fd) k++;
    if (k == nfds) pfds[nfds++] = (struct pollfd){.fd = r->jobs[i].fd, .events = POLLIN};
  }
  size_t next = 0;
  double send_end = 0, last_expected = 0;
  for (;;) {
    for (int b = 0; next < r->n && b < r->burst; b++) send_one(r, next++);
    double now = now_ms();
    int wait;
    if (next < r->n) wait = 0;
    else {
      if (send_end == 0) send_end = now;
      double deadline = send_end + r->timeout_ms;
      if (r->grace_ms >= 0 && r->groups_left == 0) {
        double quiet = (last_expected > send_end ? last_expected : send_end) + r->grace_ms;
        if (quiet < deadline) deadline = quiet;
      }
      if (now >= deadline) break;
      wait = (int)(deadline - now) + 1;
    }
    int rc = poll(pfds, nfds, wait);
    if (rc < 0 && errno != EINTR) {
      r->err = errno;
      break;
    }
    for (size_t k = 0; rc > 0 && k < nfds; k++) {
      if (pfds[k].revents & POLLIN) drain(r, pfds[k].fd, &last_expected);
    }
  }
  free(pfds);
}

static void complete(napi_env env, napi_status status, void *data) {
  run_t *r = data;
  napi_value result;
  if (status != napi_ok || r->err) {
    napi_value msg, err;
    char text[160];
    snprintf(text, sizeof text, "echoAll: %s", r->err ? strerror(r->err) : "the work was cancelled");
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, r->deferred, err);
  } else {
    void *out;
    napi_value ab;
    napi_create_arraybuffer(env, r->n * sizeof(double), &out, &ab);
    for (size_t i = 0; i < r->n; i++) ((double *)out)[i] = r->jobs[i].rtt_ms;
    napi_create_typedarray(env, napi_float64_array, r->n, ab, 0, &result);
    napi_resolve_deferred(env, r->deferred, result);
  }
  napi_delete_async_work(env, r->work);
  free(r->jobs);
  free(r->group_done);
  free(r);
}

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  napi_typedarray_type t;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &t, len, data, NULL, NULL) != napi_ok) return 0;
  return t == want;
}

/* echoAll(fds: Int32Array, addrs: Uint32Array, groups: Uint32Array, timeoutMs, graceMs, burst) */
static napi_value EchoAll(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], promise, name;
  int32_t *fds;
  uint32_t *addrs;
  uint32_t *groups;
  size_t n, na, ne;
  int32_t timeout, grace, burst;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 || !typed(env, argv[0], napi_int32_array, (void **)&fds, &n) ||
      !typed(env, argv[1], napi_uint32_array, (void **)&addrs, &na) || !typed(env, argv[2], napi_uint32_array, (void **)&groups, &ne) || na != n ||
      ne != n || napi_get_value_int32(env, argv[3], &timeout) != napi_ok || napi_get_value_int32(env, argv[4], &grace) != napi_ok ||
      napi_get_value_int32(env, argv[5], &burst) != napi_ok || timeout < 0 || burst < 1) {
    napi_throw_type_error(env, NULL, "echoAll(fds: Int32Array, addrs: Uint32Array, groups: Uint32Array, timeoutMs, graceMs, burst): bad arguments");
    return NULL;
  }
  run_t *r = calloc(1, sizeof *r);
  job_t *jobs = calloc(n ? n : 1, sizeof *jobs);
  uint32_t max_group = 0;
  for (size_t i = 0; i < n; i++) max_group = groups[i] > max_group ? groups[i] : max_group;
  uint8_t *done = calloc((size_t)max_group + 1, 1);
  if (!r || !jobs || !done) {
    free(r);
    free(jobs);
    free(done);
    napi_throw_error(env, "ENOMEM", "echoAll: out of memory");
    return NULL;
  }
  uint16_t base;
  if (getrandom(r->cookie, sizeof r->cookie, 0) != sizeof r->cookie || getrandom(&base, sizeof base, 0) != sizeof base) {
    for (size_t i = 0; i < sizeof r->cookie; i++) r->cookie[i] = (uint8_t)(rand() >> 3);
    base = (uint16_t)rand();
  }
  for (size_t i = 0; i < n; i++) {
    /* One identifier per socket: the fd numbers are distinct while they are open. */
    jobs[i] = (job_t){.fd = fds[i], .addr = htonl(addrs[i]), .group = groups[i], .id = (uint16_t)(base + (uint16_t)fds[i]), .rtt_ms = -1};
  }
  r->jobs = jobs;
  r->group_done = done;
  for (size_t i = 0; i < n; i++) {
    if (groups[i] && !done[groups[i]]) {
      done[groups[i]] = 1;
      r->groups_left++;
    }
  }
  memset(done, 0, (size_t)max_group + 1);
  r->n = n;
  r->timeout_ms = timeout;
  r->grace_ms = grace;
  r->burst = burst;
  napi_create_promise(env, &r->deferred, &promise);
  napi_create_string_utf8(env, "netloom:icmpprobe", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, r, &r->work);
  napi_queue_async_work(env, r->work);
  return promise;
}

/* The namespace's own view, while the main thread is inside it: on-link interface per address. */
static void onlink_ifindexes(const uint32_t *addrs, size_t n, int32_t *out) {
  struct ifaddrs *ifs = NULL;
  if (getifaddrs(&ifs) != 0) return;
  for (size_t i = 0; i < n; i++) {
    uint32_t a = htonl(addrs[i]);
    for (struct ifaddrs *f = ifs; f && !out[i]; f = f->ifa_next) {
      if (!f->ifa_addr || f->ifa_addr->sa_family != AF_INET || !f->ifa_netmask) continue;
      uint32_t mine = ((struct sockaddr_in *)f->ifa_addr)->sin_addr.s_addr;
      uint32_t mask = ((struct sockaddr_in *)f->ifa_netmask)->sin_addr.s_addr;
      if ((mine & mask) == (a & mask) && mine != a) out[i] = (int32_t)if_nametoindex(f->ifa_name);
    }
  }
  freeifaddrs(ifs);
}

/* An rtnetlink socket made inside nsFd; with `ifx`, also each address's on-link ifindex there. */
static int rtnl_in(napi_env env, int nsfd, const uint32_t *addrs, size_t n, int32_t *ifx) {
  int back = enter(env, nsfd);
  if (back < 0) return -1;
  if (ifx) onlink_ifindexes(addrs, n, ifx);
  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int e = errno;
  leave(back);
  if (nl < 0) {
    throw_errno(env, "socket(AF_NETLINK, NETLINK_ROUTE)", e);
    return -1;
  }
  struct timeval tv = {.tv_sec = 2};
  setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return nl;
}

struct neigh_req {
  struct nlmsghdr h;
  struct ndmsg nd;
  struct rtattr dst_attr;
  uint32_t dst;
};

#define NL_CHUNK 64

/* Sends RTM_NEWNEIGH (NUD_NONE, NTF_EXT_LEARNED, create exclusive) or RTM_DELNEIGH for each entry
 * with ifx[i] > 0, NL_CHUNK per sendmsg; err[i] gets 0 or the errno of its acknowledgement. */
static void neigh_batch(int nl, int add, const int32_t *ifx, const uint32_t *addrs, size_t n, int32_t *err) {
  struct neigh_req req[NL_CHUNK];
  char buf[NL_CHUNK * 64];
  for (size_t start = 0; start < n; start += NL_CHUNK) {
    size_t m = 0, waiting = 0;
    for (size_t i = start; i < n && i < start + NL_CHUNK; i++) {
      err[i] = ENODEV;
      if (ifx[i] <= 0) continue;
      req[m] = (struct neigh_req){
          .h = {.nlmsg_len = sizeof(struct neigh_req), .nlmsg_type = add ? RTM_NEWNEIGH : RTM_DELNEIGH,
                .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0), .nlmsg_seq = (uint32_t)i + 1},
          .nd = {.ndm_family = AF_INET, .ndm_ifindex = ifx[i], .ndm_state = add ? NUD_NONE : 0, .ndm_flags = add ? NTF_EXT_LEARNED : 0},
          .dst_attr = {.rta_len = RTA_LENGTH(4), .rta_type = NDA_DST},
          .dst = htonl(addrs[i]),
      };
      m++;
    }
    if (!m) continue;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(nl, req, m * sizeof req[0], 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) continue;
    /* rtnetlink handles the requests inside sendmsg: every acknowledgement is already queued. */
    for (waiting = m; waiting > 0;) {
      ssize_t len = recv(nl, buf, sizeof buf, 0);
      if (len <= 0) break;
      for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq < 1 || h->nlmsg_seq > n) continue;
        err[h->nlmsg_seq - 1] = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
        waiting--;
      }
    }
  }
}

static int args_ns_addrs(napi_env env, napi_callback_info info, size_t want, napi_value *argv, int32_t *nsfd) {
  size_t argc = want;
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= want && napi_get_value_int32(env, argv[0], nsfd) == napi_ok;
}

static napi_value int32_result(napi_env env, const int32_t *v, size_t n) {
  void *out;
  napi_value ab, result;
  napi_create_arraybuffer(env, n * sizeof(int32_t), &out, &ab);
  memcpy(out, v, n * sizeof(int32_t));
  napi_create_typedarray(env, napi_int32_array, n, ab, 0, &result);
  return result;
}

/* neighSeed(nsFd, addrs: Uint32Array) -> Int32Array: the ifindex of each entry made, 0 where none
 * was (no interface on its subnet, or an entry already there: EEXIST). */
static napi_value NeighSeed(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t nsfd;
  uint32_t *addrs;
  size_t n;
  if (!args_ns_addrs(env, info, 2, argv, &nsfd) || !typed(env, argv[1], napi_uint32_array, (void **)&addrs, &n)) {
    napi_throw_type_error(env, NULL, "neighSeed(nsFd, addrs: Uint32Array): bad arguments");
    return NULL;
  }
  int32_t *ifx = calloc(n ? n : 1, sizeof *ifx), *err = calloc(n ? n : 1, sizeof *err);
  if (!ifx || !err) {
    free(ifx);
    free(err);
    napi_throw_error(env, "ENOMEM", "neighSeed: out of memory");
    return NULL;
  }
  int nl = rtnl_in(env, nsfd, addrs, n, ifx);
  napi_value result = NULL;
  if (nl >= 0) {
    neigh_batch(nl, 1, ifx, addrs, n, err);
    close(nl);
    for (size_t i = 0; i < n; i++) if (err[i]) ifx[i] = 0;
    result = int32_result(env, ifx, n);
  }
  free(ifx);
  free(err);
  return result;
}

/* neighUnseed(nsFd, ifindexes: Int32Array, addrs: Uint32Array): deletes those entries; one
 * already gone is as good as deleted. */
static napi_value NeighUnseed(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t nsfd, *ifx;
  uint32_t *addrs;
  size_t n, na;
  if (!args_ns_addrs(env, info, 3, argv, &nsfd) || !typed(env, argv[1], napi_int32_array, (void **)&ifx, &n) ||
      !typed(env, argv[2], napi_uint32_array, (void **)&addrs, &na) || na != n) {
    napi_throw_type_error(env, NULL, "neighUnseed(nsFd, ifindexes: Int32Array, addrs: Uint32Array): bad arguments");
    return NULL;
  }
  int32_t *err = calloc(n ? n : 1, sizeof *err);
  if (!err) {
    napi_throw_error(env, "ENOMEM", "neighUnseed: out of memory");
    return NULL;
  }
  int nl = rtnl_in(env, nsfd, NULL, 0, NULL);
  if (nl >= 0) {
    neigh_batch(nl, 0, ifx, addrs, n, err);
    close(nl);
  }
  free(err);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "openIcmp", NAPI_AUTO_LENGTH, OpenIcmp, NULL, &fn);
  napi_set_named_property(env, exports, "openIcmp", fn);
  napi_create_function(env, "echoAll", NAPI_AUTO_LENGTH, EchoAll, NULL, &fn);
  napi_set_named_property(env, exports, "echoAll", fn);
  napi_create_function(env, "neighSeed", NAPI_AUTO_LENGTH, NeighSeed, NULL, &fn);
  napi_set_named_property(env, exports, "neighSeed", fn);
  napi_create_function(env, "neighUnseed", NAPI_AUTO_LENGTH, NeighUnseed, NULL, &fn);
  napi_set_named_property(env, exports, "neighUnseed", fn);
  return exports;
}
