# Compiler settings shared by every vpmd target: C++20, warnings as errors.
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "" FORCE)
endif()

add_library(vpmd_warnings INTERFACE)
target_compile_options(vpmd_warnings INTERFACE
  -Wall -Wextra -Werror -Wshadow -Wcast-align -Wunused -Wnull-dereference -Wimplicit-fallthrough
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual>)

# vpmd_layer(NAME [sources...]): an OBJECT library for one layer with its own
# public include directory. Header-only layers still get a TU per header that
# includes it alone (self-contained headers, and the layering check).
function(vpmd_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS" ${ARGN})
  set(tgt vpmd_${name})
  file(GLOB_RECURSE hdrs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/include/vpmd/*.hpp")
  set(checks)
  foreach(h IN LISTS hdrs)
    file(RELATIVE_PATH rel "${CMAKE_CURRENT_SOURCE_DIR}/include" "${h}")
    string(MAKE_C_IDENTIFIER "${rel}" id)
    set(tu "${CMAKE_CURRENT_BINARY_DIR}/selfcontained/${id}.cpp")
    file(CONFIGURE OUTPUT "${tu}" CONTENT "#include <${rel}>\n")
    list(APPEND checks "${tu}")
  endforeach()
  add_library(${tgt} OBJECT ${L_SOURCES} ${checks})
  add_library(vpmd::${name} ALIAS ${tgt})
  target_include_directories(${tgt} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${tgt} PUBLIC ${L_DEPS} PRIVATE $<BUILD_INTERFACE:vpmd_warnings>)
  set_property(GLOBAL APPEND PROPERTY VPMD_LAYERS ${tgt})
endfunction()
