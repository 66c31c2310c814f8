/* Batched UDP for the embedded DNS: one recvmmsg, one JavaScript call and one sendmmsg per
 * batch of up to 64 datagrams, instead of node:dgram's recvmsg, Buffer, rinfo object,
 * MakeCallback and send request per datagram (bench/README.md, "Embedded DNS", shows where
 * those microseconds went).
 *
 * The socket is created on the calling thread, so it belongs to that thread's network
 * namespace, and is polled by Node's own libuv loop (uv_poll_t), so it needs no thread.
 *
 * Datagrams and replies live in one area per Node environment, shared by all its sockets and
 * exposed to JavaScript once as ArrayBuffers (`shared`): JavaScript runs one batch at a time
 * and every batch is answered before the next recvmmsg, so a single area is enough, and its
 * memory is owned here, so nothing JavaScript does to those ArrayBuffers can leave a dangling
 * pointer. Per datagram i, meta[i*4 ...] holds
 *   [0] its length (RECV_SLOT when it was longer and got cut; counted in "truncated"),
 *   [1] the source port, [2] the source IPv4 address as a host-order uint32 (0 for IPv6,
 *       whose 16 bytes are at addr6[i*16]),
 *   [3] the reply length, set to -1 here before the callback; JavaScript writes a reply's
 *       bytes at out[i*OUT_SLOT] and its length here.
 * The datagram's bytes are at recv[i*RECV_SLOT].
 *
 * Nothing is logged: failures are counted (counters()) and the single-datagram send returns
 * the error's name. A callback that throws is reported as an uncaught exception, as an
 * EventEmitter listener's would be. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define BATCH 64
#define RECV_SLOT 8192 /* twice the DNS server's largest accepted query (wire.ts MAX_QUERY) */
#define OUT_SLOT 4096  /* the largest UDP reply the DNS server sends (EDNS_UDP_SIZE) */
#define META 4
#define ROUNDS 4 /* batches per readiness callback at most, so other I/O gets its turn */

enum { M_LEN, M_PORT, M_ADDR4, M_REPLY };

typedef struct {
  uint8_t recv[BATCH * RECV_SLOT];
  uint8_t out[BATCH * OUT_SLOT];
  int32_t meta[BATCH * META];
  uint8_t addr6[BATCH * 16];
} shared_t;

typedef struct {
  double received, batches, truncated, recv_errors, sent, send_errors, send_dropped, bad_replies;
} counters_t;

typedef struct {
  uv_poll_t poll;
  int fd;
  int family;
  int poll_inited, closing, handle_closed, finalized, in_callback, js_released, hook;
  napi_env env;
  napi_ref self; /* strong while open: an open socket is never collected, like a dgram socket */
  napi_ref cb;
  napi_async_context actx;
  shared_t *sh;
  counters_t c;
  struct sockaddr_storage names[BATCH];
  struct iovec riov[BATCH], siov[BATCH];
  struct mmsghdr rmsg[BATCH], smsg[BATCH];
} sock_t;

static void maybe_free(sock_t *s) {
  if (s->handle_closed && s->finalized) free(s);
}

static void on_closed(uv_handle_t *h) {
  sock_t *s = h->data;
  s->handle_closed = 1;
  maybe_free(s);
}

/* Stops polling and closes the descriptor at once (as uv_close does for a uv_udp_t), so the
 * address is free when close() returns; the handle's memory waits for on_closed. */
static void stop_socket(sock_t *s) {
  if (s->closing) return;
  s->closing = 1;
  if (s->poll_inited) uv_close((uv_handle_t *)&s->poll, on_closed);
  else s->handle_closed = 1;
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
}

static void cleanup_hook(void *arg) {
  sock_t *s = arg;
  s->hook = 0;
  stop_socket(s);
}

/* Drops what ties the socket to JavaScript; never while its callback runs (deliver does it after). */
static void release_js(sock_t *s) {
  if (s->js_released || s->in_callback) return;
  s->js_released = 1;
  if (s->hook) {
    napi_remove_env_cleanup_hook(s->env, cleanup_hook, s);
    s->hook = 0;
  }
  if (s->cb) napi_delete_reference(s->env, s->cb);
  if (s->self) napi_delete_reference(s->env, s->self);
  if (s->actx) napi_async_destroy(s->env, s->actx);
  s->cb = s->self = NULL;
  s->actx = NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  sock_t *s = data;
  if (s->hook) {
    napi_remove_env_cleanup_hook(s->env, cleanup_hook, s);
    s->hook = 0;
  }
  stop_socket(s);
  s->finalized = 1;
  maybe_free(s);
}

/* ---- the batch path ------------------------------------------------------------------------ */

static int recv_batch(sock_t *s) {
  for (int i = 0; i < BATCH; i++) {
    s->rmsg[i].msg_hdr.msg_namelen = sizeof s->names[i];
    s->rmsg[i].msg_hdr.msg_flags = 0;
  }
  for (;;) {
    int n = recvmmsg(s->fd, s->rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) s->c.recv_errors++;
    return 0;
  }
}

static void fill_meta(sock_t *s, int n) {
  int32_t *meta = s->sh->meta;
  for (int i = 0; i < n; i++) {
    const struct msghdr *h = &s->rmsg[i].msg_hdr;
    int32_t *m = meta + i * META;
    m[M_LEN] = (int32_t)s->rmsg[i].msg_len;
    if (h->msg_flags & MSG_TRUNC) s->c.truncated++;
    m[M_PORT] = 0;
    m[M_ADDR4] = 0;
    m[M_REPLY] = -1;
    if (h->msg_namelen >= sizeof(struct sockaddr_in) && s->names[i].ss_family == AF_INET) {
      const struct sockaddr_in *a = (const struct sockaddr_in *)&s->names[i];
      m[M_PORT] = ntohs(a->sin_port);
      m[M_ADDR4] = (int32_t)ntohl(a->sin_addr.s_addr);
    } else if (h->msg_namelen >= sizeof(struct sockaddr_in6) && s->names[i].ss_family == AF_INET6) {
      const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&s->names[i];
      m[M_PORT] = ntohs(a->sin6_port);
      memcpy(s->sh->addr6 + i * 16, &a->sin6_addr, 16);
    }
  }
  s->c.received += n;
  s->c.batches++;
}

/* Calls JavaScript with the batch size; -1 when the socket was closed meanwhile (or JavaScript
 * cannot run), so the caller must not touch it any more. */
static int deliver(sock_t *s, int n) {
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_value self, cb, argv[1], result;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return -1;
  int ok = napi_get_reference_value(env, s->self, &self) == napi_ok && self != NULL &&
           napi_get_reference_value(env, s->cb, &cb) == napi_ok && cb != NULL &&
           napi_create_int32(env, n, &argv[0]) == napi_ok;
  if (ok) {
    s->in_callback = 1;
    napi_status st = napi_make_callback(env, s->actx, self, cb, 1, argv, &result);
    s->in_callback = 0;
    if (st == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    } else if (st != napi_ok) {
      ok = 0;
    }
  }
  napi_close_handle_scope(env, scope);
  if (s->closing) {
    release_js(s); /* close() ran inside the callback and left this for now */
    return -1;
  }
  return ok ? 0 : -1;
}

static void send_replies(sock_t *s, int n) {
  const int32_t *meta = s->sh->meta;
  unsigned m = 0;
  for (int i = 0; i < n; i++) {
    int32_t len = meta[i * META + M_REPLY];
    if (len < 0) continue;
    if (len > OUT_SLOT || s->rmsg[i].msg_hdr.msg_namelen == 0) {
      s->c.bad_replies++;
      continue;
    }
    s->siov[m].iov_base = s->sh->out + (size_t)i * OUT_SLOT;
    s->siov[m].iov_len = (size_t)len;
    struct msghdr *h = &s->smsg[m].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_name = &s->names[i];
    h->msg_namelen = s->rmsg[i].msg_hdr.msg_namelen;
    h->msg_iov = &s->siov[m];
    h->msg_iovlen = 1;
    m++;
  }
  unsigned off = 0;
  while (off < m) {
    int r = sendmmsg(s->fd, s->smsg + off, m - off, MSG_DONTWAIT);
    if (r > 0) {
      off += (unsigned)r;
      s->c.sent += r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      /* The send buffer is full: a UDP client retries, so the rest are dropped rather than
       * queued behind a wait for writability. */
      s->c.send_dropped += m - off;
      return;
    } else {
      /* sendmmsg reports an error only for the first message it could not send: skip it. */
      s->c.send_errors++;
      off++;
    }
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  sock_t *s = h->data;
  if (s->closing) return;
  if (status < 0) {
    /* libuv stops the handle on POLLERR: clear the socket error and keep serving. */
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    s->c.recv_errors++;
    uv_poll_start(&s->poll, UV_READABLE, on_readable);
    return;
  }
  if (!(events & UV_READABLE)) return;
  for (int round = 0; round < ROUNDS; round++) {
    int n = recv_batch(s);
    if (n <= 0) return;
    fill_meta(s, n);
    if (deliver(s, n) != 0) return;
    send_replies(s, n);
    if (n < BATCH) return; /* drained (probably): let epoll say when more arrives */
  }
}

/* ---- JavaScript API ---------------------------------------------------------------------- */

static napi_value throw_errno(napi_env env, const char *syscall, int err, const char *addr, int port) {
  char msg[160];
  const char *name = uv_err_name(-err);
  snprintf(msg, sizeof msg, "%s %s %s:%d", syscall, name, addr, port);
  napi_value code, message, error;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) == napi_ok &&
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) == napi_ok &&
      napi_create_error(env, code, message, &error) == napi_ok) {
    napi_value v;
    if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, error, "syscall", v);
    if (napi_create_int32(env, -err, &v) == napi_ok) napi_set_named_property(env, error, "errno", v);
    napi_throw(env, error);
  }
  return NULL;
}

/* "10.0.0.1", "fd00::1" or "fe80::1%br0" with a port; 0 when it parses. */
static int parse_addr(const char *text, int port, int family, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family != AF_INET6) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, text, &a->sin_addr) == 1) {
      a->sin_family = AF_INET;
      a->sin_port = htons((uint16_t)port);
      *len = sizeof *a;
      return 0;
    }
    if (family == AF_INET) return -1;
  }
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (strlen(text) >= sizeof buf) return -1;
  strcpy(buf, text);
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  char *zone = strchr(buf, '%');
  if (zone) {
    *zone++ = '\0';
    a->sin6_scope_id = if_nametoindex(zone);
    if (a->sin6_scope_id == 0) return -1;
  }
  if (inet_pton(AF_INET6, buf, &a->sin6_addr) != 1) return -1;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  *len = sizeof *a;
  return 0;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t n;
  return napi_get_value_string_utf8(env, v, buf, size, &n) == napi_ok && n < size - 1 ? 0 : -1;
}

static int get_port(napi_env env, napi_value v, int32_t *port) {
  return napi_get_value_int32(env, v, port) == napi_ok && *port >= 0 && *port <= 65535 ? 0 : -1;
}

static sock_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *s = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, &s) != napi_ok) {
    napi_throw_type_error(env, NULL, "not a UdpBatchSocket");
    return NULL;
  }
  return s;
}

/* new UdpBatchSocket(address, port, onBatch): binds at once (SO_REUSEADDR) and starts reading;
 * onBatch(count) is called with this as the socket. Throws like dgram's bind: "bind EADDRINUSE ...". */
static napi_value Construct(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  char addr[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  int32_t port;
  napi_valuetype t;
  shared_t *sh;
  napi_value new_target = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok || napi_get_new_target(env, info, &new_target) != napi_ok ||
      new_target == NULL || argc < 3 || get_string(env, argv[0], addr, sizeof addr) != 0 || get_port(env, argv[1], &port) != 0 ||
      napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "new UdpBatchSocket(address, port, onBatch): expected an IP address, a port from 0 to 65535 and a function");
    return NULL;
  }
  if (napi_get_instance_data(env, (void **)&sh) != napi_ok || sh == NULL) {
    napi_throw_error(env, NULL, "udpbatch: no shared buffers (module not initialised)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl;
  if (parse_addr(addr, port, AF_UNSPEC, &ss, &sl) != 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "UdpBatchSocket: the address must be an IPv4 or IPv6 address");
    return NULL;
  }
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno, addr, port);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err, addr, port);
  }

  sock_t *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    napi_throw_error(env, "ENOMEM", "UdpBatchSocket: out of memory");
    return NULL;
  }
  s->fd = fd;
  s->family = ss.ss_family;
  s->env = env;
  s->sh = sh;
  s->poll.data = s;
  for (int i = 0; i < BATCH; i++) {
    s->riov[i].iov_base = sh->recv + (size_t)i * RECV_SLOT;
    s->riov[i].iov_len = RECV_SLOT;
    s->rmsg[i].msg_hdr.msg_name = &s->names[i];
    s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
    s->rmsg[i].msg_hdr.msg_iovlen = 1;
  }
  napi_value name;
  if (napi_create_string_utf8(env, "netloom:UdpBatchSocket", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, self, name, &s->actx) != napi_ok || napi_create_reference(env, argv[2], 1, &s->cb) != napi_ok) {
    if (s->actx) napi_async_destroy(env, s->actx);
    if (s->cb) napi_delete_reference(env, s->cb);
    close(fd);
    free(s);
    return NULL;
  }
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    napi_async_destroy(env, s->actx);
    napi_delete_reference(env, s->cb);
    close(fd);
    free(s);
    return NULL;
  }
  /* From here the finalizer owns s. */
  uv_loop_t *loop;
  int err = napi_create_reference(env, self, 1, &s->self) == napi_ok && napi_get_uv_event_loop(env, &loop) == napi_ok ? 0 : UV_EINVAL;
  if (err == 0 && napi_add_env_cleanup_hook(env, cleanup_hook, s) == napi_ok) s->hook = 1;
  if (err == 0) err = uv_poll_init(loop, &s->poll, fd);
  if (err == 0) {
    s->poll_inited = 1;
    err = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  }
  if (err != 0) {
    stop_socket(s);
    release_js(s);
    return throw_errno(env, "poll", -err, addr, port);
  }
  return self;
}

/* send(data, port, address): one datagram from this socket (for replies that come later, such
 * as forwarded answers). Returns undefined, or the error's name (EAGAIN, ENETUNREACH, ...). */
static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result = NULL;
  sock_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  bool is_ta = false;
  napi_typedarray_type type;
  size_t len;
  void *data;
  char addr[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  int32_t port;
  if (argc < 3 || napi_is_typedarray(env, argv[0], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      get_port(env, argv[1], &port) != 0 || get_string(env, argv[2], addr, sizeof addr) != 0) {
    napi_throw_type_error(env, NULL, "send(data, port, address): expected a Uint8Array, a port and an IP address");
    return NULL;
  }
  int err = 0;
  struct sockaddr_storage ss;
  socklen_t sl;
  if (s->closing) err = EBADF;
  else if (parse_addr(addr, port, s->family, &ss, &sl) != 0) err = EINVAL;
  else
    while (sendto(s->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
  if (err == 0) {
    s->c.sent++;
    napi_get_undefined(env, &result);
  } else {
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) s->c.send_dropped++;
    else s->c.send_errors++;
    napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &result);
  }
  return result;
}

/* close(): stops reading and closes the descriptor now; idempotent. */
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  sock_t *s = unwrap(env, info, &argc, NULL);
  if (!s) return NULL;
  stop_socket(s);
  release_js(s);
  return NULL;
}

/* localPort(): the bound port (what port 0 became); -1 once closed. */
static napi_value LocalPort(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  sock_t *s = unwrap(env, info, &argc, NULL);
  if (!s) return NULL;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  int port = -1;
  if (!s->closing && getsockname(s->fd, (struct sockaddr *)&ss, &sl) == 0)
    port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
  napi_create_int32(env, port, &result);
  return result;
}

/* counters(): what this socket did, for tests and debugging. */
static napi_value Counters(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value obj, v;
  sock_t *s = unwrap(env, info, &argc, NULL);
  if (!s || napi_create_object(env, &obj) != napi_ok) return NULL;
  const struct { const char *name; double value; } f[] = {
    {"received", s->c.received}, {"batches", s->c.batches}, {"truncated", s->c.truncated},
    {"recvErrors", s->c.recv_errors}, {"sent", s->c.sent}, {"sendErrors", s->c.send_errors},
    {"sendDropped", s->c.send_dropped}, {"badReplies", s->c.bad_replies},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (napi_create_double(env, f[i].value, &v) == napi_ok) napi_set_named_property(env, obj, f[i].name, v);
  return obj;
}

static void free_shared(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  free(data);
}

static int set_int(napi_env env, napi_value obj, const char *name, int32_t value) {
  napi_value v;
  return napi_create_int32(env, value, &v) == napi_ok && napi_set_named_property(env, obj, name, v) == napi_ok ? 0 : -1;
}

static int set_area(napi_env env, napi_value obj, const char *name, void *data, size_t len) {
  napi_value v;
  return napi_create_external_arraybuffer(env, data, len, NULL, NULL, &v) == napi_ok &&
                 napi_set_named_property(env, obj, name, v) == napi_ok
             ? 0
             : -1;
}

NAPI_MODULE_INIT() {
  shared_t *sh = calloc(1, sizeof *sh);
  if (!sh || napi_set_instance_data(env, sh, free_shared, NULL) != napi_ok) {
    free(sh);
    napi_throw_error(env, "ENOMEM", "udpbatch: cannot allocate the shared buffers");
    return NULL;
  }
  napi_property_descriptor methods[] = {
    {"send", NULL, Send, NULL, NULL, NULL, napi_default_method, NULL},
    {"close", NULL, Close, NULL, NULL, NULL, napi_default_method, NULL},
    {"localPort", NULL, LocalPort, NULL, NULL, NULL, napi_default_method, NULL},
    {"counters", NULL, Counters, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls, shared;
  if (napi_define_class(env, "UdpBatchSocket", NAPI_AUTO_LENGTH, Construct, NULL, sizeof methods / sizeof methods[0], methods, &cls) != napi_ok ||
      napi_set_named_property(env, exports, "UdpBatchSocket", cls) != napi_ok || napi_create_object(env, &shared) != napi_ok ||
      set_area(env, shared, "recv", sh->recv, sizeof sh->recv) || set_area(env, shared, "out", sh->out, sizeof sh->out) ||
      set_area(env, shared, "meta", sh->meta, sizeof sh->meta) || set_area(env, shared, "addr6", sh->addr6, sizeof sh->addr6) ||
      napi_set_named_property(env, exports, "shared", shared) != napi_ok || set_int(env, exports, "BATCH", BATCH) ||
      set_int(env, exports, "RECV_SLOT", RECV_SLOT) || set_int(env, exports, "OUT_SLOT", OUT_SLOT) || set_int(env, exports, "META", META))
    return NULL;
  return exports;
}
