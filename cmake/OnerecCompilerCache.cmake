# Use ccache when it is installed: rebuilds after a branch switch are most of
# the build time on a 2-core machine.
find_program(ONEREC_CCACHE ccache)
if(ONEREC_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_C_COMPILER_LAUNCHER ${ONEREC_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${ONEREC_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${ONEREC_CCACHE})
endif()
