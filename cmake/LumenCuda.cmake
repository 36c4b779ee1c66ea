# The optional CUDA backend (src/lumen/backend/cuda/*.cu).
#
# Built when CMake finds nvcc (PATH, $CUDACXX or -DCMAKE_CUDA_COMPILER=...) and LUMEN_CUDA is ON;
# otherwise src/lumen/backend/cuda_stub.cpp stands in and `--device cuda` answers "lumen was
# built without CUDA". Force the CPU-only build with -DLUMEN_CUDA=OFF (or -DCMAKE_CUDA_COMPILER=).
# The CUDA toolkit is not a Debian 12 main package: install NVIDIA's toolkit (nvcc, cuBLAS) to get
# the backend. GPU code is built for CMAKE_CUDA_ARCHITECTURES (default 90: H100/H200).
#
# Included from the top-level CMakeLists after LUMEN_SOURCES is globbed (it drops the stub from
# that list) and lumen_add_cuda_backend(lumen_core) is called once the core library exists.

option(LUMEN_CUDA "Build the CUDA backend when nvcc is found" ON)
if(NOT LUMEN_ROOT)
  get_filename_component(LUMEN_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)  # scripts/gpu-check/CMakeLists.txt sets it
endif()
set(LUMEN_WITH_CUDA OFF)
if(LUMEN_CUDA)
  # NVIDIA's installers put nvcc in /usr/local/cuda/bin, often not on PATH: look there too.
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(ENV{PATH} "$ENV{PATH}:/usr/local/cuda/bin")
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    # CMake 3.25 knows nvcc's flags only up to C++17; nvcc 12+ takes -std=c++20.
    if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION AND CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    find_package(CUDAToolkit)
    if(CUDAToolkit_FOUND AND TARGET CUDA::cublas AND TARGET CUDA::cudart_static)
      set(LUMEN_WITH_CUDA ON)
    else()
      message(WARNING "lumen: nvcc found but not cuBLAS/cudart; building without the CUDA backend")
    endif()
  endif()
endif()

if(LUMEN_WITH_CUDA)
  message(STATUS "lumen: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
  list(FILTER LUMEN_SOURCES EXCLUDE REGEX "/backend/cuda_stub\\.cpp$")
else()
  message(STATUS "lumen: CUDA backend OFF (no nvcc found, or LUMEN_CUDA=OFF); --device cuda will report it")
endif()

function(lumen_add_cuda_backend target)
  if(NOT LUMEN_WITH_CUDA)
    return()
  endif()
  file(GLOB LUMEN_CUDA_SOURCES CONFIGURE_DEPENDS ${LUMEN_ROOT}/src/lumen/backend/cuda/*.cu)
  # An object library so the .cu files get nvcc flags, not the C++ warning flags of `target`;
  # its objects go into the same static library.
  add_library(lumen_cuda OBJECT ${LUMEN_CUDA_SOURCES})
  set_target_properties(lumen_cuda PROPERTIES CUDA_STANDARD 20 CUDA_STANDARD_REQUIRED ON CUDA_EXTENSIONS OFF)
  target_include_directories(lumen_cuda PRIVATE ${LUMEN_ROOT}/src)
  target_compile_options(lumen_cuda PRIVATE -lineinfo --expt-relaxed-constexpr -Xcompiler=-Wall)
  target_link_libraries(lumen_cuda PRIVATE CUDA::cudart_static CUDA::cublas)
  target_sources(${target} PRIVATE $<TARGET_OBJECTS:lumen_cuda>)
  target_link_libraries(${target} PUBLIC CUDA::cudart_static CUDA::cublas CUDA::cublasLt)
endfunction()
