/* netloom's only native code: setns(2) for the calling thread, and flock(2) for the data-dir
 * lock (Node has no flock; a lock the kernel drops when the holder dies is what makes a dead
 * daemon never block a restart, whatever became of its PID).
 *
 * Node cannot switch network namespace by itself. A netlink socket belongs to the namespace
 * it was created in, so system/netns.ts switches the main thread into a sandbox's namespace,
 * creates a netlink socket there and switches straight back, all synchronously, before any
 * other JavaScript runs. libuv's worker threads never move. This is netavark's
 * open_netlink_sockets approach; bench/netns-mechanism.bench.ts compares it with
 * `ip -n NS -batch` and a helper process per namespace.
 *
 * The same trick makes namespaces without a program per sandbox: netnsAdd is what `ip netns add`
 * does (iproute2 ip/ipnetns.c netns_add), on the main thread, which unshares a fresh network
 * namespace, bind-mounts it on /run/netns/NAME and setns(2)s back before returning; utsAdd does
 * the same for a UTS namespace with its host and domain names (util-linux `unshare --uts=FILE`).
 * Only the calling thread changes namespace (unshare of CLONE_NEWNET or CLONE_NEWUTS is
 * per-thread), and it is back before any JavaScript runs. A failure to get back would leave the
 * daemon in the wrong namespace: that one is fatal. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <node_api.h>

#define ARG 4096        /* a path or a name given by JavaScript, its NUL included */
#define WHAT (3 * ARG)  /* what failed, as the error's message says it */

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

/* Throws an Error whose code is the errno's name (EEXIST, ...) and whose message is
 * "<what>: <strerror>", as Node's own system errors read. */
static void throwErrno(napi_env env, int err, const char *what) {
  char msg[WHAT + 200];
  const char *name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, name ? name : "EIO", msg);
}

/* Reads argument i as a string into buf (at most size-1 bytes); false (a TypeError thrown) if it
 * is not a string or does not fit. */
static int stringArg(napi_env env, napi_value v, char *buf, size_t size, const char *fn) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len >= size ||
      napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) {
    char msg[120];
    snprintf(msg, sizeof msg, "%s: expected strings shorter than %zu bytes", fn, size);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static int getStrings(napi_env env, napi_callback_info info, size_t n, char (*out)[ARG], const char *fn) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) {
    napi_throw_type_error(env, NULL, fn);
    return 0;
  }
  for (size_t i = 0; i < n; i++)
    if (!stringArg(env, argv[i], out[i], sizeof out[i], fn)) return 0;
  return 1;
}

/* Back to the namespace saved in fd, or die: a daemon left in a sandbox's namespace would
 * configure the wrong kernel objects from then on. */
static void setnsBack(int fd, int nstype) {
  if (setns(fd, nstype) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "nsaddon: setns back to the daemon's namespace failed: %s", strerror(errno));
    napi_fatal_error("nsaddon", NAPI_AUTO_LENGTH, msg, NAPI_AUTO_LENGTH);
  }
  close(fd);
}

/* Makes dir a shared mount point (a bind mount of itself first if it is none), as iproute2 does
 * with /run/netns: an unmount of a namespace file then reaches every mount namespace. */
static int makeShared(const char *dir) {
  if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) == 0) return 0;
  if (errno != EINVAL) return -1;
  if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) != 0) return -1;
  return mount("", dir, "none", MS_SHARED | MS_REC, NULL);
}

/* Sets lo up in the calling thread's network namespace (what `ip link set lo up` does). */
static int loUp(void) {
  struct ifreq ifr;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (rc == 0) {
    ifr.ifr_flags |= IFF_UP;
    rc = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int err = errno;
  close(s);
  errno = err;
  return rc;
}

/* netnsAdd(dir, name, loUp): `ip netns add name` with dir for /run/netns, then lo set up inside
 * when loUp is true. The name is checked by the caller (system/netns.ts). On failure nothing is
 * left: no file, no mount. */
static napi_value NetnsAdd(napi_env env, napi_callback_info info) {
  char a[2][ARG], path[2 * ARG], what[WHAT];
  if (!getStrings(env, info, 2, a, "netnsAdd(dir, name, loUp)")) return NULL;
  bool up = false;
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc > 2) napi_get_value_bool(env, argv[2], &up);
  snprintf(path, sizeof path, "%s/%s", a[0], a[1]);
  if (mkdir(a[0], 0755) != 0 && errno != EEXIST) {
    snprintf(what, sizeof what, "mkdir %s", a[0]);
    throwErrno(env, errno, what);
    return NULL;
  }
  if (makeShared(a[0]) != 0) {
    snprintf(what, sizeof what, "mount --make-rshared %s", a[0]);
    throwErrno(env, errno, what);
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(what, sizeof what, "cannot create namespace file \"%s\"", path);
    throwErrno(env, errno, what);
    return NULL;
  }
  close(fd);
  int back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int err = 0;
  if (back < 0) {
    err = errno;
    snprintf(what, sizeof what, "open /proc/thread-self/ns/net");
  } else if (unshare(CLONE_NEWNET) != 0) {
    err = errno;
    snprintf(what, sizeof what, "cannot create a network namespace \"%s\"", a[1]);
    close(back);
  } else {
    int mounted = 0;
    if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) != 0) {
      err = errno;
      snprintf(what, sizeof what, "bind /proc/thread-self/ns/net -> %s", path);
    } else {
      mounted = 1;
      if (up && loUp() != 0) {
        err = errno;
        snprintf(what, sizeof what, "set lo up in \"%s\"", a[1]);
      }
    }
    setnsBack(back, CLONE_NEWNET);
    if (err && mounted) umount2(path, MNT_DETACH);
  }
  if (err) {
    unlink(path);
    throwErrno(env, err, what);
  }
  return NULL;
}

/* unmountAndUnlink(path): `ip netns del` (umount2 MNT_DETACH, then unlink); a file that is no
 * mount point is removed all the same. */
static napi_value UnmountAndUnlink(napi_env env, napi_callback_info info) {
  char a[1][ARG], what[WHAT];
  if (!getStrings(env, info, 1, a, "unmountAndUnlink(path)")) return NULL;
  umount2(a[0], MNT_DETACH);
  if (unlink(a[0]) != 0) {
    snprintf(what, sizeof what, "cannot remove namespace file \"%s\"", a[0]);
    throwErrno(env, errno, what);
  }
  return NULL;
}

/* utsAdd(path, hostname, domainname): a new UTS namespace with these names, bind-mounted on the
 * existing file path (`unshare --uts=path`, then the names written); the caller removes the
 * file on failure. */
static napi_value UtsAdd(napi_env env, napi_callback_info info) {
  char a[3][ARG], what[WHAT];
  if (!getStrings(env, info, 3, a, "utsAdd(path, hostname, domainname)")) return NULL;
  int back = open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC);
  if (back < 0) {
    throwErrno(env, errno, "open /proc/thread-self/ns/uts");
    return NULL;
  }
  if (unshare(CLONE_NEWUTS) != 0) {
    int err = errno;
    close(back);
    throwErrno(env, err, "unshare(CLONE_NEWUTS)");
    return NULL;
  }
  int err = 0;
  if (sethostname(a[1], strlen(a[1])) != 0) {
    err = errno;
    snprintf(what, sizeof what, "sethostname \"%s\"", a[1]);
  } else if (setdomainname(a[2], strlen(a[2])) != 0) {
    err = errno;
    snprintf(what, sizeof what, "setdomainname \"%s\"", a[2]);
  } else if (mount("/proc/thread-self/ns/uts", a[0], "none", MS_BIND, NULL) != 0) {
    err = errno;
    snprintf(what, sizeof what, "bind /proc/thread-self/ns/uts -> %s", a[0]);
  }
  setnsBack(back, CLONE_NEWUTS);
  if (err) throwErrno(env, err, what);
  return NULL;
}

/* bindMount(source, target): `mount --bind source target`. */
static napi_value BindMount(napi_env env, napi_callback_info info) {
  char a[2][ARG], what[WHAT];
  if (!getStrings(env, info, 2, a, "bindMount(source, target)")) return NULL;
  if (mount(a[0], a[1], "none", MS_BIND, NULL) != 0) {
    snprintf(what, sizeof what, "mount --bind %s %s", a[0], a[1]);
    throwErrno(env, errno, what);
  }
  return NULL;
}

/* unmount(path): `umount path`; false when path is no mount point (EINVAL) or not there. */
static napi_value Unmount(napi_env env, napi_callback_info info) {
  char a[1][ARG], what[WHAT];
  napi_value result;
  if (!getStrings(env, info, 1, a, "unmount(path)")) return NULL;
  int rc = umount2(a[0], 0);
  if (rc != 0 && errno != EINVAL && errno != ENOENT) {
    snprintf(what, sizeof what, "umount %s", a[0]);
    throwErrno(env, errno, what);
    return NULL;
  }
  napi_get_boolean(env, rc == 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"setns", Setns},         {"flockExclusive", FlockExclusive}, {"netnsAdd", NetnsAdd}, {"unmountAndUnlink", UnmountAndUnlink},
      {"utsAdd", UtsAdd},       {"bindMount", BindMount},           {"unmount", Unmount},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  return exports;
}
