// riscv64 Linux system call numbers (the generic table, asm-generic/unistd.h) with their names
// and argument formats for -strace: d = signed decimal, x = hex, o = octal, s = guest string,
// p = guest pointer.
#pragma once

#include <cstdint>

namespace tandem::user {

struct SyscallInfo {
  int nr;
  const char* name;
  const char* args;
};

#define TANDEM_RISCV64_SYSCALLS(X)  \
  X(17, getcwd, "pd")               \
  X(23, dup, "d")                   \
  X(24, dup3, "ddx")                \
  X(25, fcntl, "ddx")               \
  X(29, ioctl, "dxp")               \
  X(33, mknodat, "dsox")            \
  X(34, mkdirat, "dso")             \
  X(35, unlinkat, "dsx")            \
  X(36, symlinkat, "sds")           \
  X(37, linkat, "dsdsx")            \
  X(43, statfs, "sp")               \
  X(44, fstatfs, "dp")              \
  X(46, ftruncate, "dd")            \
  X(47, fallocate, "dddd")          \
  X(48, faccessat, "dso")           \
  X(49, chdir, "s")                 \
  X(50, fchdir, "d")                \
  X(52, fchmod, "do")               \
  X(53, fchmodat, "dso")            \
  X(54, fchownat, "dsddx")          \
  X(55, fchown, "ddd")              \
  X(56, openat, "dsxo")             \
  X(57, close, "d")                 \
  X(59, pipe2, "px")                \
  X(61, getdents64, "dpd")          \
  X(62, lseek, "ddd")               \
  X(63, read, "dpd")                \
  X(64, write, "dpd")               \
  X(65, readv, "dpd")               \
  X(66, writev, "dpd")              \
  X(67, pread64, "dpdd")            \
  X(68, pwrite64, "dpdd")           \
  X(71, sendfile, "ddpd")           \
  X(73, ppoll, "pdppd")             \
  X(78, readlinkat, "dspd")         \
  X(79, newfstatat, "dspx")         \
  X(80, fstat, "dp")                \
  X(82, fsync, "d")                 \
  X(83, fdatasync, "d")             \
  X(88, utimensat, "dspx")          \
  X(93, exit, "d")                  \
  X(94, exit_group, "d")            \
  X(96, set_tid_address, "p")       \
  X(98, futex, "pdxppx")            \
  X(99, set_robust_list, "pd")      \
  X(101, nanosleep, "pp")           \
  X(102, getitimer, "dp")           \
  X(103, setitimer, "dpp")          \
  X(113, clock_gettime, "dp")       \
  X(114, clock_getres, "dp")        \
  X(115, clock_nanosleep, "dxpp")   \
  X(122, sched_setaffinity, "ddp")  \
  X(123, sched_getaffinity, "ddp")  \
  X(124, sched_yield, "")           \
  X(129, kill, "dd")                \
  X(130, tkill, "dd")               \
  X(131, tgkill, "ddd")             \
  X(132, sigaltstack, "pp")         \
  X(133, rt_sigsuspend, "pd")       \
  X(134, rt_sigaction, "dppd")      \
  X(135, rt_sigprocmask, "dppd")    \
  X(136, rt_sigpending, "pd")       \
  X(137, rt_sigtimedwait, "pppd")   \
  X(139, rt_sigreturn, "")          \
  X(153, times, "p")                \
  X(154, setpgid, "dd")             \
  X(155, getpgid, "d")              \
  X(157, setsid, "")                \
  X(160, uname, "p")                \
  X(163, getrlimit, "dp")           \
  X(164, setrlimit, "dp")           \
  X(165, getrusage, "dp")           \
  X(166, umask, "o")                \
  X(167, prctl, "dxxxx")            \
  X(169, gettimeofday, "pp")        \
  X(172, getpid, "")                \
  X(173, getppid, "")               \
  X(174, getuid, "")                \
  X(175, geteuid, "")               \
  X(176, getgid, "")                \
  X(177, getegid, "")               \
  X(178, gettid, "")                \
  X(179, sysinfo, "p")              \
  X(214, brk, "x")                  \
  X(215, munmap, "xx")              \
  X(216, mremap, "xxxxx")           \
  X(222, mmap, "xxxxdx")            \
  X(226, mprotect, "xxx")           \
  X(227, msync, "xxx")              \
  X(233, madvise, "xxd")            \
  X(258, riscv_hwprobe, "pdxpx")    \
  X(259, riscv_flush_icache, "xxx") \
  X(261, prlimit64, "ddpp")         \
  X(276, renameat2, "dsdsx")        \
  X(278, getrandom, "pdx")          \
  X(291, statx, "dsxxp")            \
  X(293, rseq, "pdxx")              \
  X(439, faccessat2, "dsox")

enum Syscall : int {
#define TANDEM_SYSCALL_ENUM(nr, name, args) kSys_##name = nr,
  TANDEM_RISCV64_SYSCALLS(TANDEM_SYSCALL_ENUM)
#undef TANDEM_SYSCALL_ENUM
};

// nullptr for numbers this table does not know.
const SyscallInfo* syscall_info(int nr);

}  // namespace tandem::user
