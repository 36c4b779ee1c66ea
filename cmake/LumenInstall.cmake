# `cmake --install BUILD [--prefix DIR]`: what another project needs to use Lumen as a library,
# and the CLI with its bundled model. Included from the top-level CMakeLists after the targets
# exist. Installs (GNUInstallDirs layout):
#   lib/liblumen_{core,retrieval,server}.a      the static libraries
#   include/lumen/lumen.hpp, lumen.h            the public C++ and C headers (standard library only)
#   bin/lumen                                   the CLI
#   share/lumen/models/imp-shapes/              the bundled model (what a NULL / empty dir loads)
#   lib/cmake/Lumen/                            find_package(Lumen) -> Lumen::lumen (and
#                                               Lumen::lumen_core, _retrieval, _server)
#   lib/pkgconfig/lumen.pc                      pkg-config --cflags --libs lumen
# Both package files are relocatable: they find the prefix from where they lie, so an install
# with --prefix elsewhere, or a moved tree, still works.
include(CMakePackageConfigHelpers)

set(LUMEN_CMAKE_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Lumen)
set(LUMEN_MODEL_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/lumen/models/imp-shapes)

foreach(library IN LISTS LUMEN_LIBRARIES)
  set_target_properties(${library} PROPERTIES EXPORT_NAME ${library})
endforeach()
# The public headers need C++17 (std::string_view, std::function); the library itself is C++20.
target_compile_features(lumen_core PUBLIC cxx_std_17)

# (lumen_core's INSTALL_INTERFACE include directory carries include/ to every target.)
install(TARGETS ${LUMEN_LIBRARIES} lumen EXPORT LumenTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/lumen/lumen.hpp ${PROJECT_SOURCE_DIR}/include/lumen/lumen.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lumen)
# The installed CLI keeps the run-time path to libraries outside the system's (CUDA's cuBLAS).
set_target_properties(lumen_cli PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)
install(TARGETS lumen_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/imp-shapes/ DESTINATION ${LUMEN_MODEL_INSTALL_DIR})

# CMake package.
install(EXPORT LumenTargets NAMESPACE Lumen:: DESTINATION ${LUMEN_CMAKE_PACKAGE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/LumenConfig.cmake.in
  ${PROJECT_BINARY_DIR}/package/LumenConfig.cmake
  INSTALL_DESTINATION ${LUMEN_CMAKE_PACKAGE_DIR}
  PATH_VARS LUMEN_MODEL_INSTALL_DIR)
# 0.x: a new minor version may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/LumenConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/LumenConfig.cmake ${PROJECT_BINARY_DIR}/package/LumenConfigVersion.cmake
  DESTINATION ${LUMEN_CMAKE_PACKAGE_DIR})

# pkg-config. The libraries are static, so Libs (not Libs.private) lists everything a program
# needs to link them, and plain `--libs` works as well as `--libs --static`: the three
# libraries (a library before those it uses), the packages with a .pc file as Requires, and
# the rest by hand: C++'s runtime (a C program links with cc), libm, threads, and with the
# CUDA backend cuBLAS and the static CUDA runtime (with a run-time path to them).
set(LUMEN_PC_LIBS "-llumen_server -llumen_retrieval -llumen_core")
if(LUMEN_WITH_CUDA)
  string(APPEND LUMEN_PC_LIBS " -L${CUDAToolkit_LIBRARY_DIR} -Wl,-rpath,${CUDAToolkit_LIBRARY_DIR}"
    " -lcublas -lcublasLt -lcudart_static -ldl -lrt")
endif()
string(APPEND LUMEN_PC_LIBS " -lstdc++ -lm -lpthread")
file(RELATIVE_PATH LUMEN_PC_PREFIX_FROM_PCDIR ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" LUMEN_PC_PREFIX_FROM_PCDIR "${LUMEN_PC_PREFIX_FROM_PCDIR}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/lumen.pc.in ${PROJECT_BINARY_DIR}/package/lumen.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/lumen.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
