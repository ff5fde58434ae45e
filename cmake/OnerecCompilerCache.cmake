# Use ccache when it is installed: rebuilds after a branch switch are most of
# the build time on a 2-core machine. CCACHE_BASEDIR makes paths inside the
# source tree relative, so a fresh clone elsewhere (CI) hits the same cache.
find_program(ONEREC_CCACHE ccache)
if(ONEREC_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(launcher ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR}
               CCACHE_NOHASHDIR=1 ${ONEREC_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${launcher})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${launcher})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${launcher})
endif()
