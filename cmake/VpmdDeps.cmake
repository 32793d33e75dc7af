# Third-party dependencies, all from Debian packages.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(NUMA REQUIRED IMPORTED_TARGET GLOBAL numa)        # libnuma-dev
find_package(xsimd 8 REQUIRED)                                        # libxsimd-dev
# Debian's xsimd 8.1 target links "xtl" unconditionally (a library xsimd's
# header-only use does not need, and that is not installed): take its headers only.
add_library(vpmd_xsimd INTERFACE)
target_include_directories(vpmd_xsimd SYSTEM INTERFACE $<TARGET_PROPERTY:xsimd,INTERFACE_INCLUDE_DIRECTORIES>)
