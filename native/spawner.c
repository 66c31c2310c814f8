/* Runs one program without forking netloomd: posix_spawn (glibc: clone with CLONE_VM|CLONE_VFORK,
 * so no page table of the daemon is copied), its input written and its output read on a libuv
 * threadpool thread, then waitpid. node:child_process forks: the fork copies the daemon's page
 * tables and the child faults its pages in until it execs, 2-4 ms of the main thread per program
 * at the daemon's size (README, Performance, "Network create").
 *
 * run(file, args, input, timeoutMs, callback): `file` is looked up in PATH (posix_spawnp); the
 * child gets the daemon's environment, a blank signal mask and default signal dispositions (Node
 * ignores SIGPIPE, which an exec would otherwise pass on). At the timeout the child gets SIGTERM.
 * callback(result) with result = { exitCode, signal, stdout, stderr, spawnErrno }: exitCode -1
 * when the program did not exit by itself (killed) or could not start; spawnErrno is the errno
 * name of a failed start ("ENOENT"), else "". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>

extern char **environ;

typedef struct {
  char *data;
  size_t len, cap;
} buf_t;

typedef struct {
  napi_async_work work;
  napi_ref callback;
  char *file;
  char **argv;
  char *input;
  size_t input_len;
  int timeout_ms;
  /* results */
  int exit_code, signal, spawn_errno;
  buf_t out, err;
} job_t;

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static int buf_read(buf_t *b, int fd) {
  if (b->cap - b->len < 4096) {
    size_t cap = b->cap ? b->cap * 2 : 8192;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  ssize_t n = read(fd, b->data + b->len, b->cap - b->len);
  if (n > 0) b->len += (size_t)n;
  return (int)n;
}

/* One read of a readable pipe; closed at its end (or on an error other than EINTR). */
static void drain(buf_t *b, int *fd) {
  int n = buf_read(b, *fd);
  if (n == 0 || (n < 0 && errno != EINTR)) close_fd(fd);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* On the threadpool thread: spawn, feed, drain, reap. */
static void execute(napi_env env, void *data) {
  (void)env;
  job_t *j = data;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  j->exit_code = -1;
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    j->spawn_errno = errno;
    goto done;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int rc = posix_spawnp(&pid, j->file, &fa, &attr, j->argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close_fd(&in[0]);
  close_fd(&out[1]);
  close_fd(&err[1]);
  if (rc) {
    j->spawn_errno = rc;
    goto done;
  }
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  size_t written = 0;
  if (j->input_len == 0) close_fd(&in[1]);
  long long deadline = j->timeout_ms > 0 ? now_ms() + j->timeout_ms : 0;
  int killed = 0;
  while (out[0] >= 0 || err[0] >= 0) {
    struct pollfd p[3];
    int n = 0, io = -1, oo = -1, eo = -1;
    if (in[1] >= 0) p[io = n++] = (struct pollfd){.fd = in[1], .events = POLLOUT};
    if (out[0] >= 0) p[oo = n++] = (struct pollfd){.fd = out[0], .events = POLLIN};
    if (err[0] >= 0) p[eo = n++] = (struct pollfd){.fd = err[0], .events = POLLIN};
    int wait = -1;
    if (deadline && !killed) {
      long long left = deadline - now_ms();
      if (left <= 0) {
        kill(pid, SIGTERM);
        killed = 1;
        continue;
      }
      wait = (int)left;
    }
    int r = poll(p, (nfds_t)n, wait);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (io >= 0 && p[io].revents) {
      ssize_t w = write(in[1], j->input + written, j->input_len - written);
      if (w > 0) written += (size_t)w;
      /* EPIPE: the program exits without reading all of it; not our error. */
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written >= j->input_len) close_fd(&in[1]);
    }
    if (oo >= 0 && p[oo].revents) drain(&j->out, &out[0]);
    if (eo >= 0 && p[eo].revents) drain(&j->err, &err[0]);
  }
  close_fd(&in[1]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && !killed) j->exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) j->signal = WTERMSIG(status);
done:
  close_fd(&in[0]);
  close_fd(&in[1]);
  close_fd(&out[0]);
  close_fd(&out[1]);
  close_fd(&err[0]);
  close_fd(&err[1]);
}

static napi_value str(napi_env env, const char *s, size_t len) {
  napi_value v;
  napi_create_string_utf8(env, s ? s : "", s ? len : 0, &v);
  return v;
}

static void free_job(job_t *j) {
  free(j->file);
  for (char **a = j->argv; a && *a; a++) free(*a);
  free(j->argv);
  free(j->input);
  free(j->out.data);
  free(j->err.data);
  free(j);
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  napi_value result, cb, global, num;
  napi_create_object(env, &result);
  napi_create_int32(env, status == napi_ok ? j->exit_code : -1, &num);
  napi_set_named_property(env, result, "exitCode", num);
  napi_create_int32(env, j->signal, &num);
  napi_set_named_property(env, result, "signal", num);
  napi_set_named_property(env, result, "stdout", str(env, j->out.data, j->out.len));
  napi_set_named_property(env, result, "stderr", str(env, j->err.data, j->err.len));
  const char *en = j->spawn_errno ? strerrorname_np(j->spawn_errno) : "";
  napi_set_named_property(env, result, "spawnErrno", str(env, en, en ? strlen(en) : 0));
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  napi_call_function(env, global, cb, 1, &result, NULL);
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  free_job(j);
}

static char *get_string(napi_env env, napi_value v, size_t *len) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) return NULL;
  char *s = malloc(n + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, n + 1, &n);
  if (len) *len = n;
  return s;
}

static napi_value run(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "run(file, args, input, timeoutMs, callback)");
    return NULL;
  }
  job_t *j = calloc(1, sizeof *j);
  uint32_t nargs = 0;
  napi_get_array_length(env, argv[1], &nargs);
  j->file = get_string(env, argv[0], NULL);
  j->argv = calloc(nargs + 2, sizeof(char *));
  j->argv[0] = get_string(env, argv[0], NULL);
  for (uint32_t i = 0; i < nargs; i++) {
    napi_value a;
    napi_get_element(env, argv[1], i, &a);
    j->argv[i + 1] = get_string(env, a, NULL);
  }
  j->input = get_string(env, argv[2], &j->input_len);
  napi_get_value_int32(env, argv[3], &j->timeout_ms);
  napi_create_reference(env, argv[4], 1, &j->callback);
  napi_value name;
  napi_create_string_utf8(env, "netloom.spawn", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "run", NAPI_AUTO_LENGTH, run, NULL, &fn);
  napi_set_named_property(env, exports, "run", fn);
  return exports;
}
