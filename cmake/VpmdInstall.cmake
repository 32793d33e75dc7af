# cmake --install: headers, libvpmd.a, a CMake package and vpmd.pc.
include(CMakePackageConfigHelpers)
foreach(layer mem ring simd pmd)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()
install(TARGETS vpmd EXPORT vpmdTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT vpmdTargets NAMESPACE vpmd:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vpmd)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vpmdConfig.cmake.in
  ${PROJECT_BINARY_DIR}/vpmdConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vpmd)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vpmdConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/vpmdConfig.cmake ${PROJECT_BINARY_DIR}/vpmdConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vpmd)
# vpmd.pc finds its prefix from where it is installed (${pcfiledir}), so
# `cmake --install --prefix DIR` works without reconfiguring.
file(RELATIVE_PATH VPMD_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${PROJECT_SOURCE_DIR}/cmake/vpmd.pc.in ${PROJECT_BINARY_DIR}/vpmd.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/vpmd.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
