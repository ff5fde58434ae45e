//===- ModelCompiler.h - from .rdsl AST to rec IR -----------------*- C++
//-*-===//
//
// The model compiler evaluates a model's declarations and builds its module:
// constants are evaluated (after -D and config overrides), types resolved,
// parameters declared, and every def, loss and reward becomes an entry
// function. Blocks are instantiated at each call site with their own weights
// (`repeat n` makes n instances); defs keep one set of weights wherever they
// are called. Shapes are checked as ops are built, by the ops' own shape
// rules, so errors point at the `.rdsl` line that caused them.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_FRONTEND_LIB_MODELCOMPILER_H
#define ONEREC_FRONTEND_LIB_MODELCOMPILER_H

#include "CompilerValue.h"

#include "onerec/Dialect/Rec/IR/Rec.h"
#include "onerec/Frontend/AST.h"
#include "onerec/Frontend/Diagnostics.h"
#include "onerec/Frontend/Frontend.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringMap.h"

#include <memory>

namespace onerec::frontend {

class ModelCompiler;

/// Limits that keep hostile or runaway programs from exhausting the machine.
struct CompileLimits {
  static constexpr int64_t kMaxRepeat = 4096;
  static constexpr unsigned kMaxCallDepth = 64;
  static constexpr uint64_t kMaxOps = 500'000;
  static constexpr int64_t kMaxDim = int64_t(1) << 40;
  static constexpr int64_t kMaxParamElements = int64_t(1) << 36;
};

/// The entry function being built.
struct EntryState {
  mlir::func::FuncOp func;
  rec::EntryKind kind;
  ModelCompiler *owner;
  /// One per block argument, in order: what feeds it.
  struct Argument {
    rec::ArgRole role;
    std::string name;
    /// Position among the model's inputs (for inputs read by name).
    unsigned order;
    /// Arguments from a def's parameter list come first, in their order.
    bool fromParameterList;
  };
  std::vector<Argument> arguments;
  /// Inputs, targets and generated outputs read so far, by name.
  llvm::StringMap<mlir::Value> inputs;
};

/// State shared by the compilers of a model and of the models it imports.
struct CompilerSession {
  CompilerSession(mlir::MLIRContext &context, llvm::SourceMgr &sourceMgr,
                  DiagnosticReporter &diag, const FrontendOptions &options)
      : context(context), sourceMgr(sourceMgr), diag(diag), options(options),
        builder(&context) {}

  mlir::MLIRContext &context;
  llvm::SourceMgr &sourceMgr;
  DiagnosticReporter &diag;
  const FrontendOptions &options;
  mlir::OpBuilder builder;

  EntryState *entry = nullptr;
  /// The chain of call sites of the code being compiled (blocks, defs).
  std::optional<mlir::Location> callStack;
  unsigned callDepth = 0;
  uint64_t opsCreated = 0;
  bool reportedOpLimit = false;

  /// Files being compiled (for import cycles) and everything parsed.
  std::vector<std::string> importStack;
  std::vector<std::unique_ptr<FileAST>> files;
  std::vector<std::unique_ptr<ModelCompiler>> importedModels;
};

/// Names parameters after where they are created: `encode.enc_layer0.2.attn0`.
class InstanceScope {
public:
  explicit InstanceScope(std::string prefix) : prefix(std::move(prefix)) {}
  /// The name of the next use of `kind` in this scope: `<prefix>.<kind><n>`.
  std::string next(llvm::StringRef kind);
  const std::string &getPrefix() const { return prefix; }
  /// `<prefix>.<name>`.
  std::string child(llvm::StringRef name) const;

private:
  std::string prefix;
  llvm::StringMap<unsigned> counters;
};

/// The local variables of one block, def, loss or reward body.
struct Frame {
  llvm::StringMap<CompilerValue> locals;
  InstanceScope *instance = nullptr;
  bool returned = false;
  std::vector<CompilerValue> results;
};

/// A constant of an imported model set by the importing one.
struct ImportBinding {
  std::string name;
  CompilerValue value;
  llvm::SMLoc loc;
};

class ModelCompiler {
public:
  /// `symbolPath` names the module of this model from the root module (empty
  /// for the root, {"pscore"} for `import "pscore.rdsl" as pscore`).
  /// `options` carries the configuration and -D overrides of the root model;
  /// an imported model gets `bindings` from its import instead.
  ModelCompiler(CompilerSession &session, const FileAST &file,
                mlir::ModuleOp module, std::vector<std::string> symbolPath,
                const FrontendOptions *options,
                std::vector<ImportBinding> bindings = {});

  /// Compiles the model and its imports into the module.
  mlir::LogicalResult compile();

  //===--------------------------------------------------------------------===//
  // Services for builtins
  //===--------------------------------------------------------------------===//

  CompilerSession &getSession() { return session; }
  mlir::OpBuilder &builder() { return session.builder; }
  mlir::MLIRContext *getContext() const { return &session.context; }
  /// The IR location of a source position, with the current call stack.
  mlir::Location loc(llvm::SMLoc at) const;
  mlir::InFlightDiagnostic error(llvm::SMLoc at);

  /// Builds an op whose result types its shape rule infers. On a shape error
  /// the op is removed and the result is poison.
  template <typename OpT, typename... Args>
  CompilerValue emit(llvm::SMLoc at, Args &&...args) {
    if (mlir::failed(countOp(at)))
      return CompilerValue::poison();
    mlir::Type none = builder().getNoneType();
    auto op = builder().create<OpT>(loc(at), none, std::forward<Args>(args)...);
    return finishInferred(op);
  }
  /// The same for ops with two results.
  template <typename OpT, typename... Args>
  CompilerValue emit2(llvm::SMLoc at, Args &&...args) {
    if (mlir::failed(countOp(at)))
      return CompilerValue::poison();
    mlir::Type none = builder().getNoneType();
    auto op =
        builder().create<OpT>(loc(at), none, none, std::forward<Args>(args)...);
    return finishInferred(op);
  }
  /// Builds an op with a result type the caller computed (reshape, cast ...).
  template <typename OpT, typename... Args>
  CompilerValue emitTyped(llvm::SMLoc at, mlir::Type type, Args &&...args) {
    if (mlir::failed(countOp(at)))
      return CompilerValue::poison();
    return CompilerValue::tensor(
        builder().create<OpT>(loc(at), type, std::forward<Args>(args)...));
  }

  /// A scalar constant tensor holding `value` as `elementType`.
  CompilerValue constant(llvm::SMLoc at, const CompilerValue &value,
                         mlir::Type elementType);
  /// Turns a compile-time number into a tensor that can meet `like` in an
  /// elementwise op; passes tensors through.
  CompilerValue asTensorLike(llvm::SMLoc at, const CompilerValue &value,
                             rec::RecTensorType like);
  /// Reshapes with a user-facing check of the element counts.
  CompilerValue reshape(llvm::SMLoc at, mlir::Value value,
                        llvm::ArrayRef<rec::Dim> dims);

  /// Declares (or finds) the parameter `name` of this model and reads it in
  /// the current entry.
  CompilerValue param(llvm::SMLoc at, const std::string &name,
                      rec::RecTensorType type, rec::InitAttr init,
                      bool buffer = false, bool noDecay = false);
  /// An initializer with the parameter's deterministic seed.
  rec::InitAttr initializer(rec::InitKind kind, double a, double b,
                            llvm::StringRef paramName) const;
  /// The initializer an `init = ...` argument or `param ... = ...` names.
  mlir::FailureOr<rec::InitAttr> initializerFrom(const CompilerValue &spec,
                                                 llvm::SMLoc at,
                                                 llvm::StringRef paramName);

  /// The scope parameters created now are named in.
  InstanceScope &instance();
  /// Makes `scope` current for nested layers (qformer's attention ...).
  class InstanceGuard {
  public:
    InstanceGuard(ModelCompiler &compiler, InstanceScope &scope);
    ~InstanceGuard();

  private:
    ModelCompiler &compiler;
    InstanceScope *saved;
  };

  /// A stable random-stream id for a dropout site.
  int64_t streamFor(llvm::StringRef name) const;
  rec::RecTensorType f32Tensor(llvm::ArrayRef<rec::Dim> dims);
  mlir::Type f32() { return builder().getF32Type(); }

  /// The element type a dtype name stands for (f32, bf16, bool ...).
  mlir::Type dtypeNamed(llvm::StringRef name) const;
  /// True for a name declared by `dim` (even before its maximum is known).
  bool isDeclaredDim(llvm::StringRef name) const;

  //===--------------------------------------------------------------------===//
  // Evaluation (Evaluator.cpp)
  //===--------------------------------------------------------------------===//

  CompilerValue eval(const Expr &expr);
  /// Evaluates a compile-time integer, reporting anything else.
  mlir::FailureOr<int64_t> evalInt(const Expr &expr, llvm::StringRef what);
  mlir::FailureOr<double> evalNumber(const Expr &expr, llvm::StringRef what);

private:
  friend class InstanceGuard;
  friend class BuiltinCall;

  struct ConstState {
    const ConstDecl *decl = nullptr;
    /// The expression a selected configuration gives instead.
    const Expr *configured = nullptr;
    std::optional<CompilerValue> value;
    bool inProgress = false;
  };
  struct DimState {
    const DimDecl *decl;
    int64_t max;
  };
  struct InputState {
    const InputDecl *decl;
    rec::RecTensorType type; // null if the declared type was invalid
    unsigned order;
  };
  struct GeneratedState {
    const GenerateDecl *decl;
    rec::RecTensorType type;
  };

  //===--- Declarations (ModelCompiler.cpp)
  //--------------------------------===//
  bool declareNames();
  void applyOptions(const FrontendOptions &options);
  void applyImportBindings();
  void compileImports();
  bool checkUnique(llvm::StringRef name, llvm::SMLoc at);
  void declareDims();
  void declareInputs();
  void declareParams();
  /// Declares a parameter after the dims, params and imports declared so far
  /// (checking it is a static float tensor of bearable size); null on error.
  rec::ParamOp declareParam(llvm::SMLoc at, llvm::StringRef name,
                            rec::RecTensorType type, rec::InitAttr init,
                            bool buffer, bool noDecay);
  void setInsertionPointToDeclarations();
  mlir::FailureOr<rec::RecTensorType> resolveType(const TypeExpr &type);
  mlir::FailureOr<rec::Dim> resolveDim(const Expr &expr);
  CompilerValue constValue(llvm::StringRef name, llvm::SMLoc use);
  void compileEntries();
  void compileEntry(const FunctionDecl &fn);
  mlir::Value inputArgument(llvm::StringRef name, llvm::SMLoc use);
  void finishEntry(EntryState &state, llvm::ArrayRef<CompilerValue> results,
                   llvm::SMLoc at);
  mlir::LogicalResult countOp(llvm::SMLoc at);
  CompilerValue finishInferred(mlir::Operation *op);
  mlir::SymbolRefAttr paramSymbol(llvm::StringRef name) const;

  //===--- Statements and calls (Evaluator.cpp)
  //----------------------------===//
  void execute(const StmtList &body, Frame &frame);
  void execute(const Stmt &stmt, Frame &frame);
  CompilerValue lookup(llvm::StringRef name, llvm::SMLoc at);
  std::vector<std::string> visibleNames() const;
  CompilerValue evalUnary(const UnaryExpr &expr);
  CompilerValue evalBinary(const BinaryExpr &expr);
  CompilerValue evalCall(const CallExpr &call);
  CompilerValue evalIndex(const IndexExpr &expr);
  CompilerValue evalRepeat(const RepeatExpr &expr);
  CompilerValue callBlock(const FunctionDecl &block, const CallExpr &call,
                          std::vector<CompilerValue> args,
                          InstanceScope &scope);
  CompilerValue callDef(const FunctionDecl &def, const CallExpr &call,
                        std::vector<CompilerValue> args);
  /// Binds call arguments to a block's or def's parameters.
  mlir::FailureOr<std::vector<CompilerValue>>
  bindArguments(const FunctionDecl &fn, const CallExpr &call,
                std::vector<CompilerValue> positional,
                std::vector<std::pair<const Arg *, CompilerValue>> keywords);
  CompilerValue runBody(const FunctionDecl &fn, llvm::SMLoc callSite,
                        std::vector<CompilerValue> args, InstanceScope &scope);
  CompilerValue arithmetic(llvm::SMLoc at, BinaryOp op,
                           const CompilerValue &lhs, const CompilerValue &rhs);
  CompilerValue foldConstant(llvm::SMLoc at, BinaryOp op,
                             const CompilerValue &lhs,
                             const CompilerValue &rhs);

  //===--- Generation and training sections (Sections.cpp)
  //-----------------===//
  void compileGenerate(const GenerateDecl &gen);
  void compileTrain(const TrainDecl &train);
  mlir::FailureOr<mlir::ArrayAttr>
  weightedEntries(const Expr &expr, rec::EntryKind kind, llvm::StringRef what);
  mlir::FailureOr<mlir::DictionaryAttr>
  hyperparameters(const CallExpr &call, llvm::ArrayRef<llvm::StringRef> allowed,
                  llvm::StringRef what);
  /// `optimizer adamw(lr = ...)` or `schedule cosine(...)`: the kind named
  /// by the call and its checked hyperparameters.
  template <typename KindT> struct ConfigCall {
    KindT kind;
    std::string name;
    mlir::DictionaryAttr params;
  };
  template <typename KindT>
  std::optional<ConfigCall<KindT>>
  configCall(const CallExpr &call, llvm::StringRef what,
             llvm::ArrayRef<llvm::StringRef> kinds,
             std::optional<KindT> (*symbolize)(llvm::StringRef),
             llvm::ArrayRef<llvm::StringRef> (*paramNames)(KindT));

  CompilerSession &session;
  const FileAST &file;
  const ModelDecl &model;
  mlir::ModuleOp module;
  std::vector<std::string> symbolPath;
  const FrontendOptions *options;
  std::vector<ImportBinding> importBindings;
  /// -D values, which win over declarations and configurations.
  llvm::StringMap<CompilerValue> overrides;
  llvm::StringMap<const Expr *> configuredDims;
  uint64_t modelSeed = 0;

  llvm::StringMap<ConstState> consts;
  llvm::StringMap<DimState> dims;
  llvm::StringMap<InputState> inputs;
  llvm::StringMap<const ParamDecl *> explicitParams;
  llvm::StringMap<const FunctionDecl *> functions;
  llvm::StringMap<GeneratedState> generated;
  llvm::StringMap<ModelCompiler *> imports;
  /// Where each top-level name was declared, for duplicate reports.
  llvm::StringMap<llvm::SMLoc> declaredAt;

  llvm::StringMap<rec::ParamOp> params;
  mlir::Operation *lastDeclaration = nullptr;

  /// The body being evaluated and its parameter scope.
  Frame *frame = nullptr;
  InstanceScope *currentInstance = nullptr;
  /// Defs being inlined right now, to reject recursion.
  llvm::SmallPtrSet<const FunctionDecl *, 4> activeDefs;
};

} // namespace onerec::frontend

#endif // ONEREC_FRONTEND_LIB_MODELCOMPILER_H
