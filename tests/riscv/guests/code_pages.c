// Guest memory that holds code which already ran, written behind the translator's back:
//  - by the kernel during system calls (read, readv, pread, clock_gettime, fstat into a page
//    whose code was translated — the host kernel must not answer EFAULT);
//  - after mprotect, munmap + mmap and madvise(MADV_DONTNEED) of a code page (the old
//    translations must not survive).
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef long (*Fn)(void);

// li a0, value; ret
static void put_return(uint32_t* code, int value) {
  code[0] = ((uint32_t)value << 20) | (10u << 7) | 0x13u;
  code[1] = 0x00008067u;
}

static void fence_i(void) {
  __asm__ volatile("fence.i" ::: "memory");
}

static long call(void* code) {
  return ((Fn)code)();
}

static void* new_code_page(void) {
  void* p =
      mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    _exit(1);
  }
  return p;
}

static void check(const char* what, long r) {
  if (r < 0) printf("%s: failed: %s\n", what, strerror(errno));
}

static void syscalls_into_code_page(void) {
  uint8_t* page = new_code_page();
  put_return((uint32_t*)page, 1);
  fence_i();
  long first = call(page);

  // read(): new machine code from a pipe over the function that just ran.
  int fds[2];
  check("pipe", pipe(fds));
  uint32_t code[2];
  put_return(code, 2);
  check("write", write(fds[1], code, sizeof code));
  long n = read(fds[0], page, sizeof code);
  check("read", n);
  fence_i();
  long second = call(page);
  printf("read: %ld bytes, before %ld after %ld\n", n, first, second);

  // readv() and pread() into the same page, again replacing the code.
  put_return(code, 3);
  check("write", write(fds[1], code, sizeof code));
  struct iovec iov = {page, sizeof code};
  n = readv(fds[0], &iov, 1);
  check("readv", n);
  fence_i();
  printf("readv: %ld bytes, now %ld\n", n, call(page));

  FILE* f = tmpfile();
  put_return(code, 4);
  fwrite(code, 1, sizeof code, f);
  fflush(f);
  n = pread(fileno(f), page, sizeof code, 0);
  check("pread", n);
  fence_i();
  printf("pread: %ld bytes, now %ld\n", n, call(page));

  // Structures the kernel fills in, on a page whose code keeps running.
  struct timespec* ts = (struct timespec*)(page + 1024);
  int r = clock_gettime(CLOCK_MONOTONIC, ts);
  check("clock_gettime", r);
  printf("clock_gettime: %d, code still %ld\n", r, call(page));
  struct stat* st = (struct stat*)(page + 2048);
  r = fstat(fileno(f), st);
  check("fstat", r);
  printf("fstat: %d, size %lld, code still %ld\n", r, (long long)st->st_size, call(page));
  fclose(f);
  close(fds[0]);
  close(fds[1]);
  munmap(page, 4096);
}

// No fence.i below on purpose: an emulator that translates code must notice these changes of
// the mapping itself (QEMU does), since the page's write protection is gone or stale.
static void mapping_changes(void) {
  uint8_t* page = new_code_page();
  put_return((uint32_t*)page, 5);
  fence_i();
  long before = call(page);
  mprotect(page, 4096, PROT_READ | PROT_EXEC);
  mprotect(page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
  put_return((uint32_t*)page, 6);
  printf("mprotect: before %ld after %ld\n", before, call(page));

  munmap(page, 4096);
  uint8_t* again = mmap(page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (again != page) {
    perror("mmap fixed");
    _exit(1);
  }
  put_return((uint32_t*)page, 7);
  printf("munmap + mmap: now %ld\n", call(page));

  madvise(page, 4096, MADV_DONTNEED);
  uint32_t first_word;
  memcpy(&first_word, page, 4);
  printf("madvise: first word %u\n", first_word);
  put_return((uint32_t*)page, 8);
  printf("madvise + rewrite: now %ld\n", call(page));
  munmap(page, 4096);
}

int main(void) {
  syscalls_into_code_page();
  mapping_changes();
  return 0;
}
