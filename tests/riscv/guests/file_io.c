// Files and directories: create, write, read, seek, stat, rename, list, unlink, cwd.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

int main(void) {
  char dir[] = "/tmp/tandem-fileio-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  if (chdir(dir) != 0) return 2;
  int fd = open("a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  printf("open fd>=3: %d\n", fd >= 3);
  const char msg[] = "0123456789abcdef\n";
  printf("write: %zd\n", write(fd, msg, strlen(msg)));
  close(fd);
  struct stat st;
  printf("stat: %d size=%lld mode=%o regular=%d\n", stat("a.txt", &st), (long long)st.st_size,
         st.st_mode & 0777, S_ISREG(st.st_mode));
  fd = open("a.txt", O_RDWR);
  char buf[64] = {0};
  printf("lseek: %lld\n", (long long)lseek(fd, 10, SEEK_SET));
  printf("read: %zd '%.6s'\n", read(fd, buf, 6), buf);
  printf("pread: %zd '%.3s'\n", pread(fd, buf, 3, 2), buf);
  printf("pwrite: %zd\n", pwrite(fd, "XY", 2, 0));
  printf("fstat size: %d %lld\n", fstat(fd, &st), (long long)st.st_size);
  printf("ftruncate: %d\n", ftruncate(fd, 4));
  lseek(fd, 0, SEEK_SET);
  memset(buf, 0, sizeof buf);
  printf("read after truncate: %zd '%s'\n", read(fd, buf, sizeof buf), buf);
  close(fd);
  FILE* f = fopen("b.txt", "w");
  for (int i = 0; i < 1000; ++i) fprintf(f, "line %d\n", i);
  fclose(f);
  f = fopen("b.txt", "r");
  char line[64];
  int lines = 0;
  long sum = 0;
  while (fgets(line, sizeof line, f)) {
    ++lines;
    sum += atoi(line + 5);
  }
  fclose(f);
  printf("lines=%d sum=%ld\n", lines, sum);
  printf("rename: %d\n", rename("b.txt", "c.txt"));
  printf("mkdir: %d\n", mkdir("sub", 0755));
  printf("open missing: %d errno=%s\n", open("nope", O_RDONLY), strerror(errno));
  DIR* d = opendir(".");
  char* names[16];
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) && n < 16) {
    if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof names[0], cmp);
  for (int i = 0; i < n; ++i) printf("entry %s\n", names[i]);
  char cwd[4096];
  printf("getcwd ends with dir: %d\n",
         getcwd(cwd, sizeof cwd) && strcmp(cwd + strlen(cwd) - 6, dir + strlen(dir) - 6) == 0);
  printf("access: %d %d\n", access("a.txt", R_OK), access("zzz", F_OK));
  printf("symlink: %d\n", symlink("a.txt", "link"));
  char target[64] = {0};
  printf("readlink: %zd %s\n", readlink("link", target, sizeof target - 1), target);
  printf("unlink: %d %d %d %d\n", unlink("a.txt"), unlink("c.txt"), unlink("link"),
         rmdir("sub"));
  printf("dup/pipe: ");
  int p[2];
  pipe(p);
  int p2 = dup(p[1]);
  write(p2, "pipe!", 5);
  memset(buf, 0, sizeof buf);
  read(p[0], buf, 5);
  printf("%s\n", buf);
  chdir("/");
  printf("rmdir: %d\n", rmdir(dir));
  return 0;
}
