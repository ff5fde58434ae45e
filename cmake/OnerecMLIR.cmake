# LLVM/MLIR 19 as Debian ships them (libmlir-19-dev, mlir-19-tools).
#
# Debian's LLVM is built with LLVM_LINK_LLVM_DYLIB, so compiler targets link the
# shared libMLIR.so / libLLVM.so: links take seconds instead of minutes on two
# cores, and tools stay small.
if(NOT MLIR_DIR AND EXISTS /usr/lib/llvm-19/lib/cmake/mlir)
  set(MLIR_DIR /usr/lib/llvm-19/lib/cmake/mlir)
endif()
find_package(MLIR REQUIRED CONFIG)
if(NOT LLVM_VERSION_MAJOR EQUAL 19)
  message(WARNING "onerec is developed against LLVM/MLIR 19; found ${LLVM_PACKAGE_VERSION}")
endif()
message(STATUS "Using MLIR ${LLVM_PACKAGE_VERSION} from ${MLIR_DIR}")

list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
include(TableGen)
include(AddLLVM)
include(AddMLIR)

if(NOT LLVM_EXTERNAL_LIT)
  set(LLVM_EXTERNAL_LIT "${LLVM_TOOLS_BINARY_DIR}/../build/utils/lit/lit.py")
endif()

# onerec_mlir_target(target): compile flags every MLIR-linked target uses.
# MLIR code reports errors through diagnostics, never exceptions.
function(onerec_mlir_target target)
  target_include_directories(${target} SYSTEM PUBLIC ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
  target_compile_definitions(${target} PUBLIC ${LLVM_DEFINITIONS})
  target_compile_options(${target} PRIVATE -fno-exceptions)
  target_link_libraries(${target} PUBLIC MLIR LLVM)
  onerec_set_warnings(${target})
endfunction()
