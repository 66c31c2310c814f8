/* netloom's only native code: setns(2) for the calling thread, and flock(2) for the data-dir
 * lock (Node has no flock; a lock the kernel drops when the holder dies is what makes a dead
 * daemon never block a restart, whatever became of its PID).
 *
 * Node cannot switch network namespace by itself. A netlink socket belongs to the namespace
 * it was created in, so system/netns.ts switches the main thread into a sandbox's namespace,
 * creates a netlink socket there and switches straight back, all synchronously, before any
 * other JavaScript runs. libuv's worker threads never move. This is netavark's
 * open_netlink_sockets approach; bench/netns-mechanism.bench.ts compares it with
 * `ip -n NS -batch` and a helper process per namespace. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/file.h>
#include <stdio.h>
#include <string.h>
#include <node_api.h>

static napi_value Setns(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "setns(fd): fd must be an integer");
    return NULL;
  }
  if (setns(fd, CLONE_NEWNET) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "setns(%d, CLONE_NEWNET): %s", fd, strerror(errno));
    napi_throw_error(env, "ESETNS", msg);
  }
  return NULL;
}

/* flockExclusive(fd): true when this open file now holds LOCK_EX, false when another holds it. */
static napi_value FlockExclusive(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  napi_value result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "flockExclusive(fd): fd must be an integer");
    return NULL;
  }
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EWOULDBLOCK) {
    char msg[160];
    snprintf(msg, sizeof msg, "flock(%d, LOCK_EX|LOCK_NB): %s", fd, strerror(errno));
    napi_throw_error(env, "EFLOCK", msg);
    return NULL;
  }
  napi_get_boolean(env, rc == 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "setns", NAPI_AUTO_LENGTH, Setns, NULL, &fn);
  napi_set_named_property(env, exports, "setns", fn);
  napi_create_function(env, "flockExclusive", NAPI_AUTO_LENGTH, FlockExclusive, NULL, &fn);
  napi_set_named_property(env, exports, "flockExclusive", fn);
  return exports;
}
