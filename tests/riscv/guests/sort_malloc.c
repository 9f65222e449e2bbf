// Allocation-heavy work: qsort of strings, a hash table, big realloc (mremap), printf formats.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 88172645463325252ull;
static uint64_t next(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

static int cmp_str(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}
static int cmp_int(const void* a, const void* b) {
  long x = *(const long*)a, y = *(const long*)b;
  return (x > y) - (x < y);
}

struct node {
  char* key;
  int count;
  struct node* next;
};

int main(void) {
  enum { N = 20000 };
  char** words = malloc(N * sizeof *words);
  for (int i = 0; i < N; ++i) {
    int len = 3 + next() % 10;
    words[i] = malloc(len + 1);
    for (int k = 0; k < len; ++k) words[i][k] = 'a' + next() % 6;
    words[i][len] = 0;
  }
  qsort(words, N, sizeof *words, cmp_str);
  printf("first=%s last=%s mid=%s\n", words[0], words[N - 1], words[N / 2]);
  struct node* table[1024] = {0};
  int distinct = 0;
  for (int i = 0; i < N; ++i) {
    unsigned h = 5381;
    for (char* c = words[i]; *c; ++c) h = h * 33 + *c;
    struct node** slot = &table[h % 1024];
    while (*slot && strcmp((*slot)->key, words[i])) slot = &(*slot)->next;
    if (!*slot) {
      *slot = calloc(1, sizeof **slot);
      (*slot)->key = strdup(words[i]);
      ++distinct;
    }
    (*slot)->count++;
  }
  printf("distinct=%d\n", distinct);
  for (int i = 0; i < N; ++i) free(words[i]);
  free(words);
  // A growing array: realloc through sizes that glibc serves with mmap/mremap.
  long* v = NULL;
  size_t n = 0;
  for (size_t cap = 1024; cap <= (1u << 17); cap *= 2) {
    v = realloc(v, cap * sizeof *v);
    for (; n < cap; ++n) v[n] = (long)(next() % 1000000) - 500000;
  }
  qsort(v, n, sizeof *v, cmp_int);
  long long total = 0;
  for (size_t i = 0; i < n; ++i) total += v[i];
  printf("n=%zu min=%ld max=%ld total=%lld\n", n, v[0], v[n - 1], total);
  free(v);
  char buf[256];
  snprintf(buf, sizeof buf, "[%5d|%-5d|%05d|%x|%X|%o|%+d|%lu|%lld|%s|%c|%%]", 42, 42, 42, 255,
           255, 8, 7, 18446744073709551615ul, -9223372036854775807ll - 1, "str", 'z');
  printf("%s\n", buf);
  return 0;
}
