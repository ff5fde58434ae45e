# CUDA and NCCL are optional: found at configure time, never required.
#
# Sets ONEREC_HAVE_CUDA / ONEREC_HAVE_NCCL and, when CUDA is present, enables
# the CUDA language so .cu files in runtime/ and kernels/ compile with nvcc.
set(ONEREC_HAVE_CUDA OFF)
set(ONEREC_HAVE_NCCL OFF)
if(ONEREC_ENABLE_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Hopper is the reference GPU; sm_80 keeps Ampere working.
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit)
    if(CUDAToolkit_FOUND)
      set(ONEREC_HAVE_CUDA ON)
      find_path(ONEREC_NCCL_INCLUDE_DIR nccl.h
        HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include /usr/include)
      find_library(ONEREC_NCCL_LIBRARY nccl
        HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu)
      if(ONEREC_NCCL_INCLUDE_DIR AND ONEREC_NCCL_LIBRARY)
        set(ONEREC_HAVE_NCCL ON)
        add_library(onerec_nccl INTERFACE)
        target_include_directories(onerec_nccl INTERFACE ${ONEREC_NCCL_INCLUDE_DIR})
        target_link_libraries(onerec_nccl INTERFACE ${ONEREC_NCCL_LIBRARY})
      endif()
    endif()
  endif()
endif()
