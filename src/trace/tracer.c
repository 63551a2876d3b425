/*
 * reprocheck-trace: runs a build under ptrace and writes, one line each,
 * the processes it starts (fork, exec with argv and cwd, exit) and the
 * files they open, rename, link or remove. Statically linked and uploaded
 * into the container; it needs no capability: a process may trace its own
 * children, and a seccomp filter (installed with no_new_privs) stops them
 * only at the syscalls below, so the rest of the build runs at full speed.
 *
 * Usage: reprocheck-trace TRACE_FILE COMMAND [ARG...]
 *
 * The trace (format 1; fields separated by tabs, strings escaped as \xHH
 * for bytes below 0x21, 0x7f and backslash):
 *   reprocheck-trace 1 <arch>
 *   fork   <ns> <parent> <child>
 *   exec   <ns> <pid> <cwd> <path> <argc> <arg>...      argv clipped
 *   holds  <ns> <pid> <fd> <path>    a file the new program got open for
 *                                    writing (a shell's `> file` is fd 1)
 *   open   <ns> <pid> <r|w> <created 0|1> <path>        path from the fd
 *   rename <ns> <pid> <from> <to>
 *   link   <ns> <pid> <from> <to>                       hard or symbolic
 *   unlink <ns> <pid> <path>
 *   exit   <ns> <pid> <status>
 *   digest <ns> <size> <sha256|-> <path>   at the end, each file written
 *                                    (opened for writing, renamed or linked
 *                                    to) that is still a regular file: its
 *                                    content's digest ("-": over a limit,
 *                                    see digests.c)
 *   end    <ns> <status>                                the command's
 * <ns> counts from the trace's start (CLOCK_MONOTONIC). Only calls that
 * succeeded are written. A thread's calls are its process's.
 *
 * Where the architecture is not supported the command runs untraced and
 * the trace says so ("untraced <why>"); reprocheck reports it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include "digests.h"

#define ARG_MAX_BYTES 256  /* one argument, clipped */
#define ARGV_MAX_BYTES 4096 /* all of them */
#define ARGV_MAX_COUNT 64
#define MAX_TRACEES 65536

static FILE *out;
static struct timespec started;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)(t.tv_sec - started.tv_sec) * 1000000000LL + (t.tv_nsec - started.tv_nsec);
}

/* Writes a tab, then s escaped, so a field never holds a tab or a newline. */
static void put_field(FILE *f, const char *s) {
    fputc('\t', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c == 0x7f || c == '\\')
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

#if defined(__x86_64__)
#define TRACED 1
#define TRACED_AUDIT_ARCH AUDIT_ARCH_X86_64
#define ARCH_NAME "x86_64"
typedef struct user_regs_struct regs_t;
#define REG_NR(r) ((long)(r).orig_rax)
#define REG_RET(r) ((long)(r).rax)
#define REG_ARG0(r) ((r).rdi)
#define REG_ARG1(r) ((r).rsi)
#define REG_ARG2(r) ((r).rdx)
#define REG_ARG3(r) ((r).r10)
#else
#define TRACED 0
#endif

#if TRACED
/* The syscalls that stop the build. */
static const int traced_syscalls[] = {
    SYS_execve, SYS_execveat, SYS_open, SYS_openat, SYS_creat,
#ifdef SYS_openat2
    SYS_openat2,
#endif
    SYS_rename, SYS_renameat, SYS_renameat2, SYS_unlink, SYS_unlinkat,
    SYS_link, SYS_linkat, SYS_symlink, SYS_symlinkat,
};
#define N_TRACED (sizeof traced_syscalls / sizeof traced_syscalls[0])

static int install_filter(void) {
    struct sock_filter filter[4 + N_TRACED + 2];
    size_t k = 0;
    filter[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    /* Another ABI (x32, i386): let it be. */
    filter[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TRACED_AUDIT_ARCH, 1, 0);
    filter[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    filter[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (size_t i = 0; i < N_TRACED; i++) {
        /* Matched: skip to the RET_TRACE at the end. */
        filter[k] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)traced_syscalls[i],
                                                 (unsigned char)(N_TRACED - i), 0);
        k++;
    }
    filter[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    filter[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    struct sock_fprog prog = {.len = (unsigned short)k, .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* What a stopped call will need at its exit: strings read at its entry. */
struct pending {
    long nr;
    char path[PATH_MAX];
    char path2[PATH_MAX];
    char *argv; /* exec: the arguments, already escaped and tab-joined */
    int argc;
    int flags;
};

struct tracee {
    pid_t pid;
    pid_t tgid; /* the process a thread belongs to */
    int in_syscall;
    int seen;   /* its first stop (the attach's SIGSTOP) was taken */
    struct pending call;
};

static struct tracee *tracees[MAX_TRACEES];
static size_t n_tracees;

static struct tracee *find(pid_t pid, int make) {
    for (size_t i = 0; i < n_tracees; i++)
        if (tracees[i]->pid == pid)
            return tracees[i];
    if (!make || n_tracees == MAX_TRACEES)
        return NULL;
    struct tracee *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->pid = pid;
    t->tgid = pid;
    tracees[n_tracees++] = t;
    return t;
}

static void forget(pid_t pid) {
    for (size_t i = 0; i < n_tracees; i++)
        if (tracees[i]->pid == pid) {
            free(tracees[i]->call.argv);
            free(tracees[i]);
            tracees[i] = tracees[--n_tracees];
            return;
        }
}

/* Reads a NUL-terminated string at addr in pid into buf (cap bytes with
 * the NUL); returns its length, or -1. */
static ssize_t read_string(pid_t pid, unsigned long addr, char *buf, size_t cap) {
    size_t got = 0;
    if (!addr)
        return -1;
    while (got + 1 < cap) {
        /* Up to the next page boundary: never a read across an unmapped page. */
        size_t chunk = 4096 - ((addr + got) & 4095);
        if (chunk > cap - 1 - got)
            chunk = cap - 1 - got;
        struct iovec local = {buf + got, chunk}, remote = {(void *)(addr + got), chunk};
        ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (n <= 0) {
            /* Not allowed (a non-dumpable process): word by word. */
            errno = 0;
            long word = ptrace(PTRACE_PEEKDATA, pid, (void *)(addr + got), 0);
            if (errno)
                return got ? (ssize_t)got : -1;
            n = (ssize_t)sizeof word;
            if ((size_t)n > cap - 1 - got)
                n = (ssize_t)(cap - 1 - got);
            memcpy(buf + got, &word, (size_t)n);
        }
        void *nul = memchr(buf + got, 0, (size_t)n);
        if (nul)
            return (ssize_t)((char *)nul - buf);
        got += (size_t)n;
    }
    buf[got] = 0;
    return (ssize_t)got;
}

/* The path at addr in pid, or "" when it cannot be read. */
static void read_path(pid_t pid, unsigned long addr, char *buf) {
    if (read_string(pid, addr, buf, PATH_MAX) < 0)
        buf[0] = 0;
}

/* An absolute path for `path` as pid sees it relative to dirfd. */
static void resolve(pid_t pid, long dirfd, const char *path, char *out_path) {
    if (path[0] == '/') {
        snprintf(out_path, PATH_MAX, "%s", path);
        return;
    }
    char link[64], base[PATH_MAX];
    if (dirfd == AT_FDCWD)
        snprintf(link, sizeof link, "/proc/%d/cwd", pid);
    else
        snprintf(link, sizeof link, "/proc/%d/fd/%ld", pid, dirfd);
    ssize_t n = readlink(link, base, sizeof base - 1);
    if (n < 0) {
        snprintf(out_path, PATH_MAX, "?/%s", path);
        return;
    }
    base[n] = 0;
    /* Clipped at PATH_MAX, as the kernel would refuse it anyway. */
    if (snprintf(out_path, PATH_MAX, "%s/%s", strcmp(base, "/") ? base : "", path) >= PATH_MAX)
        out_path[PATH_MAX - 1] = 0;
}

/* The exec's arguments, escaped and tab-joined, clipped. */
static char *read_argv(pid_t pid, unsigned long argv_addr, int *argc) {
    char *joined = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&joined, &size);
    if (!mem)
        return NULL;
    size_t total = 0;
    int count = 0;
    for (int i = 0; argv_addr && i < 4096; i++) {
        unsigned long ptr = 0;
        char arg[ARG_MAX_BYTES + 1];
        struct iovec local = {&ptr, sizeof ptr}, remote = {(void *)(argv_addr + i * sizeof ptr), sizeof ptr};
        if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof ptr) {
            errno = 0;
            ptr = (unsigned long)ptrace(PTRACE_PEEKDATA, pid, remote.iov_base, 0);
            if (errno)
                break;
        }
        if (!ptr)
            break;
        if (count == ARGV_MAX_COUNT || total >= ARGV_MAX_BYTES) {
            put_field(mem, "\xe2\x80\xa6"); /* … : clipped */
            count++;
            break;
        }
        ssize_t n = read_string(pid, ptr, arg, sizeof arg);
        if (n < 0)
            break;
        put_field(mem, arg);
        total += (size_t)n;
        count++;
    }
    fclose(mem);
    *argc = count;
    return joined;
}

static void on_entry(struct tracee *t) {
    regs_t r;
    if (ptrace(PTRACE_GETREGS, t->pid, 0, &r) != 0)
        return;
    struct pending *c = &t->call;
    free(c->argv);
    memset(c, 0, sizeof *c);
    c->nr = REG_NR(r);
    char raw[PATH_MAX], raw2[PATH_MAX];
    long nr = c->nr;
    if (nr == SYS_execve || nr == SYS_execveat) {
        unsigned long path = nr == SYS_execve ? REG_ARG0(r) : REG_ARG1(r);
        unsigned long argv = nr == SYS_execve ? REG_ARG1(r) : REG_ARG2(r);
        read_path(t->pid, path, raw);
        resolve(t->pid, nr == SYS_execve ? AT_FDCWD : (long)(int)REG_ARG0(r), raw, c->path);
        char cwd_link[64];
        snprintf(cwd_link, sizeof cwd_link, "/proc/%d/cwd", t->pid);
        ssize_t n = readlink(cwd_link, c->path2, sizeof c->path2 - 1);
        c->path2[n < 0 ? 0 : n] = 0;
        c->argv = read_argv(t->pid, argv, &c->argc);
    } else if (nr == SYS_open || nr == SYS_openat || nr == SYS_creat
#ifdef SYS_openat2
               || nr == SYS_openat2
#endif
    ) {
        if (nr == SYS_open)
            c->flags = (int)REG_ARG1(r);
        else if (nr == SYS_creat)
            c->flags = O_CREAT | O_WRONLY | O_TRUNC;
        else if (nr == SYS_openat)
            c->flags = (int)REG_ARG2(r);
#ifdef SYS_openat2
        else {
            /* struct open_how: its first field is the flags. */
            uint64_t how = 0;
            struct iovec local = {&how, sizeof how}, remote = {(void *)REG_ARG2(r), sizeof how};
            if (process_vm_readv(t->pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof how)
                c->flags = (int)how;
        }
#endif
    } else if (nr == SYS_rename || nr == SYS_link || nr == SYS_symlink) {
        read_path(t->pid, REG_ARG0(r), raw);
        read_path(t->pid, REG_ARG1(r), raw2);
        if (nr == SYS_symlink)
            snprintf(c->path, sizeof c->path, "%s", raw); /* the target, as written */
        else
            resolve(t->pid, AT_FDCWD, raw, c->path);
        resolve(t->pid, AT_FDCWD, raw2, c->path2);
    } else if (nr == SYS_renameat || nr == SYS_renameat2 || nr == SYS_linkat) {
        read_path(t->pid, REG_ARG1(r), raw);
        read_path(t->pid, REG_ARG3(r), raw2);
        resolve(t->pid, (long)(int)REG_ARG0(r), raw, c->path);
        resolve(t->pid, (long)(int)REG_ARG2(r), raw2, c->path2);
    } else if (nr == SYS_symlinkat) {
        read_path(t->pid, REG_ARG0(r), raw);
        read_path(t->pid, REG_ARG2(r), raw2);
        snprintf(c->path, sizeof c->path, "%s", raw);
        resolve(t->pid, (long)(int)REG_ARG1(r), raw2, c->path2);
    } else if (nr == SYS_unlink) {
        read_path(t->pid, REG_ARG0(r), raw);
        resolve(t->pid, AT_FDCWD, raw, c->path);
    } else if (nr == SYS_unlinkat) {
        read_path(t->pid, REG_ARG1(r), raw);
        resolve(t->pid, (long)(int)REG_ARG0(r), raw, c->path);
    }
}

/* The regular files pid holds open for writing: what its program writes
 * without opening (a shell's redirection, an inherited descriptor). */
static void put_held_files(pid_t pid, pid_t tgid, long long ns) {
    char dir_path[64];
    snprintf(dir_path, sizeof dir_path, "/proc/%d/fdinfo", pid);
    DIR *dir = opendir(dir_path);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        char info_path[300], link[300], path[PATH_MAX], line[128];
        snprintf(info_path, sizeof info_path, "/proc/%d/fdinfo/%s", pid, e->d_name);
        FILE *info = fopen(info_path, "re");
        if (!info)
            continue;
        unsigned flags = 0;
        while (fgets(line, sizeof line, info))
            if (sscanf(line, "flags: %o", &flags) == 1)
                break;
        fclose(info);
        if ((flags & O_ACCMODE) == O_RDONLY)
            continue;
        snprintf(link, sizeof link, "/proc/%d/fd/%s", pid, e->d_name);
        ssize_t n = readlink(link, path, sizeof path - 1);
        /* Regular files only: not pipes, sockets, ttys or /dev/null. */
        if (n <= 0 || path[0] != '/' || !strncmp(path, "/dev/", 5))
            continue;
        path[n] = 0;
        fprintf(out, "holds\t%lld\t%d\t%s", ns, tgid, e->d_name);
        put_field(out, path);
        fputc('\n', out);
    }
    closedir(dir);
}

static void on_exit_stop(struct tracee *t) {
    regs_t r;
    struct pending *c = &t->call;
    if (ptrace(PTRACE_GETREGS, t->pid, 0, &r) != 0)
        return;
    long ret = REG_RET(r), nr = c->nr;
    if (ret < 0)
        return;
    long long ns = now_ns();
    if (nr == SYS_execve || nr == SYS_execveat) {
        fprintf(out, "exec\t%lld\t%d", ns, t->tgid);
        put_field(out, c->path2);
        put_field(out, c->path);
        fprintf(out, "\t%d%s\n", c->argc, c->argv ? c->argv : "");
        put_held_files(t->pid, t->tgid, ns);
    } else if (nr == SYS_open || nr == SYS_openat || nr == SYS_creat
#ifdef SYS_openat2
               || nr == SYS_openat2
#endif
    ) {
        char link[64], path[PATH_MAX];
        snprintf(link, sizeof link, "/proc/%d/fd/%ld", t->pid, ret);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n < 0)
            return;
        path[n] = 0;
        int writes = (c->flags & O_ACCMODE) != O_RDONLY || (c->flags & (O_CREAT | O_TRUNC));
        fprintf(out, "open\t%lld\t%d\t%s\t%d", ns, t->tgid, writes ? "w" : "r",
                (c->flags & (O_CREAT | O_TRUNC)) ? 1 : 0);
        put_field(out, path);
        fputc('\n', out);
        if (writes)
            remember_written(path);
    } else if (nr == SYS_rename || nr == SYS_renameat || nr == SYS_renameat2) {
        fprintf(out, "rename\t%lld\t%d", ns, t->tgid);
        put_field(out, c->path);
        put_field(out, c->path2);
        fputc('\n', out);
        remember_written(c->path2);
    } else if (nr == SYS_link || nr == SYS_linkat || nr == SYS_symlink || nr == SYS_symlinkat) {
        fprintf(out, "link\t%lld\t%d", ns, t->tgid);
        put_field(out, c->path);
        put_field(out, c->path2);
        fputc('\n', out);
        remember_written(c->path2);
    } else if (nr == SYS_unlink || nr == SYS_unlinkat) {
        fprintf(out, "unlink\t%lld\t%d", ns, t->tgid);
        put_field(out, c->path);
        fputc('\n', out);
    }
}

/* The thread group (process) of a new tracee. */
static pid_t tgid_of(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    pid_t tgid = pid;
    if (!f)
        return pid;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Tgid: %d", &tgid) == 1)
            break;
    fclose(f);
    return tgid;
}

static int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int trace(char **command) {
    pid_t child = fork();
    if (child < 0) {
        perror("reprocheck-trace: fork");
        return 125;
    }
    if (child == 0) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0 || raise(SIGSTOP) != 0 || install_filter() != 0) {
            perror("reprocheck-trace: setting up the trace");
            _exit(125);
        }
        execvp(command[0], command);
        fprintf(stderr, "reprocheck-trace: %s: %s\n", command[0], strerror(errno));
        _exit(127);
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
        fprintf(stderr, "reprocheck-trace: the build did not stop for the tracer\n");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
    }
    long options = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                   PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;
    if (ptrace(PTRACE_SETOPTIONS, child, 0, (void *)options) != 0) {
        perror("reprocheck-trace: PTRACE_SETOPTIONS");
        kill(child, SIGKILL);
        return 125;
    }
    struct tracee *first = find(child, 1);
    if (first)
        first->seen = 1;
    ptrace(PTRACE_CONT, child, 0, 0);
    for (;;) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            return 125; /* ECHILD before the command ended: cannot happen */
        }
        struct tracee *t = find(pid, 1);
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (t && t->tgid == pid)
                fprintf(out, "exit\t%lld\t%d\t%d\n", now_ns(), pid, exit_code(status));
            forget(pid);
            if (pid == child) {
                put_digests(out, now_ns(), put_field);
                fprintf(out, "end\t%lld\t%d\n", now_ns(), exit_code(status));
                return exit_code(status);
            }
            continue;
        }
        if (!WIFSTOPPED(status))
            continue;
        if (!t) {
            /* No room to follow it (MAX_TRACEES live at once): let it go on
             * unrecorded. Never detached: its filter would then fail the
             * traced calls with ENOSYS. */
            int sig = WSTOPSIG(status), event = (unsigned)status >> 16;
            int deliver = event == 0 && sig != (SIGTRAP | 0x80) && sig != SIGSTOP ? sig : 0;
            ptrace(PTRACE_CONT, pid, 0, (void *)(long)deliver);
            continue;
        }
        int sig = WSTOPSIG(status), event = (unsigned)status >> 16;
        int resume = PTRACE_CONT, deliver = 0;
        if (event == PTRACE_EVENT_SECCOMP) {
            on_entry(t);
            t->in_syscall = 1;
            resume = PTRACE_SYSCALL;
        } else if (sig == (SIGTRAP | 0x80)) {
            if (t->in_syscall)
                on_exit_stop(t);
            t->in_syscall = 0;
        } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) {
            unsigned long new_pid = 0;
            ptrace(PTRACE_GETEVENTMSG, pid, 0, &new_pid);
            struct tracee *n = find((pid_t)new_pid, 1);
            if (n) {
                n->tgid = tgid_of((pid_t)new_pid);
                if (n->tgid == (pid_t)new_pid)
                    fprintf(out, "fork\t%lld\t%d\t%lu\n", now_ns(), t->tgid, new_pid);
            }
            resume = t->in_syscall ? PTRACE_SYSCALL : PTRACE_CONT;
        } else if (event == PTRACE_EVENT_EXEC) {
            resume = t->in_syscall ? PTRACE_SYSCALL : PTRACE_CONT;
        } else if (event != 0) {
            resume = t->in_syscall ? PTRACE_SYSCALL : PTRACE_CONT;
        } else if (sig == SIGSTOP && !t->seen) {
            /* A new tracee's attach stop: not the build's signal. */
            t->seen = 1;
        } else {
            deliver = sig;
            resume = t->in_syscall ? PTRACE_SYSCALL : PTRACE_CONT;
        }
        t->seen = 1;
        ptrace(resume, pid, 0, (void *)(long)deliver);
    }
}
#endif

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: reprocheck-trace TRACE_FILE COMMAND [ARG...]\n");
        return 125;
    }
    clock_gettime(CLOCK_MONOTONIC, &started);
    out = fopen(argv[1], "we");
    if (!out) {
        fprintf(stderr, "reprocheck-trace: %s: %s\n", argv[1], strerror(errno));
        return 125;
    }
    static char buffer[1 << 16];
    setvbuf(out, buffer, _IOFBF, sizeof buffer);
#if TRACED
    fprintf(out, "reprocheck-trace\t1\t%s\n", ARCH_NAME);
    int code = trace(argv + 2);
    fclose(out);
    return code;
#else
    fprintf(out, "reprocheck-trace\t1\tuntraced\tthis architecture is not supported by the tracer\n");
    fclose(out);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "reprocheck-trace: %s: %s\n", argv[2], strerror(errno));
    return 127;
#endif
}
