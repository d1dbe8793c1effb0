/* A hostile container's watcher: everything container root with default capabilities can try
 * against a process that debugtool (or anyone) brings into its PID namespace.
 *
 * It busy-watches /proc/sys/kernel/ns_last_pid and, for every new PID, keeps trying for five
 * seconds or until it exits (a slow start, such as runc init's, must not outlast the watch):
 * readlink and open /proc/PID/exe, read /proc/PID/environ and cmdline, list /proc/PID/fd and
 * reopen each descriptor, readlink cwd and root, and PTRACE_SEIZE it. Every success is one line
 * in LOG ("KIND PID FIELDS..."; text with bytes outside 0x21-0x7e written as \xNN), for the test
 * to judge. Built static by the test harness (gcc -static); it runs as root in a test container.
 *
 * Usage: watcher LOG
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECENT 64
#define WATCH_SECONDS 5.0 /* how long a new PID is attacked, however slowly it starts */

static FILE *out;
static pid_t self;

/* Each distinct line is written once: a process is attacked hundreds of times. */
#define SEEN_SLOTS (1 << 16)
static unsigned long long seen_lines[SEEN_SLOTS];

static int first_time(const char *text, size_t n) {
    unsigned long long h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
    if (!h) h = 1;
    for (unsigned long long i = h & (SEEN_SLOTS - 1), k = 0; k < SEEN_SLOTS;
         i = (i + 1) & (SEEN_SLOTS - 1), k++) {
        if (seen_lines[i] == h) return 0;
        if (!seen_lines[i]) { seen_lines[i] = h; return 1; }
    }
    return 0; /* full: stop writing rather than flood */
}

static char linebuf[300000];

static void line(const char *kind, pid_t pid, const char *extra, const char *text, ssize_t n) {
    size_t len = (size_t)snprintf(linebuf, 200, "%s %d", kind, (int)pid);
    if (extra) len += (size_t)snprintf(linebuf + len, 200, " %s", extra);
    if (text) {
        linebuf[len++] = ' ';
        for (ssize_t i = 0; i < n && len < sizeof linebuf - 8; i++) {
            unsigned char c = (unsigned char)text[i];
            if (c > 0x20 && c < 0x7f && c != '\\')
                linebuf[len++] = (char)c;
            else
                len += (size_t)sprintf(linebuf + len, "\\x%02x", c);
        }
    }
    linebuf[len++] = '\n';
    if (first_time(linebuf, len)) {
        fwrite(linebuf, 1, len, out);
        fflush(out);
    }
}

static void link_of(pid_t pid, const char *what, const char *kind) {
    char path[64], target[4096];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    ssize_t n = readlink(path, target, sizeof target);
    if (n > 0) line(kind, pid, NULL, target, n);
}

static void read_file(pid_t pid, const char *what, const char *kind) {
    char path[64];
    static char buf[65536];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n > 0) line(kind, pid, NULL, buf, n);
}

static void open_stat(const char *path, pid_t pid, const char *kind, const char *name) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0) {
        char extra[160];
        snprintf(extra, sizeof extra, "%s mode=%o dev=%lu ino=%lu rdev=%lu", name,
                 (unsigned)st.st_mode, (unsigned long)st.st_dev, (unsigned long)st.st_ino,
                 (unsigned long)st.st_rdev);
        line(kind, pid, extra, NULL, 0);
    }
    close(fd);
}

static void fds(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *dir = opendir(path);
    if (!dir) return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        char fdpath[512], target[4096];
        snprintf(fdpath, sizeof fdpath, "%s/%s", path, e->d_name);
        ssize_t n = readlink(fdpath, target, sizeof target);
        if (n > 0) line("FD", pid, e->d_name, target, n);
        open_stat(fdpath, pid, "FDOPEN", e->d_name);
    }
    closedir(dir);
}

static void seize(pid_t pid) {
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) != 0) return;
    char path[64], target[4096];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, target, sizeof target);
    line("SEIZE", pid, NULL, n > 0 ? target : "?", n > 0 ? n : 1);
    read_file(pid, "environ", "SEIZEENV");
    /* Let it go: interrupt, wait for the stop, detach. */
    if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0) {
        int status;
        waitpid(pid, &status, __WALL);
    }
    ptrace(PTRACE_DETACH, pid, 0, 0);
}

static void attack(pid_t pid) {
    char path[64];
    link_of(pid, "exe", "EXE");
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    open_stat(path, pid, "EXEOPEN", "exe");
    read_file(pid, "environ", "ENV");
    read_file(pid, "cmdline", "CMD");
    fds(pid);
    link_of(pid, "cwd", "CWD");
    link_of(pid, "root", "ROOT");
    seize(pid);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t last_pid(int fd) {
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = 0;
    return (pid_t)atoi(buf);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    out = fopen(argv[1], "a");
    if (!out) return 1;
    signal(SIGCHLD, SIG_IGN);
    self = getpid();
    int fd = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    pid_t seen = last_pid(fd);
    pid_t recent[RECENT] = {0};
    double until[RECENT] = {0}; /* 0: a free slot */
    line("READY", self, NULL, NULL, 0);
    for (;;) {
        pid_t now = last_pid(fd);
        while (seen != now) {
            seen = seen + 1 > 4194304 ? 2 : seen + 1;
            if (seen == self) continue;
            int slot = 0;
            for (int i = 0; i < RECENT; i++)
                if (until[i] == 0) { slot = i; break; }
            recent[slot] = seen;
            until[slot] = now_seconds() + WATCH_SECONDS;
            attack(seen);
        }
        int busy = 0;
        for (int i = 0; i < RECENT; i++) {
            if (until[i] == 0) continue;
            busy = 1;
            char path[64];
            snprintf(path, sizeof path, "/proc/%d", (int)recent[i]);
            if (now_seconds() > until[i] || access(path, F_OK) != 0) { until[i] = 0; continue; }
            attack(recent[i]);
        }
        if (!busy) {
            struct timespec ts = {0, 20000}; /* 20 us: a busy watch that leaves a core to others */
            nanosleep(&ts, NULL);
        }
    }
}
