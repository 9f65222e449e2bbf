# Third-party libraries, all from Debian packages (scripts/install-deps.sh installs them).
# The README says why each one is here.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(GTest REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(benchmark REQUIRED)
pkg_check_modules(CAPSTONE REQUIRED IMPORTED_TARGET capstone)
pkg_check_modules(LIBURING REQUIRED IMPORTED_TARGET liburing)
set(ZLIB_USE_STATIC_LIBS ON)
find_package(ZLIB REQUIRED)  # qcow2 compressed clusters
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)  # qcow2 compressed clusters (zstd)

# The small C libraries are linked from their static archives (Debian's -dev packages ship them):
# every shared library costs the tandem process resident pages (relocations, data, the text
# around each call) before the guest runs, and start-up time and RSS are measured (bench/startup).
function(tandem_prefer_archive target archive)
  find_library(${archive}_PATH NAMES ${archive})
  if(${archive}_PATH)
    set_property(TARGET ${target} PROPERTY INTERFACE_LINK_LIBRARIES ${${archive}_PATH})
  endif()
endfunction()
tandem_prefer_archive(PkgConfig::LIBURING liburing.a)
tandem_prefer_archive(PkgConfig::ZSTD libzstd.a)
find_package(nlohmann_json 3 REQUIRED)  # tandem img --output=json

# xbyak is header-only (/usr/include/xbyak).
find_path(XBYAK_INCLUDE_DIR xbyak/xbyak.h REQUIRED)
add_library(xbyak INTERFACE)
target_include_directories(xbyak SYSTEM INTERFACE ${XBYAK_INCLUDE_DIR})

# Debian's libfdt-dev ships no pkg-config file.
find_path(FDT_INCLUDE_DIR libfdt.h REQUIRED)
find_library(FDT_LIBRARY NAMES libfdt.a fdt REQUIRED)
add_library(fdt INTERFACE)
target_include_directories(fdt SYSTEM INTERFACE ${FDT_INCLUDE_DIR})
target_link_libraries(fdt INTERFACE ${FDT_LIBRARY})
