// Guest signal handlers as riscv64 Linux runs them: fault handlers with siginfo (and
// siglongjmp out), handlers that edit the interrupted context, masks and sa_flags, the
// alternate stack, timers interrupting (or restarting) blocking calls. `abort` as argv[1]:
// a SIGABRT handler runs, then abort() kills the process with SIGABRT. `external`: signals
// from another process (see external()).
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

static sigjmp_buf jump;
static volatile sig_atomic_t count, depth, max_depth;
static volatile int got_code;
static volatile uintptr_t got_addr, got_pc;
static volatile int got_pid_ok;

static void on(int sig, void (*fn)(int, siginfo_t*, void*), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fn;
  sa.sa_flags = flags | SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, NULL) != 0) perror("sigaction");
}

static void record_and_jump(int sig, siginfo_t* si, void* ucv) {
  ucontext_t* uc = ucv;
  got_code = si->si_code + 100 * (si->si_signo == sig);
  got_addr = (uintptr_t)si->si_addr;
  got_pc = uc->uc_mcontext.__gregs[REG_PC];
  siglongjmp(jump, 1);
}

static void test_segv(void) {
  on(SIGSEGV, record_and_jump, 0);
  if (sigsetjmp(jump, 1) == 0) {
    *(volatile int*)0x1238 = 1;
    puts("segv: not reached");
  }
  printf("segv unmapped: code=%d addr=%#lx\n", got_code, (unsigned long)got_addr);
  char* ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sigsetjmp(jump, 1) == 0) {
    ro[8] = 1;
    puts("segv: not reached");
  }
  printf("segv read-only: code=%d addr_ok=%d\n", got_code, got_addr == (uintptr_t)(ro + 8));
  // The mask saved by sigsetjmp(.., 1) is back: SIGSEGV is not left blocked.
  sigset_t now;
  sigprocmask(SIG_BLOCK, NULL, &now);
  printf("segv: blocked after siglongjmp=%d\n", sigismember(&now, SIGSEGV));
  signal(SIGSEGV, SIG_DFL);
}

static void test_ill(void) {
  on(SIGILL, record_and_jump, 0);
  if (sigsetjmp(jump, 1) == 0) {
    __asm__ volatile(".word 0xffffffff");
    puts("ill: not reached");
  }
  printf("ill: code=%d addr_is_pc=%d\n", got_code, got_addr == got_pc && got_pc != 0);
  signal(SIGILL, SIG_DFL);
}

// Skips the 4-byte ebreak and hands back values in a0 and fcsr.
static void on_trap(int sig, siginfo_t* si, void* ucv) {
  ucontext_t* uc = ucv;
  got_code = si->si_code + 100 * (sig == SIGTRAP);
  got_addr = (uintptr_t)si->si_addr;
  got_pc = uc->uc_mcontext.__gregs[REG_PC];
  // Scramble registers the interrupted code uses; sigreturn must restore them.
  volatile double d = 1.0;
  for (int i = 0; i < 50; ++i) d = d * 1.5 + i;
  uc->uc_mcontext.__gregs[REG_PC] += 4;
  uc->uc_mcontext.__gregs[REG_A0] = 0x1234;
  uc->uc_mcontext.__fpregs.__d.__fcsr = (1 << 5) | 0x1;  // frm = RTZ, fflags = NX
}

static void test_context(void) {
  on(SIGTRAP, on_trap, 0);
  register long a0 __asm__("a0") = 7;
  register long t3 __asm__("t3") = 0x5151;
  register long a5 __asm__("a5") = 0x7272;
  register double ft4 __asm__("ft4") = 2.5;
  uintptr_t at;
  __asm__ volatile(
      "fsflags zero\n"
      "fsrm zero\n"
      "lla %[at], 1f\n"
      ".option push\n.option norvc\n"
      "1: ebreak\n"
      ".option pop\n"
      : "+r"(a0), "+r"(t3), "+r"(a5), "+f"(ft4), [at] "=&r"(at)
      :
      : "memory");
  unsigned long fcsr;
  __asm__ volatile("frcsr %0" : "=r"(fcsr));
  printf("trap: code=%d addr_ok=%d pc_ok=%d a0=%#lx t3=%#lx a5=%#lx ft4=%g fcsr=%#lx\n", got_code,
         got_addr == at, got_pc == at, a0, t3, a5, ft4, fcsr);
  __asm__ volatile("fscsr zero");
  signal(SIGTRAP, SIG_DFL);
}

static void on_usr(int sig, siginfo_t* si, void* ucv) {
  (void)ucv;
  ++count;
  got_code = si->si_code + 100 * (si->si_signo == sig);
  got_pid_ok = si->si_pid == getpid() && si->si_uid == getuid();
}

static void test_raise_kill(void) {
  count = 0;
  on(SIGUSR1, on_usr, 0);
  raise(SIGUSR1);
  printf("raise: count=%d code=%d pid_ok=%d\n", count, got_code, got_pid_ok);
  kill(getpid(), SIGUSR1);
  printf("kill: count=%d code=%d pid_ok=%d\n", count, got_code, got_pid_ok);
}

static void test_mask(void) {
  count = 0;
  on(SIGUSR1, on_usr, 0);
  sigset_t set, old, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, &old);
  raise(SIGUSR1);
  raise(SIGUSR1);
  sigpending(&pend);
  printf("mask: blocked count=%d pending=%d\n", count, sigismember(&pend, SIGUSR1));
  sigprocmask(SIG_SETMASK, &old, NULL);
  sigpending(&pend);
  printf("mask: unblocked count=%d pending=%d\n", count, sigismember(&pend, SIGUSR1));
}

// The mask during a handler (sa_mask + the signal), and a mask the handler edits in its
// ucontext, which sigreturn installs.
static volatile int in_handler_usr1, in_handler_usr2, in_handler_int;
static void on_mask_check(int sig, siginfo_t* si, void* ucv) {
  (void)sig;
  (void)si;
  ucontext_t* uc = ucv;
  sigset_t now;
  sigprocmask(SIG_BLOCK, NULL, &now);
  in_handler_usr1 = sigismember(&now, SIGUSR1);
  in_handler_usr2 = sigismember(&now, SIGUSR2);
  in_handler_int = sigismember(&now, SIGINT);
  sigaddset(&uc->uc_sigmask, SIGHUP);
}

static void test_handler_mask(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_mask_check;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  sigset_t now;
  sigprocmask(SIG_BLOCK, NULL, &now);
  printf("handler mask: usr1=%d usr2=%d int=%d; after: usr1=%d usr2=%d hup=%d\n", in_handler_usr1,
         in_handler_usr2, in_handler_int, sigismember(&now, SIGUSR1), sigismember(&now, SIGUSR2),
         sigismember(&now, SIGHUP));
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  sigprocmask(SIG_UNBLOCK, &hup, NULL);
}

static void test_resethand(void) {
  count = 0;
  on(SIGUSR1, on_usr, SA_RESETHAND);
  raise(SIGUSR1);
  struct sigaction now;
  sigaction(SIGUSR1, NULL, &now);
  printf("resethand: count=%d reset_to_default=%d\n", count, now.sa_handler == SIG_DFL);
}

static void on_nest(int sig) {
  ++count;
  ++depth;
  if (depth > max_depth) max_depth = depth;
  if (count == 1) raise(sig);
  --depth;
}

static void test_nodefer(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_nest;
  sigemptyset(&sa.sa_mask);
  count = depth = max_depth = 0;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGUSR2, &sa, NULL);
  raise(SIGUSR2);
  printf("nodefer: count=%d max_depth=%d\n", count, max_depth);
  count = depth = max_depth = 0;
  sa.sa_flags = 0;
  sigaction(SIGUSR2, &sa, NULL);
  raise(SIGUSR2);
  printf("defer: count=%d max_depth=%d\n", count, max_depth);
}

static char* alt_base;
static size_t alt_size = 65536;
static volatile int on_alt, alt_flags, alt_eperm;
static void on_altstack(int sig) {
  (void)sig;
  char local;
  on_alt = &local > alt_base && &local < alt_base + alt_size;
  stack_t cur;
  sigaltstack(NULL, &cur);
  alt_flags = cur.ss_flags;
  stack_t other = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0};
  alt_eperm = sigaltstack(&other, NULL) == -1 && errno == EPERM;
}

static void test_altstack(void) {
  stack_t ss = {.ss_sp = malloc(alt_size), .ss_size = alt_size, .ss_flags = 0}, old;
  alt_base = ss.ss_sp;
  stack_t small = {.ss_sp = alt_base, .ss_size = 100, .ss_flags = 0};
  errno = 0;
  printf("altstack: small=%d/%s", sigaltstack(&small, NULL), strerror(errno));
  stack_t bad = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 7};
  errno = 0;
  printf(" badflags=%d/%s", sigaltstack(&bad, NULL), strerror(errno));
  printf(" set=%d", sigaltstack(&ss, &old));
  printf(" old_disabled=%d\n", old.ss_flags == SS_DISABLE);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_altstack;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  stack_t cur;
  sigaltstack(NULL, &cur);
  printf("altstack: handler_on_alt=%d flags_in_handler=%d eperm=%d after_flags=%d\n", on_alt,
         alt_flags, alt_eperm, cur.ss_flags);
  // Without SA_ONSTACK the handler stays on the normal stack.
  sa.sa_flags = 0;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  printf("altstack: without SA_ONSTACK on_alt=%d\n", on_alt);
  stack_t off = {.ss_flags = SS_DISABLE};
  sigaltstack(&off, NULL);
}

static int pipefd[2];
static void on_alarm(int sig) {
  (void)sig;
  ++count;
}
static void on_alarm_write(int sig) {
  (void)sig;
  ++count;
  write(pipefd[1], "x", 1);
}

static void arm_timer(long usec) {
  struct itimerval it = {{0, 0}, {0, usec}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void test_timers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  count = 0;
  alarm(1);
  errno = 0;
  int r = pause();
  printf("alarm+pause: r=%d errno=%s count=%d\n", r, strerror(errno), count);

  pipe(pipefd);
  char c = 0;
  count = 0;
  arm_timer(100000);
  errno = 0;
  ssize_t n = read(pipefd[0], &c, 1);
  printf("read without SA_RESTART: n=%zd errno=%s count=%d\n", n, strerror(errno), count);

  sa.sa_handler = on_alarm_write;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  count = 0;
  arm_timer(100000);
  errno = 0;
  n = read(pipefd[0], &c, 1);
  printf("read with SA_RESTART: n=%zd c=%c errno=%s count=%d\n", n, c ? c : '-', strerror(errno),
         count);

  // A signal while the program computes (no system call) arrives too.
  sa.sa_handler = on_alarm;
  sa.sa_flags = 0;
  sigaction(SIGALRM, &sa, NULL);
  count = 0;
  arm_timer(50000);
  volatile unsigned long spins = 0;
  while (!count) ++spins;
  printf("spin: count=%d\n", count);
  signal(SIGALRM, SIG_DFL);
}

static void on_abort(int sig) {
  printf("SIGABRT handler ran (signal %d)\n", sig);
  fflush(stdout);
}

// Signals sent by another process (the test): SIGINT is ignored, SIGUSR1 ends a pause(),
// SIGTERM reaches a handler while the program computes, then kills it by default.
static volatile sig_atomic_t term;
static void on_term(int sig) {
  (void)sig;
  term = 1;
}

static void external(void) {
  signal(SIGINT, SIG_IGN);
  on(SIGUSR1, on_usr, 0);
  signal(SIGTERM, on_term);
  puts("ready");
  while (!count) pause();
  printf("usr1: code=%d\n", got_code);
  puts("spinning");
  volatile unsigned long spins = 0;
  while (!term) ++spins;
  puts("term");
  signal(SIGTERM, SIG_DFL);
  puts("ready2");
  for (;;) pause();
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "abort") == 0) {
    signal(SIGABRT, on_abort);
    abort();
  }
  if (argc > 1 && strcmp(argv[1], "external") == 0) external();
  test_segv();
  test_ill();
  test_context();
  test_raise_kill();
  test_mask();
  test_handler_mask();
  test_resethand();
  test_nodefer();
  test_altstack();
  test_timers();
  puts("done");
  return 0;
}
