# -*- Python -*-
# lit configuration of the onerec tests: the frontend (.rdsl), the rec
# dialect and its passes (.mlir), and the command-line tools (.test).

import os

import lit.formats
from lit.llvm import llvm_config

config.name = "onerec"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".rdsl", ".mlir", ".test"]
config.excludes = ["Inputs", "corpus", "unit", "fuzz", "CMakeLists.txt",
                   "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.onerec_obj_root, "test")

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.onerec_tools_dir, append_path=True)
# Checks must not leak variables between CHECK-LABEL blocks.
config.environment["FILECHECK_OPTS"] = "--enable-var-scope"

config.substitutions.append(("%models", os.path.join(config.onerec_src_root, "models")))
config.substitutions.append(("%onerec_src", config.onerec_src_root))
llvm_config.add_tool_substitutions(["onerecc", "onerec-opt", "onerec-run"], [config.onerec_tools_dir])
config.substitutions.append(("%onerec_run", os.path.join(config.onerec_tools_dir, "onerec-run")))
config.substitutions.append(("%onerecc_path", os.path.join(config.onerec_tools_dir, "onerecc")))

# onerecc and onerec-opt compile CUDA kernels of fused groups with NVRTC when
# the CUDA toolkit was found at configure time (`REQUIRES: nvrtc`).
if config.onerec_have_nvrtc in ("ON", "1", "TRUE"):
    config.available_features.add("nvrtc")
