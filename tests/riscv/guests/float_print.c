// Floating point through libc and libm: printf/strtod round trips, math functions, rounding
// modes via fesetround, exception flags via fetestexcept.
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static volatile double vd(double x) { return x; }

int main(void) {
  printf("%.17g %.9g %a\n", 0.1, 0.1f, 1.0 / 3);
  printf("%f %e %g %g\n", M_PI, 6.02214076e23, 1e-300 * 1e-300, -0.0);
  printf("%g %g %g\n", 1.0 / vd(0.0), -1.0 / vd(0.0), sqrt(vd(-1.0)));
  printf("sqrt2=%.17g exp1=%.17g log10=%.17g\n", sqrt(vd(2)), exp(vd(1)), log(vd(10)));
  printf("sin=%.17g cos=%.17g atan2=%.17g pow=%.17g\n", sin(vd(1)), cos(vd(1)), atan2(vd(1), vd(2)),
         pow(vd(2.5), vd(3.5)));
  printf("strtod=%.17g %.17g\n", strtod("2.2250738585072014e-308", NULL), strtod("0x1.8p1", NULL));
  printf("DBL_MIN=%g DBL_MAX=%g FLT_EPSILON=%g denorm=%g\n", DBL_MIN, DBL_MAX, FLT_EPSILON,
         DBL_MIN / vd(1 << 20));
  const int modes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
  const char* names[] = {"nearest", "zero", "down", "up"};
  for (int i = 0; i < 4; ++i) {
    fesetround(modes[i]);
    printf("%-8s rint(2.5)=%g rint(-2.5)=%g 1/3=%.17g -1/3=%.17g f=%.9g\n", names[i],
           rint(vd(2.5)), rint(vd(-2.5)), vd(1) / vd(3), vd(-1) / vd(3),
           (double)((float)vd(1) / (float)vd(3)));
  }
  fesetround(FE_TONEAREST);
  feclearexcept(FE_ALL_EXCEPT);
  volatile double r = vd(1) / vd(0);
  printf("divbyzero=%d ", !!fetestexcept(FE_DIVBYZERO));
  feclearexcept(FE_ALL_EXCEPT);
  r = vd(1) / vd(3);
  printf("inexact=%d ", !!fetestexcept(FE_INEXACT));
  feclearexcept(FE_ALL_EXCEPT);
  r = vd(DBL_MAX) * vd(2);
  printf("overflow=%d ", !!fetestexcept(FE_OVERFLOW));
  feclearexcept(FE_ALL_EXCEPT);
  r = vd(DBL_MIN) / vd(3);
  printf("underflow=%d ", !!fetestexcept(FE_UNDERFLOW));
  feclearexcept(FE_ALL_EXCEPT);
  r = vd(0) / vd(0);
  printf("invalid=%d\n", !!fetestexcept(FE_INVALID));
  (void)r;
  long double ld = 1.0L / 3;  // software quad on riscv64
  printf("long double=%.30Lg\n", ld);
  float fs[5] = {3.5f, -1.25f, 1e30f, 1e-40f, NAN};
  for (int i = 0; i < 5; ++i) printf("%g(%d) ", fs[i], (int)fs[i]);
  printf("\n");
  return 0;
}
