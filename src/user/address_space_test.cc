#include "user/address_space.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "base/error.h"

namespace tandem::user {
namespace {

using riscv::Access;

TEST(AddressSpace, MapTranslateProtectUnmap) {
  AddressSpace as(32);
  EXPECT_EQ(as.limit(), 1ull << 32);
  EXPECT_EQ(as.translate(0x10000, 8, Access::kRead), nullptr);
  ASSERT_EQ(as.map_fixed(0x10000, 0x3000, PROT_READ | PROT_WRITE), 0);
  uint8_t* p = as.translate(0x10ffc, 8, Access::kWrite);  // straddles two mapped pages
  ASSERT_EQ(p, as.host(0x10ffc));
  p[0] = 0x5a;                                                  // host memory really is writable
  EXPECT_EQ(as.translate(0x12ffc, 8, Access::kRead), nullptr);  // runs off the end
  EXPECT_EQ(as.translate(0x10000, 4, Access::kExec), nullptr);  // not executable
  ASSERT_EQ(as.protect(0x11000, 0x1000, PROT_READ | PROT_EXEC), 0);
  EXPECT_NE(as.translate(0x11000, 4, Access::kExec), nullptr);
  EXPECT_EQ(as.translate(0x11000, 4, Access::kWrite), nullptr);
  EXPECT_EQ(as.translate(0x10000, 4, Access::kWrite), as.host(0x10000));
  EXPECT_EQ(as.protect(0x12000, 0x2000, PROT_READ), -ENOMEM);  // partly unmapped
  EXPECT_TRUE(as.is_mapped(0x10000, 0x3000));
  ASSERT_EQ(as.unmap(0x11000, 0x1000), 0);
  EXPECT_FALSE(as.is_mapped(0x10000, 0x3000));
  EXPECT_TRUE(as.is_free(0x11000, 0x1000));
  EXPECT_EQ(as.translate(0x11000, 1, Access::kRead), nullptr);
  EXPECT_EQ(as.page_prot(0x12000), PROT_READ | PROT_WRITE | AddressSpace::kMapped);
  // Remapping gives zeroed memory.
  ASSERT_EQ(as.map_fixed(0x10000, 0x1000, PROT_READ), 0);
  EXPECT_EQ(*as.translate(0x10ffc, 1, Access::kRead), 0);
  // Out of the window / unaligned.
  EXPECT_EQ(as.map_fixed(as.limit() - 0x1000, 0x2000, PROT_READ), -EINVAL);
  EXPECT_EQ(as.map_fixed(0x10001, 0x1000, PROT_READ), -EINVAL);
  EXPECT_EQ(as.translate(as.limit() - 2, 4, Access::kRead), nullptr);
  EXPECT_EQ(as.translate(~0ull - 1, 4, Access::kRead), nullptr);
}

// In a normal process the window sits at host address 0, so guest addresses are host
// addresses (generated code then needs no base register); a second window, or one asked not
// to, goes elsewhere. Under ASan the range at 0 holds its shadow memory: nothing to check.
TEST(AddressSpace, PlacedAtHostAddressZeroWhenFree) {
  AddressSpace a(32);
  if (a.base() != nullptr) GTEST_SKIP() << "host addresses from 0 are taken (ASan's shadow?)";
  EXPECT_EQ(a.lowest_mappable(), 0x10000u);
  EXPECT_EQ(a.map_fixed(0, 0x1000, PROT_READ), -EPERM);  // below mmap_min_addr, as on Linux
  EXPECT_FALSE(a.is_free(0x1000, 0x1000));
  EXPECT_EQ(a.find_free(0x1000, 0x11000, 0), 0x10000u);  // never below mmap_min_addr
  EXPECT_FALSE(a.find_free(0x2000, 0x11000, 0).has_value());
  ASSERT_EQ(a.map_fixed(0x10000, 0x1000, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(a.host(0x10008), reinterpret_cast<uint8_t*>(0x10008));
  EXPECT_EQ(a.translate(0x10008, 8, Access::kWrite), reinterpret_cast<uint8_t*>(0x10008));
  *reinterpret_cast<volatile uint64_t*>(0x10008) = 42;  // really host memory at that address
  uint64_t v = 0;
  a.read_bytes(0x10008, &v, 8);
  EXPECT_EQ(v, 42u);
  EXPECT_EQ(a.guest_address_of(reinterpret_cast<void*>(0x10008)), 0x10008u);
  EXPECT_EQ(a.unmap(0, 0x11000), 0);  // the part below mmap_min_addr is never mapped
  EXPECT_FALSE(a.is_mapped(0x10000, 0x1000));

  AddressSpace b(32);
  EXPECT_NE(b.base(), nullptr);
  ASSERT_EQ(b.map_fixed(0x10000, 0x1000, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(b.host(0x10000), b.base() + 0x10000);
  AddressSpace c(32, /*at_zero=*/false);
  EXPECT_NE(c.base(), nullptr);
  EXPECT_EQ(c.lowest_mappable(), 0u);
}

TEST(AddressSpace, GuestAddressOfHostPointer) {
  AddressSpace as(32);
  EXPECT_EQ(as.guest_address_of(as.host(0x1234)), 0x1234u);
  EXPECT_FALSE(as.guest_address_of(as.host(as.limit())).has_value());
  int local = 0;
  EXPECT_FALSE(as.guest_address_of(&local).has_value());
}

TEST(AddressSpace, FindFreeTopDown) {
  AddressSpace as(32);
  const uint64_t top = 0x100000;
  EXPECT_EQ(as.find_free(0x2000, top), top - 0x2000);
  ASSERT_EQ(as.map_fixed(top - 0x3000, 0x3000, PROT_READ), 0);
  EXPECT_EQ(as.find_free(0x2000, top), top - 0x5000);
  ASSERT_EQ(as.map_fixed(top - 0x8000, 0x2000, PROT_READ), 0);  // leaves a 0x3000 hole
  EXPECT_EQ(as.find_free(0x3000, top), top - 0x6000);
  EXPECT_EQ(as.find_free(0x4000, top), top - 0xc000);
  EXPECT_FALSE(as.find_free(0x100000, top).has_value());
}

TEST(AddressSpace, CopyHelpers) {
  AddressSpace as(32);
  ASSERT_EQ(as.map_fixed(0x20000, 0x1000, PROT_READ | PROT_WRITE), 0);
  as.write_bytes(0x20010, "abc", 4);
  char buf[4];
  as.read_bytes(0x20010, buf, 4);
  EXPECT_STREQ(buf, "abc");
  EXPECT_THROW(as.write_bytes(0x20ffe, "abc", 4), Error);
}

}  // namespace
}  // namespace tandem::user
