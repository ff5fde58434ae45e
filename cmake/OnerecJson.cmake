# nlohmann/json (Debian's nlohmann-json3-dev), header-only: safetensors
# headers, JSON inputs and `--json` output in the runtime. A GPU machine
# without Debian packages builds from carried headers: point
# ONEREC_JSON_INCLUDE_DIR at them.
find_path(ONEREC_JSON_INCLUDE_DIR nlohmann/json.hpp
  HINTS ${CMAKE_SOURCE_DIR}/third_party/json/include)
if(NOT ONEREC_JSON_INCLUDE_DIR)
  message(FATAL_ERROR "nlohmann/json.hpp not found: apt-get install nlohmann-json3-dev, "
                      "or set ONEREC_JSON_INCLUDE_DIR")
endif()
add_library(onerec_json INTERFACE)
target_include_directories(onerec_json SYSTEM INTERFACE ${ONEREC_JSON_INCLUDE_DIR})
