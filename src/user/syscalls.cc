// riscv64 Linux system calls on an x86-64 Linux host. Most calls pass through to the host
// after every guest pointer has been checked against the guest's mappings; the ones whose
// structures differ between the two ABIs (struct stat) are converted, and memory management
// (brk, mmap, munmap, mprotect, mremap) works on the guest AddressSpace.
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "user/process.h"
#include "user/syscall_table.h"

namespace tandem::user {

const SyscallInfo* syscall_info(int nr) {
  static const SyscallInfo kTable[] = {
#define TANDEM_SYSCALL_INFO(nr, name, args) {nr, #name, args},
      TANDEM_RISCV64_SYSCALLS(TANDEM_SYSCALL_INFO)
#undef TANDEM_SYSCALL_INFO
  };
  for (const SyscallInfo& s : kTable) {
    if (s.nr == nr) return &s;
  }
  return nullptr;
}

namespace {

using riscv::Access;

constexpr int64_t kMaxPath = 4096;

// riscv64's struct stat (asm-generic/stat.h), 128 bytes.
struct GuestStat {
  uint64_t st_dev;
  uint64_t st_ino;
  uint32_t st_mode;
  uint32_t st_nlink;
  uint32_t st_uid;
  uint32_t st_gid;
  uint64_t st_rdev;
  uint64_t pad1;
  int64_t st_size;
  int32_t st_blksize;
  int32_t pad2;
  int64_t st_blocks;
  int64_t st_atime_sec;
  uint64_t st_atime_nsec;
  int64_t st_mtime_sec;
  uint64_t st_mtime_nsec;
  int64_t st_ctime_sec;
  uint64_t st_ctime_nsec;
  uint32_t unused4;
  uint32_t unused5;
};
static_assert(sizeof(GuestStat) == 128);

GuestStat to_guest(const struct stat& s) {
  GuestStat g{};
  g.st_dev = s.st_dev;
  g.st_ino = s.st_ino;
  g.st_mode = s.st_mode;
  g.st_nlink = static_cast<uint32_t>(s.st_nlink);
  g.st_uid = s.st_uid;
  g.st_gid = s.st_gid;
  g.st_rdev = s.st_rdev;
  g.st_size = s.st_size;
  g.st_blksize = static_cast<int32_t>(s.st_blksize);
  g.st_blocks = s.st_blocks;
  g.st_atime_sec = s.st_atim.tv_sec;
  g.st_atime_nsec = static_cast<uint64_t>(s.st_atim.tv_nsec);
  g.st_mtime_sec = s.st_mtim.tv_sec;
  g.st_mtime_nsec = static_cast<uint64_t>(s.st_mtim.tv_nsec);
  g.st_ctime_sec = s.st_ctim.tv_sec;
  g.st_ctime_nsec = static_cast<uint64_t>(s.st_ctim.tv_nsec);
  return g;
}

int64_t host_result(long r) {
  return r < 0 ? -errno : r;
}

class Syscalls {
 public:
  explicit Syscalls(UserProcess& p) : p_(p), as_(*p.as) {}

  int64_t dispatch(int nr, const uint64_t a[6]);

 private:
  // Host pointer for a guest buffer, or nullptr (then the call fails with EFAULT). A zero
  // length is always fine. Every guest buffer a call writes (the host kernel or this layer)
  // passes here with kWrite, so the engine can get those pages ready for a host write.
  void* buf(uint64_t addr, uint64_t len, Access access) {
    if (len == 0) {
      // Any non-null pointer does (nothing is read or written), but guest address 0 is host
      // address 0 when the window sits there.
      static char nothing;
      void* h = as_.host(addr < as_.limit() ? addr : 0);
      return h ? h : &nothing;
    }
    void* h = as_.translate(addr, len, access);
    if (h && access == Access::kWrite) p_.engine->prepare_host_write(addr, len);
    return h;
  }
  void* in(uint64_t addr, uint64_t len) { return buf(addr, len, Access::kRead); }
  void* out(uint64_t addr, uint64_t len) { return buf(addr, len, Access::kWrite); }
  // Optional pointer argument: null stays null; a bad one gives `bad`.
  template <typename T>
  T* opt(uint64_t addr, Access access, bool& bad) {
    if (addr == 0) return nullptr;
    void* h = buf(addr, sizeof(T), access);
    if (!h) bad = true;
    return static_cast<T*>(h);
  }

  std::optional<std::string> str(uint64_t addr) {
    std::string s;
    for (int64_t i = 0; i < kMaxPath; ++i) {
      const uint8_t* c = as_.translate(addr + i, 1, Access::kRead);
      if (!c) return std::nullopt;
      if (*c == 0) return s;
      s.push_back(static_cast<char>(*c));
    }
    return std::nullopt;
  }
  // A path argument, with /proc/self/exe pointing at the guest program as QEMU does.
  std::optional<std::string> path(uint64_t addr) {
    auto s = str(addr);
    if (s && (*s == "/proc/self/exe" || *s == fmt::format("/proc/{}/exe", ::getpid()))) {
      return p_.exe_path;
    }
    return s;
  }

  int64_t sys_stat_at(int dirfd, uint64_t path_addr, uint64_t out_addr, int flags);
  int64_t sys_iov(bool write, int fd, uint64_t iov_addr, uint64_t count);
  int64_t sys_ioctl(int fd, uint64_t req, uint64_t arg);
  int64_t sys_fcntl(int fd, int cmd, uint64_t arg);
  int64_t sys_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, uint64_t off);
  int64_t sys_munmap(uint64_t addr, uint64_t len);
  int64_t sys_mprotect(uint64_t addr, uint64_t len, int prot);
  int64_t sys_mremap(uint64_t old_addr, uint64_t old_len, uint64_t new_len, int flags,
                     uint64_t new_addr);
  int64_t sys_brk(uint64_t addr);
  int64_t sys_futex(uint64_t uaddr, int op, uint32_t val, uint64_t timeout);
  int64_t sys_rt_sigaction(int sig, uint64_t act, uint64_t oact, uint64_t size);
  int64_t sys_rt_sigprocmask(int how, uint64_t set, uint64_t oset, uint64_t size);
  int64_t sys_kill_self(int sig, int code);
  int64_t sys_rt_sigtimedwait(uint64_t set, uint64_t info, uint64_t timeout, uint64_t size);
  int64_t sys_sleep(clockid_t clock, int flags, const timespec* req, timespec* rem);
  int64_t sys_readlinkat(int dirfd, uint64_t path_addr, uint64_t buf_addr, uint64_t size);

  UserProcess& p_;
  AddressSpace& as_;
};

int64_t Syscalls::sys_stat_at(int dirfd, uint64_t path_addr, uint64_t out_addr, int flags) {
  auto pth = path(path_addr);
  if (!pth) return -EFAULT;
  void* o = out(out_addr, sizeof(GuestStat));
  if (!o) return -EFAULT;
  struct stat st;
  if (::fstatat(dirfd, pth->c_str(), &st, flags) != 0) return -errno;
  const GuestStat g = to_guest(st);
  std::memcpy(o, &g, sizeof g);
  return 0;
}

int64_t Syscalls::sys_iov(bool write, int fd, uint64_t iov_addr, uint64_t count) {
  if (count > IOV_MAX) return -EINVAL;
  const auto* giov = static_cast<const uint64_t*>(in(iov_addr, count * 16));
  if (!giov) return -EFAULT;
  std::vector<iovec> iov(count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t base = giov[2 * i], len = giov[2 * i + 1];
    void* h = buf(base, len, write ? Access::kRead : Access::kWrite);
    if (!h) return -EFAULT;
    iov[i] = {h, len};
  }
  return host_result(write ? ::writev(fd, iov.data(), static_cast<int>(count))
                           : ::readv(fd, iov.data(), static_cast<int>(count)));
}

int64_t Syscalls::sys_ioctl(int fd, uint64_t req, uint64_t arg) {
  // riscv64 uses the generic termios/ioctl ABI, which is also x86-64's: same request numbers
  // and structure layouts. Only requests with known argument sizes pass.
  struct Known {
    uint64_t req;
    uint32_t size;
    Access access;  // kRead: the kernel reads the argument; kWrite: it writes it
    bool by_value;  // the argument is an integer, not a pointer
  };
  static constexpr Known kKnown[] = {
      {TCGETS, 36, Access::kWrite, false},    {TCSETS, 36, Access::kRead, false},
      {TCSETSW, 36, Access::kRead, false},    {TCSETSF, 36, Access::kRead, false},
      {TIOCGWINSZ, 8, Access::kWrite, false}, {TIOCSWINSZ, 8, Access::kRead, false},
      {TIOCGPGRP, 4, Access::kWrite, false},  {TIOCSPGRP, 4, Access::kRead, false},
      {FIONREAD, 4, Access::kWrite, false},   {FIONBIO, 4, Access::kRead, false},
      {FIOCLEX, 0, Access::kRead, true},      {FIONCLEX, 0, Access::kRead, true},
      {TCFLSH, 0, Access::kRead, true},       {TCXONC, 0, Access::kRead, true},
      {TCSBRK, 0, Access::kRead, true},       {TIOCSCTTY, 0, Access::kRead, true},
  };
  for (const Known& k : kKnown) {
    if (k.req != req) continue;
    if (k.by_value) return host_result(::ioctl(fd, req, arg));
    void* h = buf(arg, k.size, k.access);
    if (!h) return -EFAULT;
    return host_result(::ioctl(fd, req, h));
  }
  if (p_.strace) fmt::print(p_.log, "tandem: unsupported ioctl 0x{:x}\n", req);
  return -ENOTTY;
}

int64_t Syscalls::sys_fcntl(int fd, int cmd, uint64_t arg) {
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
    case F_GETFD:
    case F_SETFD:
    case F_GETFL:
    case F_SETFL:
    case F_GETOWN:
    case F_SETOWN:
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
    case F_ADD_SEALS:
    case F_GET_SEALS:
      return host_result(::fcntl(fd, cmd, arg));
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW: {
      // struct flock is identical on both 64-bit ABIs (32 bytes).
      void* h = buf(arg, sizeof(struct flock),
                    cmd == F_GETLK || cmd == F_OFD_GETLK ? Access::kWrite : Access::kRead);
      if (!h) return -EFAULT;
      return host_result(::fcntl(fd, cmd, h));
    }
    default:
      return -EINVAL;
  }
}

int64_t Syscalls::sys_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, uint64_t off) {
  if (len == 0 || (off & (kPageSize - 1))) return -EINVAL;
  if (len > as_.limit()) return -ENOMEM;
  len = page_up(len);
  const int type = flags & MAP_TYPE;
  if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE) return -EINVAL;
  const bool anonymous = flags & MAP_ANONYMOUS;
  const bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
  uint64_t target;
  if (fixed) {
    if (addr & (kPageSize - 1)) return -EINVAL;
    if (addr > as_.limit() || len > as_.limit() - addr) return -ENOMEM;
    if ((flags & MAP_FIXED_NOREPLACE) && !(flags & MAP_FIXED) && !as_.is_free(addr, len)) {
      return -EEXIST;
    }
    target = addr;
  } else if (addr != 0 && page_down(addr) >= 0x10000 && as_.is_free(page_down(addr), len)) {
    target = page_down(addr);
  } else {
    auto found = as_.find_free(len, p_.mmap_top);
    if (!found) return -ENOMEM;
    target = *found;
  }
  const int share = type == MAP_PRIVATE ? MAP_PRIVATE : MAP_SHARED;
  const int r = as_.map_fixed(target, len, prot, share | (flags & MAP_NORESERVE),
                              anonymous ? -1 : fd, anonymous ? 0 : off);
  if (r < 0) return r;
  p_.engine->invalidate_code(target, len);
  return static_cast<int64_t>(target);
}

int64_t Syscalls::sys_munmap(uint64_t addr, uint64_t len) {
  if ((addr & (kPageSize - 1)) || len == 0) return -EINVAL;
  if (addr > as_.limit() || len > as_.limit() - addr) return -EINVAL;
  len = page_up(len);
  const int r = as_.unmap(addr, len);
  if (r == 0) p_.engine->invalidate_code(addr, len);
  return r;
}

int64_t Syscalls::sys_mprotect(uint64_t addr, uint64_t len, int prot) {
  if (addr & (kPageSize - 1)) return -EINVAL;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return -EINVAL;
  len = page_up(len);
  const int r = as_.protect(addr, len, prot);
  if (r == 0) p_.engine->invalidate_code(addr, len);
  return r;
}

int64_t Syscalls::sys_mremap(uint64_t old_addr, uint64_t old_len, uint64_t new_len, int flags,
                             uint64_t new_addr) {
  if ((old_addr & (kPageSize - 1)) || new_len == 0) return -EINVAL;
  if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)) return -EINVAL;
  if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) return -EINVAL;
  old_len = page_up(old_len);
  new_len = page_up(new_len);
  if (old_len == 0 || !as_.is_mapped(old_addr, old_len)) return -EFAULT;
  const int prot = as_.page_prot(old_addr + old_len - kPageSize) & 7;
  if (!(flags & MREMAP_FIXED)) {
    if (new_len <= old_len) {
      if (new_len < old_len) sys_munmap(old_addr + new_len, old_len - new_len);
      return static_cast<int64_t>(old_addr);
    }
    if (as_.is_free(old_addr + old_len, new_len - old_len)) {
      const int r = as_.map_fixed(old_addr + old_len, new_len - old_len, prot);
      return r < 0 ? r : static_cast<int64_t>(old_addr);
    }
    if (!(flags & MREMAP_MAYMOVE)) return -ENOMEM;
  }
  uint64_t target;
  if (flags & MREMAP_FIXED) {
    if ((new_addr & (kPageSize - 1)) || new_addr > as_.limit() ||
        new_len > as_.limit() - new_addr) {
      return -EINVAL;
    }
    if (new_addr < old_addr + old_len && old_addr < new_addr + new_len) return -EINVAL;
    target = new_addr;
  } else {
    auto found = as_.find_free(new_len, p_.mmap_top);
    if (!found) return -ENOMEM;
    target = *found;
  }
  // Move the contents: a private anonymous copy (shared file mappings lose sharing here).
  int r = as_.map_fixed(target, new_len, PROT_READ | PROT_WRITE);
  if (r < 0) return r;
  std::vector<int> old_prot(old_len / kPageSize);
  for (uint64_t i = 0; i < old_prot.size(); ++i) {
    old_prot[i] = as_.page_prot(old_addr + i * kPageSize) & 7;
  }
  as_.protect(old_addr, old_len, PROT_READ);
  std::memcpy(as_.host(target), as_.host(old_addr), std::min(old_len, new_len));
  as_.protect(target, new_len, prot);
  sys_munmap(old_addr, old_len);
  return static_cast<int64_t>(target);
}

int64_t Syscalls::sys_brk(uint64_t addr) {
  if (addr < p_.brk_start) return static_cast<int64_t>(p_.brk_cur);
  const uint64_t old_end = page_up(p_.brk_cur), new_end = page_up(addr);
  if (new_end > old_end) {
    if (new_end > p_.mmap_top || !as_.is_free(old_end, new_end - old_end)) {
      return static_cast<int64_t>(p_.brk_cur);
    }
    if (as_.map_fixed(old_end, new_end - old_end, PROT_READ | PROT_WRITE) < 0) {
      return static_cast<int64_t>(p_.brk_cur);
    }
  } else if (new_end < old_end) {
    if (as_.unmap(new_end, old_end - new_end) == 0) {
      p_.engine->invalidate_code(new_end, old_end - new_end);
    }
  }
  p_.brk_cur = addr;
  return static_cast<int64_t>(addr);
}

int64_t Syscalls::sys_futex(uint64_t uaddr, int op, uint32_t val, uint64_t timeout) {
  const int cmd = op & FUTEX_CMD_MASK;
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      const auto* word = static_cast<const uint32_t*>(in(uaddr, 4));
      if (!word) return -EFAULT;
      if (*word != val) return -EAGAIN;
      // One thread only: nobody can wake us, so wait for the timeout (or forever, as Linux
      // would).
      if (timeout != 0) {
        const auto* ts = static_cast<const timespec*>(in(timeout, sizeof(timespec)));
        if (!ts) return -EFAULT;
        const clockid_t clock = (op & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC;
        const int r =
            ::clock_nanosleep(clock, cmd == FUTEX_WAIT_BITSET ? TIMER_ABSTIME : 0, ts, nullptr);
        return r == 0 ? -ETIMEDOUT : -r;
      }
      // ...or a signal that interrupts (the run loop restarts the wait under SA_RESTART).
      for (;;) {
        ::pause();
        if (signal_interrupts(p_)) return -EINTR;
      }
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET:
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE:
    case FUTEX_WAKE_OP:
      return 0;
    default:
      return -ENOSYS;
  }
}

int64_t Syscalls::sys_rt_sigaction(int sig, uint64_t act, uint64_t oact, uint64_t size) {
  if (size != 8 || sig < 1 || sig > 64) return -EINVAL;
  // riscv64's kernel struct sigaction: handler, flags, mask (no sa_restorer).
  uint64_t* o = nullptr;
  const uint64_t* n = nullptr;
  if (oact && !(o = static_cast<uint64_t*>(out(oact, 24)))) return -EFAULT;
  if (act && !(n = static_cast<const uint64_t*>(in(act, 24)))) return -EFAULT;
  if (n && (sig == SIGKILL || sig == SIGSTOP)) return -EINVAL;
  const GuestSignals::Action old = p_.signals.actions[sig];
  if (n) set_guest_action(p_, sig, {n[0], n[1], n[2]});
  if (o) {
    o[0] = old.handler;
    o[1] = old.flags;
    o[2] = old.mask;
  }
  return 0;
}

int64_t Syscalls::sys_rt_sigprocmask(int how, uint64_t set, uint64_t oset, uint64_t size) {
  if (size != 8) return -EINVAL;
  uint64_t* o = nullptr;
  const uint64_t* n = nullptr;
  if (oset && !(o = static_cast<uint64_t*>(out(oset, 8)))) return -EFAULT;
  if (set && !(n = static_cast<const uint64_t*>(in(set, 8)))) return -EFAULT;
  const uint64_t old = p_.signals.blocked;
  if (n) {
    const uint64_t unblockable = (1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1));
    switch (how) {
      case SIG_BLOCK:
        p_.signals.blocked |= *n;
        break;
      case SIG_UNBLOCK:
        p_.signals.blocked &= ~*n;
        break;
      case SIG_SETMASK:
        p_.signals.blocked = *n;
        break;
      default:
        return -EINVAL;
    }
    p_.signals.blocked &= ~unblockable;
  }
  if (o) *o = old;
  return 0;
}

int64_t Syscalls::sys_kill_self(int sig, int code) {
  if (sig < 0 || sig > 64) return -EINVAL;
  if (sig == 0) return 0;
  send_signal_to_self(p_, sig, code);  // delivered when this call returns
  return 0;
}

int64_t Syscalls::sys_rt_sigtimedwait(uint64_t set_addr, uint64_t info_addr, uint64_t timeout,
                                      uint64_t size) {
  if (size != 8) return -EINVAL;
  const auto* set = static_cast<const uint64_t*>(in(set_addr, 8));
  bool bad = false;
  auto* info = opt<GuestSiginfo>(info_addr, Access::kWrite, bad);
  auto* ts = opt<timespec>(timeout, Access::kRead, bad);
  if (!set || bad) return -EFAULT;
  timespec left{};
  if (ts) {
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000) return -EINVAL;
    left = *ts;
  }
  GuestSiginfo got{};
  const int64_t r = sigtimedwait_guest(p_, *set, &got, ts ? &left : nullptr);
  if (r > 0 && info) *info = got;
  return r;
}

int64_t Syscalls::sys_sleep(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  // Signals the guest ignores interrupt the host sleep too: sleep on for the time left.
  timespec want = *req, left{};
  for (;;) {
    const int r = ::clock_nanosleep(clock, flags, &want, &left);
    if (r != EINTR) return -r;
    if (signal_interrupts(p_)) {
      if (rem && !(flags & TIMER_ABSTIME)) *rem = left;
      return -EINTR;
    }
    if (!(flags & TIMER_ABSTIME)) want = left;
  }
}

int64_t Syscalls::sys_readlinkat(int dirfd, uint64_t path_addr, uint64_t buf_addr, uint64_t size) {
  auto pth = str(path_addr);
  if (!pth) return -EFAULT;
  if (static_cast<int64_t>(size) <= 0) return -EINVAL;
  char* h = static_cast<char*>(out(buf_addr, size));
  if (!h) return -EFAULT;
  if (*pth == "/proc/self/exe" || *pth == fmt::format("/proc/{}/exe", ::getpid())) {
    const size_t n = std::min<size_t>(size, p_.exe_path.size());
    std::memcpy(h, p_.exe_path.data(), n);
    return static_cast<int64_t>(n);
  }
  return host_result(::readlinkat(dirfd, pth->c_str(), h, size));
}

int64_t Syscalls::dispatch(int nr, const uint64_t a[6]) {
  const int fd = static_cast<int>(a[0]);
  const int i1 = static_cast<int>(a[1]), i2 = static_cast<int>(a[2]), i3 = static_cast<int>(a[3]);
  switch (nr) {
    case kSys_getcwd: {
      void* h = out(a[0], a[1]);
      if (!h) return -EFAULT;
      return host_result(::syscall(SYS_getcwd, h, a[1]));
    }
    case kSys_dup:
      return host_result(::dup(fd));
    case kSys_dup3:
      return host_result(::dup3(fd, i1, i2));
    case kSys_fcntl:
      return sys_fcntl(fd, i1, a[2]);
    case kSys_ioctl:
      return sys_ioctl(fd, a[1], a[2]);
    case kSys_mknodat: {
      auto pth = path(a[1]);
      if (!pth) return -EFAULT;
      return host_result(::mknodat(fd, pth->c_str(), static_cast<mode_t>(a[2]), a[3]));
    }
    case kSys_mkdirat: {
      auto pth = path(a[1]);
      if (!pth) return -EFAULT;
      return host_result(::mkdirat(fd, pth->c_str(), static_cast<mode_t>(a[2])));
    }
    case kSys_unlinkat: {
      auto pth = path(a[1]);
      if (!pth) return -EFAULT;
      return host_result(::unlinkat(fd, pth->c_str(), i2));
    }
    case kSys_symlinkat: {
      auto target = str(a[0]), pth = path(a[2]);
      if (!target || !pth) return -EFAULT;
      return host_result(::symlinkat(target->c_str(), i1, pth->c_str()));
    }
    case kSys_linkat: {
      auto from = path(a[1]), to = path(a[3]);
      if (!from || !to) return -EFAULT;
      return host_result(::linkat(fd, from->c_str(), i2, to->c_str(), static_cast<int>(a[4])));
    }
    case kSys_renameat2: {
      auto from = path(a[1]), to = path(a[3]);
      if (!from || !to) return -EFAULT;
      return host_result(::syscall(SYS_renameat2, fd, from->c_str(), i2, to->c_str(), a[4]));
    }
    case kSys_statfs: {
      auto pth = path(a[0]);
      void* h = out(a[1], 120);  // struct statfs: same 120-byte layout on both ABIs
      if (!pth || !h) return -EFAULT;
      return host_result(::syscall(SYS_statfs, pth->c_str(), h));
    }
    case kSys_fstatfs: {
      void* h = out(a[1], 120);
      if (!h) return -EFAULT;
      return host_result(::syscall(SYS_fstatfs, fd, h));
    }
    case kSys_ftruncate:
      return host_result(::ftruncate(fd, static_cast<off_t>(a[1])));
    case kSys_fallocate:
      return host_result(::fallocate(fd, i1, static_cast<off_t>(a[2]), static_cast<off_t>(a[3])));
    case kSys_faccessat:
    case kSys_faccessat2: {
      auto pth = path(a[1]);
      if (!pth) return -EFAULT;
      return host_result(
          ::syscall(SYS_faccessat2, fd, pth->c_str(), i2, nr == kSys_faccessat2 ? i3 : 0));
    }
    case kSys_chdir: {
      auto pth = path(a[0]);
      if (!pth) return -EFAULT;
      return host_result(::chdir(pth->c_str()));
    }
    case kSys_fchdir:
      return host_result(::fchdir(fd));
    case kSys_fchmod:
      return host_result(::fchmod(fd, static_cast<mode_t>(a[1])));
    case kSys_fchmodat: {
      auto pth = path(a[1]);
      if (!pth) return -EFAULT;
      return host_result(::syscall(SYS_fchmodat, fd, pth->c_str(), a[2]));
    }
    case kSys_fchownat: {
      auto pth = path(a[1]);
      if (!pth) return -EFAULT;
      return host_result(::fchownat(fd, pth->c_str(), static_cast<uid_t>(a[2]),
                                    static_cast<gid_t>(a[3]), static_cast<int>(a[4])));
    }
    case kSys_fchown:
      return host_result(::fchown(fd, static_cast<uid_t>(a[1]), static_cast<gid_t>(a[2])));
    case kSys_openat: {
      auto pth = path(a[1]);
      if (!pth) return -EFAULT;
      // riscv64 and x86-64 share the generic O_* flag values.
      return host_result(::syscall(SYS_openat, fd, pth->c_str(), a[2], a[3]));
    }
    case kSys_close:
      return host_result(::close(fd));
    case kSys_pipe2: {
      void* h = out(a[0], 8);
      if (!h) return -EFAULT;
      return host_result(::pipe2(static_cast<int*>(h), i1));
    }
    case kSys_getdents64: {
      void* h = out(a[1], a[2]);
      if (!h) return -EFAULT;
      return host_result(::syscall(SYS_getdents64, fd, h, a[2]));
    }
    case kSys_lseek:
      return host_result(::lseek(fd, static_cast<off_t>(a[1]), i2));
    case kSys_read: {
      void* h = out(a[1], a[2]);
      if (!h) return -EFAULT;
      return host_result(::read(fd, h, a[2]));
    }
    case kSys_write: {
      const void* h = in(a[1], a[2]);
      if (!h) return -EFAULT;
      return host_result(::write(fd, h, a[2]));
    }
    case kSys_readv:
      return sys_iov(false, fd, a[1], a[2]);
    case kSys_writev:
      return sys_iov(true, fd, a[1], a[2]);
    case kSys_pread64: {
      void* h = out(a[1], a[2]);
      if (!h) return -EFAULT;
      return host_result(::pread(fd, h, a[2], static_cast<off_t>(a[3])));
    }
    case kSys_pwrite64: {
      const void* h = in(a[1], a[2]);
      if (!h) return -EFAULT;
      return host_result(::pwrite(fd, h, a[2], static_cast<off_t>(a[3])));
    }
    case kSys_sendfile: {
      bool bad = false;
      auto* off = opt<off_t>(a[2], Access::kWrite, bad);
      if (bad) return -EFAULT;
      return host_result(::syscall(SYS_sendfile, fd, i1, off, a[3]));
    }
    case kSys_ppoll: {
      void* fds = out(a[0], a[1] * 8);  // struct pollfd: 8 bytes on both
      bool bad = false;
      auto* ts = opt<timespec>(a[2], Access::kRead, bad);
      auto* mask = opt<uint64_t>(a[3], Access::kRead, bad);
      if (!fds || bad) return -EFAULT;
      return host_result(::syscall(SYS_ppoll, fds, a[1], ts, mask, mask ? 8 : 0));
    }
    case kSys_readlinkat:
      return sys_readlinkat(fd, a[1], a[2], a[3]);
    case kSys_newfstatat:
      return sys_stat_at(fd, a[1], a[2], i3);
    case kSys_fstat: {
      void* o = out(a[1], sizeof(GuestStat));
      if (!o) return -EFAULT;
      struct stat st;
      if (::fstat(fd, &st) != 0) return -errno;
      const GuestStat g = to_guest(st);
      std::memcpy(o, &g, sizeof g);
      return 0;
    }
    case kSys_statx: {
      auto pth = path(a[1]);
      void* h = out(a[4], 256);  // struct statx is arch-independent
      if (!pth || !h) return -EFAULT;
      return host_result(::syscall(SYS_statx, fd, pth->c_str(), a[2], a[3], h));
    }
    case kSys_fsync:
      return host_result(::fsync(fd));
    case kSys_fdatasync:
      return host_result(::fdatasync(fd));
    case kSys_utimensat: {
      bool bad = false;
      auto* times = opt<timespec[2]>(a[2], Access::kRead, bad);
      std::optional<std::string> pth;
      if (a[1] && !(pth = path(a[1]))) return -EFAULT;
      if (bad) return -EFAULT;
      return host_result(::syscall(SYS_utimensat, fd, pth ? pth->c_str() : nullptr, times, a[3]));
    }
    case kSys_exit:
    case kSys_exit_group:
      exit_process(static_cast<int>(a[0] & 0xff));
    case kSys_set_tid_address:
      return host_result(::syscall(SYS_gettid));
    case kSys_futex:
      return sys_futex(a[0], i1, static_cast<uint32_t>(a[2]), a[3]);
    case kSys_set_robust_list:
      return -ENOSYS;  // as QEMU; glibc copes
    case kSys_nanosleep: {
      const void* req = in(a[0], sizeof(timespec));
      bool bad = false;
      auto* rem = opt<timespec>(a[1], Access::kWrite, bad);
      if (!req || bad) return -EFAULT;
      return sys_sleep(CLOCK_MONOTONIC, 0, static_cast<const timespec*>(req), rem);
    }
    case kSys_clock_gettime:
    case kSys_clock_getres: {
      bool bad = false;
      auto* ts = opt<timespec>(a[1], Access::kWrite, bad);
      if (bad || (nr == kSys_clock_gettime && !ts)) return -EFAULT;
      return host_result(nr == kSys_clock_gettime ? ::syscall(SYS_clock_gettime, fd, ts)
                                                  : ::syscall(SYS_clock_getres, fd, ts));
    }
    case kSys_clock_nanosleep: {
      const void* req = in(a[2], sizeof(timespec));
      bool bad = false;
      auto* rem = opt<timespec>(a[3], Access::kWrite, bad);
      if (!req || bad) return -EFAULT;
      return sys_sleep(fd, i1, static_cast<const timespec*>(req), rem);
    }
    case kSys_sched_setaffinity:
    case kSys_sched_getaffinity: {
      void* h = buf(a[2], a[1], nr == kSys_sched_getaffinity ? Access::kWrite : Access::kRead);
      if (!h) return -EFAULT;
      return host_result(
          ::syscall(nr == kSys_sched_getaffinity ? SYS_sched_getaffinity : SYS_sched_setaffinity,
                    fd, a[1], h));
    }
    case kSys_sched_yield:
      return host_result(::sched_yield());
    case kSys_kill:
      if (fd == ::getpid() || fd == 0) return sys_kill_self(i1, SI_USER);
      return host_result(::kill(fd, i1));
    case kSys_tkill:
      if (fd == ::syscall(SYS_gettid)) return sys_kill_self(i1, SI_TKILL);
      return -ESRCH;
    case kSys_tgkill:
      if (fd == ::getpid() && i1 == ::syscall(SYS_gettid)) return sys_kill_self(i2, SI_TKILL);
      return -ESRCH;
    case kSys_sigaltstack: {
      bool bad = false;
      auto* ss = opt<GuestStack>(a[0], Access::kRead, bad);
      auto* old = opt<GuestStack>(a[1], Access::kWrite, bad);
      if (bad) return -EFAULT;
      GuestStack new_ss{}, old_ss{};
      if (ss) std::memcpy(&new_ss, ss, sizeof new_ss);
      const int64_t r =
          sigaltstack_guest(p_, ss ? &new_ss : nullptr, old ? &old_ss : nullptr, p_.cpu->x[2]);
      if (old) std::memcpy(old, &old_ss, sizeof old_ss);
      return r;
    }
    case kSys_rt_sigsuspend: {
      if (a[1] != 8) return -EINVAL;
      const auto* mask = static_cast<const uint64_t*>(in(a[0], 8));
      if (!mask) return -EFAULT;
      return sigsuspend_guest(p_, *mask);
    }
    case kSys_rt_sigpending: {
      if (a[1] > 8) return -EINVAL;
      void* h = out(a[0], a[1]);
      if (!h) return -EFAULT;
      signal_interrupts(p_);  // collects host signals that arrived
      const uint64_t set = p_.signals.pending & p_.signals.blocked;
      std::memcpy(h, &set, a[1]);
      return 0;
    }
    case kSys_rt_sigtimedwait:
      return sys_rt_sigtimedwait(a[0], a[1], a[2], a[3]);
    case kSys_getitimer: {
      void* h = out(a[1], 32);  // struct itimerval: two struct timeval, same on both ABIs
      if (!h) return -EFAULT;
      return host_result(::syscall(SYS_getitimer, fd, h));
    }
    case kSys_setitimer: {
      const void* n = in(a[1], 32);
      bool bad = false;
      auto* o = opt<uint64_t[4]>(a[2], Access::kWrite, bad);
      if (!n || bad) return -EFAULT;
      return host_result(::syscall(SYS_setitimer, fd, n, o));
    }
    case kSys_rt_sigaction:
      return sys_rt_sigaction(fd, a[1], a[2], a[3]);
    case kSys_rt_sigprocmask:
      return sys_rt_sigprocmask(fd, a[1], a[2], a[3]);
    case kSys_rt_sigreturn:
      do_rt_sigreturn(p_);  // normally the run loop calls it, as it must not write a0
      return static_cast<int64_t>(p_.cpu->x[10]);
    case kSys_times: {
      bool bad = false;
      auto* t = opt<uint64_t[4]>(a[0], Access::kWrite, bad);  // struct tms: 4 longs
      if (bad) return -EFAULT;
      return host_result(::syscall(SYS_times, t));
    }
    case kSys_setpgid:
      return host_result(::setpgid(fd, i1));
    case kSys_getpgid:
      return host_result(::getpgid(fd));
    case kSys_setsid:
      return host_result(::setsid());
    case kSys_uname: {
      auto* u = static_cast<struct utsname*>(out(a[0], sizeof(struct utsname)));
      if (!u) return -EFAULT;
      if (::uname(u) != 0) return -errno;
      std::snprintf(u->machine, sizeof u->machine, "riscv64");
      return 0;
    }
    case kSys_getrlimit:
    case kSys_setrlimit: {
      void* h = buf(a[1], 16, nr == kSys_getrlimit ? Access::kWrite : Access::kRead);
      if (!h) return -EFAULT;
      return host_result(nr == kSys_getrlimit ? ::syscall(SYS_prlimit64, 0, fd, nullptr, h)
                                              : ::syscall(SYS_prlimit64, 0, fd, h, nullptr));
    }
    case kSys_prlimit64: {
      bool bad = false;
      auto* n = opt<uint64_t[2]>(a[2], Access::kRead, bad);
      auto* o = opt<uint64_t[2]>(a[3], Access::kWrite, bad);
      if (bad) return -EFAULT;
      return host_result(::syscall(SYS_prlimit64, fd, i1, n, o));
    }
    case kSys_getrusage: {
      void* h = out(a[1], sizeof(struct rusage));  // same layout on both 64-bit ABIs
      if (!h) return -EFAULT;
      return host_result(::syscall(SYS_getrusage, fd, h));
    }
    case kSys_umask:
      return ::umask(static_cast<mode_t>(a[0]));
    case kSys_prctl:
      if (fd == 15 || fd == 16) {  // PR_SET_NAME / PR_GET_NAME: 16-byte buffer
        void* h = buf(a[1], 16, fd == 16 ? Access::kWrite : Access::kRead);
        if (!h) return -EFAULT;
        return host_result(::syscall(SYS_prctl, fd, h, 0, 0, 0));
      }
      return -EINVAL;
    case kSys_gettimeofday: {
      bool bad = false;
      auto* tv = opt<uint64_t[2]>(a[0], Access::kWrite, bad);
      auto* tz = opt<uint32_t[2]>(a[1], Access::kWrite, bad);
      if (bad) return -EFAULT;
      return host_result(::syscall(SYS_gettimeofday, tv, tz));
    }
    case kSys_getpid:
      return ::getpid();
    case kSys_getppid:
      return ::getppid();
    case kSys_getuid:
      return ::getuid();
    case kSys_geteuid:
      return ::geteuid();
    case kSys_getgid:
      return ::getgid();
    case kSys_getegid:
      return ::getegid();
    case kSys_gettid:
      return ::syscall(SYS_gettid);
    case kSys_sysinfo: {
      void* h = out(a[0], 112);  // struct sysinfo: same 112-byte layout
      if (!h) return -EFAULT;
      return host_result(::syscall(SYS_sysinfo, h));
    }
    case kSys_brk:
      return sys_brk(a[0]);
    case kSys_munmap:
      return sys_munmap(a[0], a[1]);
    case kSys_mremap:
      return sys_mremap(a[0], a[1], a[2], static_cast<int>(a[3]), a[4]);
    case kSys_mmap:
      return sys_mmap(a[0], a[1], i2, i3, static_cast<int>(a[4]), a[5]);
    case kSys_mprotect:
      return sys_mprotect(a[0], a[1], i2);
    case kSys_msync: {
      if (!as_.is_mapped(page_down(a[0]), page_up(a[0] + a[1]) - page_down(a[0]))) return -ENOMEM;
      return host_result(::msync(as_.host(a[0]), a[1], i2));
    }
    case kSys_madvise: {
      if (a[0] & (kPageSize - 1)) return -EINVAL;
      const uint64_t len = page_up(a[1]);
      if (i2 == MADV_DONTNEED) {
        // Observable: private anonymous pages read back as zero afterwards.
        if (!as_.is_mapped(a[0], len)) return -ENOMEM;
        const int64_t r = host_result(::madvise(as_.host(a[0]), len, MADV_DONTNEED));
        if (r == 0) p_.engine->invalidate_code(a[0], len);  // code there is gone too
        return r;
      }
      return 0;  // advice only
    }
    case kSys_riscv_hwprobe:
      return -ENOSYS;
    case kSys_riscv_flush_icache:
      p_.engine->invalidate_code(0, UINT64_MAX);
      return 0;
    case kSys_getrandom: {
      void* h = out(a[0], a[1]);
      if (!h) return -EFAULT;
      return host_result(::syscall(SYS_getrandom, h, a[1], a[2]));
    }
    case kSys_rseq:
      return -ENOSYS;  // as QEMU; glibc then runs without rseq
    default:
      fmt::print(stderr, "tandem: unsupported syscall {}\n", nr);
      return -ENOSYS;
  }
}

void print_args(FILE* log, AddressSpace& as, const SyscallInfo* info, const uint64_t a[6]) {
  for (int i = 0; info->args[i]; ++i) {
    if (i) fmt::print(log, ",");
    switch (info->args[i]) {
      case 'd':
        fmt::print(log, "{}", static_cast<int64_t>(a[i]));
        break;
      case 'o':
        fmt::print(log, "0{:o}", a[i]);
        break;
      case 's': {
        std::string s;
        bool ok = false;
        for (int k = 0; k < 64; ++k) {
          const uint8_t* c = as.translate(a[i] + k, 1, riscv::Access::kRead);
          if (!c) break;
          if (*c == 0) {
            ok = true;
            break;
          }
          s.push_back(static_cast<char>(*c));
        }
        if (ok) {
          fmt::print(log, "\"{}\"", s);
        } else {
          fmt::print(log, "0x{:x}", a[i]);
        }
        break;
      }
      default:
        fmt::print(log, "0x{:x}", a[i]);
        break;
    }
  }
}

}  // namespace

void do_syscall(UserProcess& p) {
  riscv::CpuState& cpu = *p.cpu;
  const int nr = static_cast<int>(cpu.x[17]);
  const uint64_t args[6] = {cpu.x[10], cpu.x[11], cpu.x[12], cpu.x[13], cpu.x[14], cpu.x[15]};
  const SyscallInfo* info = syscall_info(nr);
  if (p.strace) {
    if (info) {
      fmt::print(p.log, "{} {}(", ::getpid(), info->name);
      print_args(p.log, *p.as, info, args);
      fmt::print(p.log, ")");
    } else {
      fmt::print(p.log, "{} syscall_{}(0x{:x},0x{:x},0x{:x},...)", ::getpid(), nr, args[0], args[1],
                 args[2]);
    }
    if (nr == kSys_exit || nr == kSys_exit_group) fmt::print(p.log, "\n");
    std::fflush(p.log);
  }
  Syscalls sys(p);
  const int64_t ret = sys.dispatch(nr, args);
  if (p.strace) {
    if (ret < 0 && ret >= -4095) {
      fmt::print(p.log, " = -1 errno={} ({})\n", -ret, std::strerror(static_cast<int>(-ret)));
    } else if (info && (nr == kSys_mmap || nr == kSys_brk || nr == kSys_mremap)) {
      fmt::print(p.log, " = 0x{:x}\n", ret);
    } else {
      fmt::print(p.log, " = {}\n", ret);
    }
    std::fflush(p.log);
  }
  cpu.x[10] = static_cast<uint64_t>(ret);
}

}  // namespace tandem::user
