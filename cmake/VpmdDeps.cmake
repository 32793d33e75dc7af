# Third-party dependencies, all from Debian packages.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(NUMA REQUIRED IMPORTED_TARGET GLOBAL numa)        # libnuma-dev
find_package(xsimd 8 REQUIRED)                                        # libxsimd-dev
