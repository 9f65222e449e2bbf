/* Polled 16550 output, a printf subset (%d %i %u %x %X %p %s %c %% with 0, - and # flags, width,
 * and the l, ll and z length modifiers) and the isa-debug-exit port. */
#include "guest.h"

#define COM1 0x3f8

void serial_init(void) {
  outb(COM1 + 1, 0x00); /* IER: no interrupts */
  outb(COM1 + 3, 0x80); /* DLAB */
  outb(COM1 + 0, 0x01); /* 115200 baud */
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03); /* 8N1 */
  /* FCR is left alone: changing the FIFO mode clears the FIFOs, which would drop input that the
   * host sent before the guest started (the uart test pipes its input in at once). */
  outb(COM1 + 4, 0x03); /* DTR | RTS */
}

void serial_putc(char c) {
  if (c == '\n') serial_putc('\r');
  /* A 16550 that never becomes ready must not hang the test: give up after a while. */
  for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++) cpu_relax();
  outb(COM1, (uint8_t)c);
}

bool serial_can_read(void) {
  return inb(COM1 + 5) & 0x01;
}

void puts_raw(const char* s) {
  while (*s) serial_putc(*s++);
}

struct out {
  char* buf;
  size_t size, len;
};

static void emit(struct out* o, char c) {
  if (o->len + 1 < o->size) o->buf[o->len] = c;
  o->len++;
}

static void emit_num(struct out* o, uint64_t v, bool neg, int base, bool upper, int width,
                     bool zero, bool left, bool alt) {
  char tmp[24];
  int n = 0;
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while (v);
  /* The sign or "0x" goes before zero padding and after space padding. */
  const char* prefix = neg ? "-" : (alt && base == 16) ? "0x" : "";
  int len = n + (int)strlen(prefix);
  if (zero)
    for (const char* p = prefix; *p; p++) emit(o, *p);
  if (!left)
    for (; width > len; width--) emit(o, zero ? '0' : ' ');
  if (!zero)
    for (const char* p = prefix; *p; p++) emit(o, *p);
  while (n) emit(o, tmp[--n]);
  if (left)
    for (; width > len; width--) emit(o, ' ');
}

int vsnprintf(char* buf, size_t size, const char* fmt, va_list ap) {
  struct out o = {buf, size, 0};
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      emit(&o, *fmt);
      continue;
    }
    fmt++;
    bool zero = false, left = false, alt = false;
    for (;; fmt++) {
      if (*fmt == '0')
        zero = true;
      else if (*fmt == '-')
        left = true;
      else if (*fmt == '#')
        alt = true;
      else
        break;
    }
    int width = 0;
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    int longs = 0;
    while (*fmt == 'l' || *fmt == 'z') {
      longs++;
      fmt++;
    }
    switch (*fmt) {
      case 'd':
      case 'i': {
        int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
        emit_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, false, width, zero, left,
                 false);
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
        emit_num(&o, v, false, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, zero, left, alt);
        break;
      }
      case 'p':
        emit_num(&o, (uint64_t)va_arg(ap, void*), false, 16, false, width, zero, left, true);
        break;
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        int len = (int)strlen(s);
        if (!left)
          for (; width > len; width--) emit(&o, ' ');
        while (*s) emit(&o, *s++);
        if (left)
          for (; width > len; width--) emit(&o, ' ');
        break;
      }
      case 'c':
        emit(&o, (char)va_arg(ap, int));
        break;
      case '%':
        emit(&o, '%');
        break;
      case '\0':
        fmt--;
        break;
      default:
        emit(&o, '%');
        emit(&o, *fmt);
    }
  }
  if (size) buf[o.len < size ? o.len : size - 1] = '\0';
  return (int)o.len;
}

int snprintf(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

int printf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  puts_raw(buf);
  return n;
}

void debug_exit(uint32_t code) {
  outl(DEBUG_EXIT_PORT, code);
  /* Without a debug-exit device the write is ignored: stop here rather than run on. */
  for (;;) {
    if (current_cpl() == 0) {
      __asm__ volatile("cli; hlt");
    } else {
      cpu_relax();
    }
  }
}

void panic(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  printf("PANIC: %s\n", buf);
  debug_exit(EXIT_PANIC);
}
