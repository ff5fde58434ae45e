//===- onerecc.cpp - the onerec compiler driver ---------------------------===//
//
// onerecc model.rdsl [-D name=value]... [--config name] [--emit=KIND] [-o out]
//
// Reads a model, checks it, and writes the verified rec IR, a summary, the
// lowered IR, or (for `-o plan.fb`, or --emit=plan) the executable plan. Errors
// are printed as `file:line:col: error: ...` with the source line and a caret;
// the exit status is 1 when anything was wrong.
//
//===----------------------------------------------------------------------===//

#include "ModelSummary.h"
#include "OperatorStats.h"
#include "onerec/Frontend/Frontend.h"
#include "onerec/Passes/CudaCodegen.h"
#include "onerec/Passes/Pipelines.h"
#include "onerec/Passes/PlanEmitter.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

static cl::OptionCategory category("onerecc options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.rdsl>"),
                                      cl::cat(category));

static cl::opt<std::string> outputFile("o",
                                       cl::desc("Output file ('-' for stdout)"),
                                       cl::value_desc("file"), cl::init("-"),
                                       cl::cat(category));

enum class Emit { Mlir, Summary, MlirLowered, Plan, Stats, Cuda };
static cl::opt<Emit> emit(
    "emit", cl::desc("What to write (default: plan for -o *.fb, else mlir)"),
    cl::init(Emit::Mlir),
    cl::values(clEnumValN(Emit::Mlir, "mlir",
                          "the verified rec dialect IR of the model"),
               clEnumValN(Emit::Summary, "summary",
                          "dimensions, parameter counts, entries and their "
                          "signatures, generation and training"),
               clEnumValN(Emit::MlirLowered, "mlir-lowered",
                          "the IR just before plan emission: kernels chosen, "
                          "arena offsets planned"),
               clEnumValN(Emit::Plan, "plan",
                          "the executable plan (FlatBuffers, "
                          "docs/plan-format.md)"),
               clEnumValN(Emit::Stats, "stats",
                          "operators per entry: as written, after autodiff, "
                          "and the kernels the runtime launches"),
               clEnumValN(Emit::Cuda, "cuda",
                          "the CUDA source generated for each distinct fused "
                          "group (needs no NVRTC)")),
    cl::cat(category));

static cl::opt<std::string>
    target("target",
           cl::desc("What the plan runs on: cpu, or cuda:<arch> (cuda:sm_90) "
                    "to add a CUDA kernel per fused group, compiled now with "
                    "NVRTC"),
           cl::value_desc("cpu|cuda:sm_XX"), cl::init("cpu"),
           cl::cat(category));

/// The GPU architecture of --target=cuda:<arch>; empty for cpu.
static std::string cudaArch;

/// How --emit=stats (or --stats[=json]) prints.
static onerec::StatsFormat statsFormat = onerec::StatsFormat::Text;

static cl::opt<unsigned>
    optLevel("O", cl::Prefix, cl::init(2),
             cl::desc("Optimization level: -O2 (default) fuses operators; "
                      "-O0 decomposes composite ops into primitives and "
                      "launches one kernel per op"),
             cl::value_desc("level"), cl::cat(category));

static cl::list<std::string>
    bindDims("bind", cl::CommaSeparated,
             cl::desc("Specialize symbolic dims to static sizes in the plan: "
                      "--bind B=32"),
             cl::value_desc("NAME=SIZE"), cl::cat(category));

static cl::list<std::string>
    defines("D", cl::Prefix,
            cl::desc("Override a constant (or a dimension's maximum): "
                     "-D d_model=256, -D act=swiglu"),
            cl::value_desc("name=value"), cl::cat(category));

static cl::opt<std::string>
    config("config",
           cl::desc("Apply one of the model's `config <name> { ... }` presets "
                    "before -D overrides"),
           cl::value_desc("name"), cl::cat(category));

static cl::list<std::string>
    importDirs("I", cl::Prefix,
               cl::desc("Search this directory for imported .rdsl files"),
               cl::value_desc("dir"), cl::cat(category));

static cl::opt<unsigned>
    maxErrors("max-errors",
              cl::desc("Stop showing errors after this many (0: no limit)"),
              cl::init(20), cl::cat(category));

static cl::opt<bool>
    printLocations("print-locations",
                   cl::desc("Print the .rdsl source location of every op"),
                   cl::init(false), cl::cat(category));

static cl::opt<bool> splitInputFile(
    "split-input-file",
    cl::desc("Compile each '// -----' separated chunk of the input as its own "
             "model (line numbers stay those of the whole file)"),
    cl::init(false), cl::cat(category));

static cl::opt<bool> listBuiltins(
    "list-builtins",
    cl::desc("List the builtin functions of the language and exit"),
    cl::init(false), cl::cat(category));

/// Splits at lines `// -----`; each chunk keeps its line numbers by starting
/// with as many empty lines as precede it in the file.
static std::vector<std::string> splitKeepingLines(llvm::StringRef text) {
  std::vector<std::string> chunks(1);
  unsigned line = 0;
  while (!text.empty()) {
    auto [current, rest] = text.split('\n');
    text = rest;
    ++line;
    if (current.trim() == "// -----") {
      chunks.push_back(std::string(line, '\n'));
      continue;
    }
    chunks.back() += current.str() + "\n";
  }
  return chunks;
}

/// FNV-1a 64 of every source buffer (the model and its imports), hex.
static std::string hashSources(const llvm::SourceMgr &sourceMgr) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned i = 1; i <= sourceMgr.getNumBuffers(); ++i)
    for (unsigned char c : sourceMgr.getMemoryBuffer(i)->getBuffer()) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
  return llvm::utohexstr(hash, /*LowerCase=*/true, /*Width=*/16);
}

/// Compiles one buffer and prints its IR; errors go to stderr.
static bool compileBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                          const onerec::frontend::FrontendOptions &options,
                          llvm::raw_ostream &os) {
  llvm::SourceMgr sourceMgr;
  unsigned bufferId =
      sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  mlir::MLIRContext context;
  context.printOpOnDiagnostic(false);
  mlir::SourceMgrDiagnosticHandler printer(sourceMgr, &context);
  bool stoppedAtLimit = false;
  mlir::OwningOpRef<mlir::ModuleOp> module = onerec::frontend::compileModel(
      sourceMgr, bufferId, context, options, &stoppedAtLimit);
  if (module) {
    mlir::PassManager pm(&context);
    onerec::buildFrontendPipeline(pm);
    if (failed(pm.run(*module)))
      module = nullptr;
  }
  if (!module) {
    if (stoppedAtLimit)
      llvm::errs() << "onerecc: stopped after " << options.maxErrors
                   << " errors (--max-errors=0 reports all)\n";
    return false;
  }
  if (emit == Emit::Summary) {
    onerec::printModelSummary(*module, os);
    return true;
  }
  if (emit == Emit::MlirLowered || emit == Emit::Plan || emit == Emit::Stats ||
      emit == Emit::Cuda) {
    // The three lowering stages, with operator counts between them for
    // --emit=stats.
    onerec::OperatorCounts counts;
    counts.asWritten = onerec::countOperators(*module);
    onerec::LoweringOptions lowering;
    lowering.bindDims.assign(bindDims.begin(), bindDims.end());
    lowering.optLevel = optLevel;
    if (emit == Emit::Stats) {
      // "After autodiff" counts primitive operators: the training entries
      // as -O0 builds them (composites decomposed), whatever the level.
      mlir::OwningOpRef<mlir::ModuleOp> primitive = module->clone();
      onerec::LoweringOptions unfused = lowering;
      unfused.optLevel = 0;
      mlir::PassManager pm(&context);
      onerec::buildTrainingEntriesPipeline(pm, unfused);
      if (failed(pm.run(*primitive)))
        return false;
      counts.afterAutodiff = onerec::countOperators(*primitive);
    }
    mlir::PassManager entries(&context);
    onerec::buildTrainingEntriesPipeline(entries, lowering);
    if (failed(entries.run(*module)))
      return false;
    mlir::PassManager fusion(&context);
    onerec::buildFusionPipeline(fusion, lowering);
    if (failed(fusion.run(*module)))
      return false;
    counts.afterFusion = onerec::countOperators(*module);
    mlir::PassManager realization(&context);
    onerec::buildRealizationPipeline(realization);
    if (failed(realization.run(*module)))
      return false;
    if (emit == Emit::Stats) {
      onerec::printOperatorStats(*module, counts, statsFormat, os);
      return true;
    }
    // CUDA kernels of fused groups: compiled for the plan, source only for
    // --emit=cuda.
    if (!cudaArch.empty() || emit == Emit::Cuda) {
      mlir::PassManager cuda(&context);
      onerec::buildCudaCodegenPipeline(cuda,
                                       cudaArch.empty() ? "sm_90" : cudaArch,
                                       /*compile=*/emit != Emit::Cuda);
      if (failed(cuda.run(*module)))
        return false;
    }
    if (emit == Emit::Cuda) {
      llvm::StringSet<> printed;
      module->walk([&](mlir::Operation *op) {
        auto name =
            op->getAttrOfType<mlir::StringAttr>(onerec::cuda_attrs::kKernel);
        auto source =
            op->getAttrOfType<mlir::StringAttr>(onerec::cuda_attrs::kSource);
        if (name && source && printed.insert(name).second)
          os << source.getValue() << "\n";
      });
      return true;
    }
  }
  if (emit == Emit::Plan) {
    onerec::PlanEmitterOptions planOptions;
    planOptions.producer = "onerecc " ONEREC_VERSION;
    planOptions.sourceHash = hashSources(sourceMgr);
    return succeeded(onerec::emitPlan(*module, planOptions, os));
  }
  mlir::OpPrintingFlags flags;
  if (printLocations)
    flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
  module->print(os, flags);
  os << "\n";
  return true;
}

static void printVersion(llvm::raw_ostream &os) {
  os << "onerecc (onerec) " ONEREC_VERSION "\n";
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::SetVersionPrinter(printVersion);
  // `--stats[=text|json]` is taken before LLVM's parser, which owns a
  // boolean -stats (its pass statistics).
  std::optional<onerec::StatsFormat> stats;
  std::vector<char *> args;
  for (int i = 0; i < argc; ++i) {
    llvm::StringRef arg(argv[i]);
    if (i > 0 &&
        (arg == "--stats" || arg == "-stats" || arg == "--stats=text")) {
      stats = onerec::StatsFormat::Text;
      continue;
    }
    if (i > 0 && arg == "--stats=json") {
      stats = onerec::StatsFormat::Json;
      continue;
    }
    if (i > 0 && arg.starts_with("--stats=")) {
      llvm::errs() << "onerecc: error: " << arg
                   << ": expected --stats, --stats=text or --stats=json\n";
      return 1;
    }
    args.push_back(argv[i]);
  }
  argc = static_cast<int>(args.size());
  argv = args.data();
  cl::ParseCommandLineOptions(
      argc, argv,
      "onerec compiler: compiles a recommender model written in .rdsl\n\n"
      "  onerecc models/sasrec.rdsl --emit=mlir\n"
      "  onerecc models/onerec.rdsl --config tiny -D session=10 --emit=mlir\n"
      "  onerecc models/sasrec.rdsl -o sasrec.fb\n");
  if (listBuiltins) {
    onerec::frontend::printBuiltinReference(llvm::outs());
    return 0;
  }
  if (inputFile.empty()) {
    llvm::errs() << "onerecc: error: no input file (onerecc model.rdsl "
                    "--emit=mlir; see --help)\n";
    return 1;
  }

  onerec::frontend::FrontendOptions options;
  options.config = config;
  options.importDirs.assign(importDirs.begin(), importDirs.end());
  options.maxErrors = maxErrors;
  for (const std::string &define : defines) {
    size_t eq = define.find('=');
    if (eq == std::string::npos || eq == 0) {
      llvm::errs() << "onerecc: error: -D " << define
                   << ": expected -D name=value\n";
      return 1;
    }
    options.defines.emplace_back(define.substr(0, eq), define.substr(eq + 1));
  }

  if (optLevel != 0 && optLevel != 2) {
    llvm::errs() << "onerecc: error: -O" << optLevel
                 << ": expected -O0 (no fusion) or -O2 (the default)\n";
    return 1;
  }

  // --target=cpu | cuda:<arch>
  if (llvm::StringRef(target) != "cpu") {
    llvm::StringRef arch = target;
    if (!arch.consume_front("cuda:") || !arch.starts_with("sm_")) {
      llvm::errs() << "onerecc: error: --target=" << target
                   << ": expected cpu or cuda:<arch> (cuda:sm_90)\n";
      return 1;
    }
    if (!onerec::isNvrtcAvailable() && emit != Emit::Cuda) {
      llvm::errs() << "onerecc: error: --target=" << target
                   << " compiles CUDA kernels with NVRTC, and this onerecc "
                      "has none: "
                   << onerec::describeNvrtc()
                   << ". Install the CUDA toolkit (/usr/local/cuda) and "
                      "rebuild, or use --target=cpu\n";
      return 1;
    }
    cudaArch = arch.str();
  }

  if (stats) {
    statsFormat = *stats;
    if (emit.getNumOccurrences() && emit != Emit::Stats) {
      llvm::errs() << "onerecc: error: --stats prints statistics; it does not "
                      "combine with another --emit\n";
      return 1;
    }
    emit = Emit::Stats;
  }
  if (emit.getNumOccurrences() == 0 && !stats &&
      llvm::StringRef(outputFile).ends_with(".fb"))
    emit = Emit::Plan;
  if (emit == Emit::Plan && splitInputFile) {
    llvm::errs() << "onerecc: error: a plan holds one model; "
                    "--split-input-file cannot write plans\n";
    return 1;
  }
  if (emit == Emit::Plan && outputFile == "-") {
    llvm::errs() << "onerecc: error: a plan is binary; give an output file "
                    "(-o plan.fb)\n";
    return 1;
  }

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(inputFile, &error);
  if (!input) {
    llvm::errs() << "onerecc: error: " << error << "\n";
    return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> output =
      mlir::openOutputFile(outputFile, &error);
  if (!output) {
    llvm::errs() << "onerecc: error: " << error << "\n";
    return 1;
  }

  bool ok = true;
  if (splitInputFile) {
    std::vector<std::string> chunks = splitKeepingLines(input->getBuffer());
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (i)
        output->os() << "// -----\n";
      ok &= compileBuffer(llvm::MemoryBuffer::getMemBufferCopy(
                              chunks[i], input->getBufferIdentifier()),
                          options, output->os());
    }
  } else {
    ok = compileBuffer(std::move(input), options, output->os());
  }
  if (!ok)
    return 1;
  output->keep();
  return 0;
}
