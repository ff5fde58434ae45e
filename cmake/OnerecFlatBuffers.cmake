# FlatBuffers 2.0.8 (Debian's libflatbuffers-dev + flatbuffers-compiler pair).
#
# The runtime reads plans with the header-only part of FlatBuffers, so a GPU
# machine without Debian packages builds it from carried headers: point
# ONEREC_FLATBUFFERS_INCLUDE_DIR at them. flatc is needed only where schemas
# are compiled.
find_path(ONEREC_FLATBUFFERS_INCLUDE_DIR flatbuffers/flatbuffers.h
  HINTS ${CMAKE_SOURCE_DIR}/third_party/flatbuffers/include)
find_program(ONEREC_FLATC flatc)
if(NOT ONEREC_FLATBUFFERS_INCLUDE_DIR)
  message(FATAL_ERROR "FlatBuffers headers not found: apt-get install libflatbuffers-dev, "
                      "or set ONEREC_FLATBUFFERS_INCLUDE_DIR")
endif()
add_library(onerec_flatbuffers INTERFACE)
target_include_directories(onerec_flatbuffers SYSTEM INTERFACE ${ONEREC_FLATBUFFERS_INCLUDE_DIR})
