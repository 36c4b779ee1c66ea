# Kernels compiled for one instruction set, named by suffix:
#   x86-64:  *_avx2.cpp (AVX2 + FMA + F16C), *_avx512.cpp (AVX-512 + VNNI + BF16)
#   AArch64: *_neon.cpp (ARMv8.0 Advanced SIMD, the baseline: no flags),
#            *_neon_dotprod.cpp (+ SDOT/UDOT), *_neon_fp16.cpp (+ dotprod and fp16 arithmetic)
# lumen_select_cpu_kernels(<list variable>) drops the other architecture's kernel files from
# the list and gives the remaining ones their flags. The rest of the library is built without
# -march, and cpu_level() (src/lumen/core/cpu_features.cpp) picks the kernels at run time, so
# one binary runs on any CPU of its architecture.
#
# Source file properties are directory-scoped: call it from the directory that adds the
# sources to a target.
function(lumen_select_cpu_kernels sources_var)
  set(sources ${${sources_var}})
  string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" processor)
  if(NOT processor MATCHES "^(x86_64|amd64)$")
    list(FILTER sources EXCLUDE REGEX "_(avx2|avx512)\\.cpp$")
  endif()
  if(NOT processor MATCHES "^(aarch64|arm64)$")
    list(FILTER sources EXCLUDE REGEX "_neon(_dotprod|_fp16)?\\.cpp$")
  endif()
  foreach(file IN LISTS sources)
    if(file MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${file} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    elseif(file MATCHES "_avx512\\.cpp$")
      set_source_files_properties(${file} PROPERTIES COMPILE_OPTIONS
        "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni;-mavx512bf16;-mfma;-mf16c")
    elseif(file MATCHES "_neon_dotprod\\.cpp$")
      set_source_files_properties(${file} PROPERTIES COMPILE_OPTIONS "-march=armv8.2-a+dotprod")
    elseif(file MATCHES "_neon_fp16\\.cpp$")
      set_source_files_properties(${file} PROPERTIES COMPILE_OPTIONS "-march=armv8.2-a+dotprod+fp16")
    endif()
  endforeach()
  set(${sources_var} ${sources} PARENT_SCOPE)
endfunction()
