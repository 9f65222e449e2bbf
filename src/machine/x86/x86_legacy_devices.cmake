# tandem_x86_devices: the PC's legacy ISA devices (x86_legacy_devices.h). Included from
# src/CMakeLists.txt so that it does not depend on how the x86 machine's folder is built.
add_library(tandem_x86_devices STATIC ${CMAKE_CURRENT_LIST_DIR}/x86_legacy_devices.cc)
target_link_libraries(tandem_x86_devices PUBLIC
  tandem_uart16550 tandem_char tandem_i8042 tandem_cmos_rtc tandem_debug_exit tandem_hw_core
  tandem_base)

tandem_test(NAME x86_legacy_devices_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/x86_legacy_devices_test.cc
  LIBS tandem_x86_devices)
