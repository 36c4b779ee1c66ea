# The Python package's extension module, lumen._lumen (issue 17; sources in python/src, the
# package in python/lumen), built when CMake finds a Python interpreter with its headers and
# pybind11 (Debian 12: python3-dev, pybind11-dev / python3-pybind11). Without them the library
# and the CLI build as before and configuring says why the module is left out.
#
# The module is a shared object that links the static library, so the library (and the CUDA
# objects, when built) is compiled position-independent; on x86-64 that costs nothing
# measurable. Not under LUMEN_SANITIZE: an ASan-instrumented module cannot load into an
# uninstrumented interpreter.
#
# Which Python: -DPython_EXECUTABLE=... (setup.py passes sys.executable); otherwise Debian's
# /usr/bin/python3 when it exists, because that is the interpreter python3-pybind11,
# python3-numpy and python3-pytest belong to (a pyenv or conda python3 on PATH is not).
#
# Included from the top-level CMakeLists; lumen_add_python_module(lumen lumen_core ...) adds the target
# `lumen_python`, which writes ${PROJECT_BINARY_DIR}/python/lumen/_lumen<EXT_SUFFIX>.

option(LUMEN_PYTHON "Build the Python extension module when pybind11 is found" ON)

function(lumen_add_python_module library)
  if(NOT LUMEN_PYTHON)
    return()
  endif()
  if(LUMEN_SANITIZE)
    message(STATUS "lumen: Python module OFF (sanitizer build: it could not load into python3)")
    return()
  endif()
  if(NOT DEFINED Python_EXECUTABLE AND EXISTS /usr/bin/python3)
    set(Python_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "Python interpreter the module is built for")
  endif()
  find_package(Python 3.8 COMPONENTS Interpreter Development.Module QUIET)
  if(NOT Python_FOUND)
    message(STATUS "lumen: Python module OFF (no Python interpreter with headers; Debian: python3-dev)")
    return()
  endif()
  set(PYBIND11_FINDPYTHON ON)
  find_package(pybind11 2.6 CONFIG QUIET)
  if(NOT pybind11_FOUND)
    message(STATUS "lumen: Python module OFF (pybind11 not found; Debian: pybind11-dev python3-pybind11)")
    return()
  endif()
  message(STATUS "lumen: Python module ON (Python ${Python_VERSION} at ${Python_EXECUTABLE}, pybind11 ${pybind11_VERSION})")

  # `library` is the INTERFACE umbrella; ARGN are the static libraries behind it.
  foreach(static_library IN LISTS ARGN)
    set_target_properties(${static_library} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  endforeach()
  if(TARGET lumen_cuda)
    set_target_properties(lumen_cuda PROPERTIES POSITION_INDEPENDENT_CODE ON)
  endif()

  file(GLOB LUMEN_PYTHON_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/python/src/*.cpp)
  # NO_EXTRAS: no link-time optimisation (it would make every link of the module slow for no
  # gain: the hot code is in the library) and no stripping.
  pybind11_add_module(lumen_python MODULE NO_EXTRAS ${LUMEN_PYTHON_SOURCES})
  set_target_properties(lumen_python PROPERTIES OUTPUT_NAME _lumen
    LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/python/lumen)
  target_compile_options(lumen_python PRIVATE -Wall -Wextra -Wno-unused-parameter)
  target_link_libraries(lumen_python PRIVATE ${library})
  target_compile_definitions(lumen_python PRIVATE LUMEN_VERSION="${PROJECT_VERSION}"
    LUMEN_SOURCE_MODEL_DIR="${PROJECT_SOURCE_DIR}/models/imp-shapes")
endfunction()
