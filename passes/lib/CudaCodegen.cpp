//===- CudaCodegen.cpp - CUDA C++ for a fused elementwise group -----------===//
//
// One kernel per `rec.fused` group. Every value of the group broadcasts into
// the iteration domain (rows x cols, cols its last extent); a block holds
// `rowsPerBlock` rows of `threadsPerRow` threads each, and a row is computed
// in phases:
//
//   row scope   values that do not vary along the row (scalars, per-row
//               operands, reduction results and what is computed from them)
//   loop L      for each reduction depth L, one pass over the row's columns
//               that accumulates every reduction of that depth, then a
//               warp (or warp + shared memory) combine in a fixed order
//   final loop  the column-varying results, written to global memory
//
// Column-varying values are recomputed in each loop that needs them (from
// the operands in global memory) rather than stored, so no intermediate
// tensor is materialized. The math is that of the CPU kernels
// (kernels/lib/KernelSupport.h: Cephes exp, tanh and GELU through it,
// NaN-propagating max/min, saturating float-to-int casts).
//
//===----------------------------------------------------------------------===//

#include "onerec/Passes/CudaCodegen.h"

#include "CudaPrelude.h"

#include "mlir/IR/Block.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace onerec;
using rec::RecTensorType;

namespace {

constexpr unsigned kBlockThreads = 256;

/// Where a value's elements lie: over the domain (broadcast into it), or
/// one per row, shaped like the domain without its last dim (a reduction
/// without keepdim; today's rec.fused contract always keeps the dim, so its
/// groups are all in the domain space).
enum class Space { Domain, Row };

/// What an op of the group is, for code generation.
enum class Kind {
  Unary,
  Binary,
  Cmp,
  Select,
  Cast,
  Constant,
  Broadcast,
  Reduce
};

struct ValueInfo {
  Space space = Space::Domain;
  /// Reductions nested below it (0: computable from the operands alone).
  unsigned level = 0;
};

/// The C++ type that holds an element in registers, and in memory.
struct CType {
  std::string reg, mem;
  bool isFloat = false, isBool = false;
};

std::optional<CType> cTypeOf(Type type) {
  Type e = cast<RecTensorType>(type).getElementType();
  if (e.isF32())
    return CType{"float", "float", true, false};
  if (e.isInteger(1))
    return CType{"bool", "unsigned char", false, true};
  if (e.isInteger(32))
    return CType{"int", "int", false, false};
  if (e.isInteger(64) || isa<rec::IdType, rec::SidType>(e))
    return CType{"long long", "long long", false, false};
  return std::nullopt;
}

std::string floatLiteral(double value) {
  float f = static_cast<float>(value);
  if (std::isnan(f))
    return "__int_as_float(0x7fc00000)";
  if (std::isinf(f))
    return f > 0 ? "__int_as_float(0x7f800000)" : "__int_as_float(0xff800000)";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%.9g", f);
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  return s + "f";
}

std::string intLiteral(int64_t value, const CType &type) {
  if (type.isBool)
    return value ? "true" : "false";
  if (type.reg == "int")
    return value == INT32_MIN ? "(-2147483647 - 1)"
                              : std::to_string(static_cast<int32_t>(value));
  if (value == INT64_MIN)
    return "(-9223372036854775807LL - 1)";
  return std::to_string(value) + "LL";
}

std::string fnvHex(llvm::StringRef text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return llvm::utohexstr(hash, /*LowerCase=*/true, /*Width=*/16);
}

std::string formatLoc(Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (llvm::sys::path::filename(file.getFilename().getValue()) + ":" +
            llvm::Twine(file.getLine()) + ":" + llvm::Twine(file.getColumn()))
        .str();
  if (auto call = dyn_cast<CallSiteLoc>(loc))
    return formatLoc(call.getCallee());
  if (auto name = dyn_cast<NameLoc>(loc))
    return formatLoc(name.getChildLoc());
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (std::string s = formatLoc(inner); !s.empty())
        return s;
  return "";
}

class KernelWriter {
public:
  explicit KernelWriter(Operation *fused) : fused(fused) {}
  FailureOr<CudaKernelSource> run();

private:
  /// A loop over the columns of a row: its body, and the column-varying
  /// values already computed in it.
  struct Loop {
    std::string body;
    llvm::DenseMap<std::pair<Value, int>, std::string> names;
  };

  LogicalResult classify();
  LogicalResult computeDomain();
  LogicalResult chooseLaunch();
  /// The extent of domain dim i as a C++ expression.
  std::string extent(int64_t i) const;
  std::string rowsExpr() const;
  std::string colsExpr() const;
  /// Whether value v, read in `space`, varies along the row.
  bool varies(Value v, Space space);
  /// The name holding v (read in `space`); emits what it needs into the row
  /// scope or into `loop`.
  FailureOr<std::string> expr(Value v, Space space, Loop *loop);
  FailureOr<std::string> emitOp(Operation *op, Space space, Loop *loop,
                                const std::string &name);
  /// Row offset variable and whether the column index is added, for block
  /// argument `arg` read in `space`.
  FailureOr<std::pair<std::string, bool>> argIndex(BlockArgument arg,
                                                   Space space);
  std::string rowIndex(int64_t dim);
  LogicalResult emitReductions(unsigned level);
  LogicalResult emitOutputs();

  Kind kindOf(Operation *op) const;
  InFlightDiagnostic fail(Operation *op, const llvm::Twine &what) {
    return op->emitError("rec-generate-cuda: ") << what;
  }

  Operation *fused;
  Block *body = nullptr;
  llvm::DenseMap<Value, ValueInfo> info;
  llvm::SmallVector<rec::Dim> domain;
  Type domainElement;
  unsigned maxLevel = 0;
  unsigned threadsPerRow = 32;
  bool usesScratch = false;
  /// Row-scope code and names.
  std::string row;
  llvm::DenseMap<std::pair<Value, int>, std::string> rowNames;
  llvm::DenseMap<int64_t, std::string> rowIndices;
  std::string code;
  unsigned counter = 0;
};

Kind KernelWriter::kindOf(Operation *op) const {
  if (isa<rec::ReduceSumOp, rec::ReduceMeanOp, rec::ReduceMaxOp,
          rec::ReduceMinOp>(op))
    return Kind::Reduce;
  if (isa<rec::CmpOp>(op))
    return Kind::Cmp;
  if (isa<rec::SelectOp>(op))
    return Kind::Select;
  if (isa<rec::CastOp>(op))
    return Kind::Cast;
  if (isa<rec::ConstantOp>(op))
    return Kind::Constant;
  if (isa<rec::BroadcastOp>(op))
    return Kind::Broadcast;
  if (isa<rec::AddOp, rec::SubOp, rec::MulOp, rec::DivOp, rec::PowOp,
          rec::MaximumOp, rec::MinimumOp, rec::AndOp, rec::OrOp>(op))
    return Kind::Binary;
  return Kind::Unary;
}

bool isSupportedUnary(Operation *op) {
  return isa<rec::NegOp, rec::AbsOp, rec::ExpOp, rec::LogOp, rec::SqrtOp,
             rec::RsqrtOp, rec::TanhOp, rec::SigmoidOp, rec::SiluOp,
             rec::GeluOp, rec::ReluOp, rec::NotOp>(op);
}

LogicalResult KernelWriter::classify() {
  if (fused->getNumRegions() != 1 ||
      fused->getRegion(0).getBlocks().size() != 1)
    return fail(fused, "expected a fused op with one region of one block");
  body = &fused->getRegion(0).front();
  if (body->getNumArguments() != fused->getNumOperands())
    return fail(fused, "the body's arguments do not match the operands");
  for (BlockArgument arg : body->getArguments()) {
    if (!cTypeOf(arg.getType()))
      return fail(fused, "operand ")
             << arg.getArgNumber() << " has element type "
             << rec::formatTensorType(arg.getType())
             << ", which CUDA code generation does not support";
    info[arg] = ValueInfo{};
  }
  for (Operation &op : body->without_terminator()) {
    if (op.getNumResults() != 1 || !cTypeOf(op.getResult(0).getType()))
      return fail(&op, "'")
             << op.getName() << "' has results CUDA code cannot hold";
    for (Value operand : op.getOperands())
      if (!cTypeOf(operand.getType()))
        return fail(&op, "an operand has an unsupported element type");
    Kind kind = kindOf(&op);
    if (kind == Kind::Unary && !isSupportedUnary(&op))
      return fail(&op, "no CUDA code for '")
             << op.getName() << "' in a fused group";
    ValueInfo result;
    for (Value operand : op.getOperands()) {
      const ValueInfo &in = info[operand];
      result.level = std::max(result.level, in.level);
      if (in.space == Space::Row)
        result.space = Space::Row;
    }
    if (kind == Kind::Reduce) {
      auto x = cast<RecTensorType>(op.getOperand(0).getType());
      auto axes = op.getAttrOfType<DenseI64ArrayAttr>("axes");
      int64_t rank = x.getRank();
      if (!axes || axes.size() != 1 || rank == 0 ||
          (axes[0] != -1 && axes[0] != rank - 1))
        return fail(&op, "only reductions over the last axis are generated");
      if (result.space == Space::Row)
        return fail(&op, "reduces a value that is already reduced");
      if (cTypeOf(x)->isBool)
        return fail(&op, "reductions of booleans are not generated");
      result.level += 1;
      result.space = op.hasAttr("keepdim") ? Space::Domain : Space::Row;
    }
    maxLevel = std::max(maxLevel, result.level);
    info[op.getResult(0)] = result;
  }
  return success();
}

/// Broadcasts `shape` into `into` (numpy rules); false if they conflict.
bool broadcastInto(llvm::SmallVectorImpl<rec::Dim> &into,
                   llvm::ArrayRef<rec::Dim> shape) {
  if (shape.size() > into.size())
    into.insert(into.begin(), shape.size() - into.size(), rec::Dim::fixed(1));
  size_t offset = into.size() - shape.size();
  for (auto [i, d] : llvm::enumerate(shape)) {
    rec::Dim &target = into[offset + i];
    if (d.isOne() || d == target)
      continue;
    if (!target.isOne())
      return false;
    target = d;
  }
  return true;
}

LogicalResult KernelWriter::computeDomain() {
  // Every value read or produced in the domain space broadcasts into it.
  auto add = [&](Value v) -> LogicalResult {
    auto type = cast<RecTensorType>(v.getType());
    if (!domainElement || type.getRank() >= static_cast<int64_t>(domain.size()))
      domainElement = type.getElementType();
    if (!broadcastInto(domain, type.getDims()))
      return fail(fused, "the shapes of the group do not broadcast together: ")
             << rec::formatTensorType(type);
    return success();
  };
  for (Operation &op : body->without_terminator()) {
    Space space = info[op.getResult(0)].space;
    bool reduce = kindOf(&op) == Kind::Reduce;
    if (space == Space::Domain && failed(add(op.getResult(0))))
      return failure();
    for (Value operand : op.getOperands())
      if ((reduce || space == Space::Domain) &&
          info[operand].space == Space::Domain && failed(add(operand)))
        return failure();
  }
  for (Value v : body->getTerminator()->getOperands())
    if (info[v].space == Space::Domain && failed(add(v)))
      return failure();
  return success();
}

LogicalResult KernelWriter::chooseLaunch() {
  // Short rows get a power-of-two share of a warp; longer ones a warp (the
  // row combine is then shuffles only); very long ones 256 threads.
  if (domain.empty() || domain.back().isSymbolic()) {
    threadsPerRow = 32;
  } else {
    int64_t cols = domain.back().size;
    threadsPerRow = cols <= 32
                        ? std::max<unsigned>(
                              1, llvm::PowerOf2Ceil(std::max<int64_t>(cols, 1)))
                    : cols <= 2048 ? 32
                                   : kBlockThreads;
  }
  usesScratch = maxLevel > 0 && threadsPerRow > 32;
  return success();
}

std::string KernelWriter::extent(int64_t i) const {
  const rec::Dim &d = domain[i];
  return d.isStatic() ? std::to_string(d.size) + "LL" : "d" + std::to_string(i);
}

std::string KernelWriter::colsExpr() const {
  return domain.empty() ? "1LL" : extent(domain.size() - 1);
}

std::string KernelWriter::rowsExpr() const {
  if (domain.size() <= 1)
    return "1LL";
  std::string s;
  for (size_t i = 0; i + 1 < domain.size(); ++i)
    s += (i ? " * " : "") + extent(i);
  return s;
}

/// The index of the row along domain dim `dim` (< rank - 1), in row scope.
std::string KernelWriter::rowIndex(int64_t dim) {
  auto it = rowIndices.find(dim);
  if (it != rowIndices.end())
    return it->second;
  std::string inner;
  for (size_t i = dim + 1; i + 1 < domain.size(); ++i)
    inner += " / " + extent(i);
  std::string name = "i" + std::to_string(dim);
  row += "    const long long " + name + " = r" + inner;
  if (dim > 0)
    row += " % " + extent(dim);
  row += ";\n";
  rowIndices[dim] = name;
  return name;
}

FailureOr<std::pair<std::string, bool>>
KernelWriter::argIndex(BlockArgument arg, Space space) {
  auto type = cast<RecTensorType>(arg.getType());
  // The dims this read is indexed by: the domain, or its rows.
  int64_t rank = domain.size() - (space == Space::Row ? 1 : 0);
  if (domain.empty())
    rank = 0;
  if (type.getRank() > rank)
    return fail(fused, "operand ")
           << arg.getArgNumber() << " " << rec::formatTensorType(type)
           << " does not broadcast into the domain";
  int64_t offset = rank - type.getRank();
  // Stride of each domain dim in the operand (0: broadcast).
  llvm::SmallVector<std::string> strides(rank, "");
  std::string stride = "1LL";
  bool contiguous = true; // the operand covers every leading dim in order
  for (int64_t i = rank - 1; i >= 0; --i) {
    if (i < offset) {
      contiguous = false;
      continue;
    }
    rec::Dim d = type.getDim(i - offset);
    if (d.isOne() && !domain[i].isOne()) {
      if (i < rank - 1 || space == Space::Row)
        contiguous = false;
      continue;
    }
    if (d != domain[i])
      return fail(fused, "operand ")
             << arg.getArgNumber() << " " << rec::formatTensorType(type)
             << " does not broadcast into the domain";
    strides[i] = stride;
    stride = stride == "1LL" ? extent(i) : stride + " * " + extent(i);
  }
  bool column =
      space == Space::Domain && rank > 0 && !strides[rank - 1].empty();
  int64_t leading = space == Space::Domain ? rank - 1 : rank;
  if (leading <= 0)
    return std::make_pair(std::string("0LL"), column);
  bool none = llvm::all_of(llvm::ArrayRef(strides).take_front(leading),
                           [](const std::string &s) { return s.empty(); });
  if (none)
    return std::make_pair(std::string("0LL"), column);
  if (contiguous)
    return std::make_pair(column ? "r * cols" : std::string("r"), column);
  std::string sum;
  for (int64_t i = 0; i < leading; ++i)
    if (!strides[i].empty())
      sum += (sum.empty() ? "" : " + ") + rowIndex(i) + " * " + strides[i];
  std::string name = "o" + std::to_string(arg.getArgNumber()) +
                     (space == Space::Row ? "r" : "");
  row += "    const long long " + name + " = " + sum + ";\n";
  return std::make_pair(name, column);
}

bool KernelWriter::varies(Value v, Space space) {
  if (space == Space::Row || domain.empty())
    return false;
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto type = cast<RecTensorType>(arg.getType());
    return type.getRank() > 0 && !type.getDims().back().isOne();
  }
  Operation *op = v.getDefiningOp();
  Kind kind = kindOf(op);
  if (kind == Kind::Reduce || kind == Kind::Constant)
    return false;
  return llvm::any_of(op->getOperands(),
                      [&](Value operand) { return varies(operand, space); });
}

FailureOr<std::string> KernelWriter::expr(Value v, Space space, Loop *loop) {
  // Reductions and values that are constant along the row live in row
  // scope; the rest is recomputed in each loop that reads it.
  bool inLoop = varies(v, space);
  auto key = std::make_pair(v, static_cast<int>(space));
  auto &names = inLoop ? loop->names : rowNames;
  if (auto it = names.find(key); it != names.end())
    return it->second;
  std::string &out = inLoop ? loop->body : row;
  std::string indent = inLoop ? "      " : "    ";
  std::string name;
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    FailureOr<std::pair<std::string, bool>> index = argIndex(arg, space);
    if (failed(index))
      return failure();
    CType type = *cTypeOf(arg.getType());
    name = "a" + std::to_string(arg.getArgNumber()) +
           (space == Space::Row ? "r" : "");
    std::string address = "in" + std::to_string(arg.getArgNumber()) + "[" +
                          index->first + (index->second ? " + c" : "") + "]";
    out += indent + "const " + type.reg + " " + name + " = " +
           (type.isBool ? "(" + address + " != 0)" : address) + ";\n";
  } else {
    Operation *op = v.getDefiningOp();
    if (kindOf(op) == Kind::Reduce)
      return fail(op, "internal error: a reduction is read before it is "
                      "computed");
    name = "v" + std::to_string(counter++);
    FailureOr<std::string> value = emitOp(op, space, loop, name);
    if (failed(value))
      return failure();
    out += indent + *value;
  }
  names[key] = name;
  return name;
}

FailureOr<std::string> KernelWriter::emitOp(Operation *op, Space space,
                                            Loop *loop,
                                            const std::string &name) {
  llvm::SmallVector<std::string> args;
  for (Value operand : op->getOperands()) {
    FailureOr<std::string> a = expr(operand, space, loop);
    if (failed(a))
      return failure();
    args.push_back(*a);
  }
  CType type = *cTypeOf(op->getResult(0).getType());
  CType in =
      op->getNumOperands() ? *cTypeOf(op->getOperand(0).getType()) : type;
  std::string e;
  const std::string &a = args.empty() ? name : args[0];
  const std::string &b = args.size() > 1 ? args[1] : a;
  auto unsupported = [&]() {
    return fail(op, "no CUDA code for '")
           << op->getName() << "' on "
           << rec::formatTensorType(op->getNumOperands()
                                        ? op->getOperand(0).getType()
                                        : op->getResult(0).getType());
  };
  switch (kindOf(op)) {
  case Kind::Unary:
    if (in.isFloat) {
      e = llvm::TypeSwitch<Operation *, std::string>(op)
              .Case([&](rec::NegOp) { return "-" + a; })
              .Case([&](rec::AbsOp) { return "fabsf(" + a + ")"; })
              .Case([&](rec::ExpOp) { return "onerec_exp(" + a + ")"; })
              .Case([&](rec::LogOp) { return "logf(" + a + ")"; })
              .Case([&](rec::SqrtOp) { return "sqrtf(" + a + ")"; })
              .Case([&](rec::RsqrtOp) { return "1.0f / sqrtf(" + a + ")"; })
              .Case([&](rec::TanhOp) { return "onerec_tanh(" + a + ")"; })
              .Case([&](rec::SigmoidOp) { return "onerec_sigmoid(" + a + ")"; })
              .Case([&](rec::SiluOp) {
                return a + " * onerec_sigmoid(" + a + ")";
              })
              .Case([&](rec::GeluOp) { return "onerec_gelu(" + a + ")"; })
              .Case(
                  [&](rec::ReluOp) { return a + " > 0.0f ? " + a + " : 0.0f"; })
              .Default([](Operation *) { return std::string(); });
    } else if (in.isBool) {
      if (isa<rec::NotOp>(op))
        e = "!" + a;
    } else {
      e = llvm::TypeSwitch<Operation *, std::string>(op)
              .Case([&](rec::NegOp) { return "onerec_ineg(" + a + ")"; })
              .Case([&](rec::AbsOp) { return "onerec_iabs(" + a + ")"; })
              .Case([&](rec::ReluOp) {
                return a + " > 0 ? " + a + " : " + type.reg + "(0)";
              })
              .Default([](Operation *) { return std::string(); });
    }
    break;
  case Kind::Binary:
    if (in.isFloat) {
      e = llvm::TypeSwitch<Operation *, std::string>(op)
              .Case([&](rec::AddOp) { return a + " + " + b; })
              .Case([&](rec::SubOp) { return a + " - " + b; })
              .Case([&](rec::MulOp) { return a + " * " + b; })
              .Case([&](rec::DivOp) { return a + " / " + b; })
              .Case([&](rec::PowOp) { return "powf(" + a + ", " + b + ")"; })
              .Case([&](rec::MaximumOp) {
                return "onerec_max(" + a + ", " + b + ")";
              })
              .Case([&](rec::MinimumOp) {
                return "onerec_min(" + a + ", " + b + ")";
              })
              .Default([](Operation *) { return std::string(); });
    } else if (in.isBool) {
      e = llvm::TypeSwitch<Operation *, std::string>(op)
              .Case([&](rec::AndOp) { return a + " && " + b; })
              .Case([&](rec::OrOp) { return a + " || " + b; })
              .Default([](Operation *) { return std::string(); });
    } else {
      auto call = [&](const char *fn) {
        return std::string(fn) + "(" + a + ", " + b + ")";
      };
      e = llvm::TypeSwitch<Operation *, std::string>(op)
              .Case([&](rec::AddOp) { return call("onerec_iadd"); })
              .Case([&](rec::SubOp) { return call("onerec_isub"); })
              .Case([&](rec::MulOp) { return call("onerec_imul"); })
              .Case([&](rec::DivOp) { return call("onerec_idiv"); })
              .Case([&](rec::PowOp) { return call("onerec_ipow"); })
              .Case([&](rec::MaximumOp) { return call("onerec_max"); })
              .Case([&](rec::MinimumOp) { return call("onerec_min"); })
              .Default([](Operation *) { return std::string(); });
    }
    break;
  case Kind::Cmp: {
    static const char *symbols[] = {"==", "!=", "<", "<=", ">", ">="};
    auto predicate = static_cast<unsigned>(cast<rec::CmpOp>(op).getPredicate());
    if (predicate < 6)
      e = a + " " + symbols[predicate] + " " + b;
    break;
  }
  case Kind::Select:
    e = a + " ? " + b + " : " + args[2];
    break;
  case Kind::Cast:
    if (type.isBool)
      e = in.isBool ? a : "(" + a + " != 0)";
    else if (in.isFloat && !type.isFloat)
      e = type.reg == "int"
              ? "onerec_ftoi<int>(" + a + ", (-2147483647 - 1), 2147483647)"
              : "onerec_ftoi<long long>(" + a +
                    ", (-9223372036854775807LL - 1), 9223372036854775807LL)";
    else
      e = "static_cast<" + type.reg + ">(" + a + ")";
    break;
  case Kind::Constant: {
    auto constant = cast<rec::ConstantOp>(op);
    if (type.isFloat)
      e = floatLiteral(constant.getValueAsDouble());
    else if (auto i = dyn_cast<IntegerAttr>(constant.getValue()))
      e = intLiteral(i.getValue().getSExtValue(), type);
    else
      e = intLiteral(static_cast<int64_t>(constant.getValueAsDouble()), type);
    break;
  }
  case Kind::Broadcast:
    e = a;
    break;
  case Kind::Reduce:
    break;
  }
  if (e.empty())
    return unsupported();
  return "const " + type.reg + " " + name + " = " + e + ";\n";
}

LogicalResult KernelWriter::emitReductions(unsigned level) {
  // Accumulators in row scope, one pass over the row, then the combine.
  Loop loop;
  std::string finish;
  llvm::SmallVector<std::pair<Value, std::string>> done;
  for (Operation &op : body->without_terminator()) {
    if (kindOf(&op) != Kind::Reduce || info[op.getResult(0)].level != level)
      continue;
    Value x = op.getOperand(0);
    CType type = *cTypeOf(x.getType());
    std::string name = "v" + std::to_string(counter++);
    bool isMax = isa<rec::ReduceMaxOp>(op), isMin = isa<rec::ReduceMinOp>(op);
    std::string init =
        isMax   ? (type.isFloat        ? "-__int_as_float(0x7f800000)"
                   : type.reg == "int" ? "(-2147483647 - 1)"
                                       : "(-9223372036854775807LL - 1)")
        : isMin ? (type.isFloat        ? "__int_as_float(0x7f800000)"
                   : type.reg == "int" ? "2147483647"
                                       : "9223372036854775807LL")
                : type.reg + "(0)";
    std::string fn = isMax   ? "onerec_max_op()"
                     : isMin ? "onerec_min_op()"
                             : "onerec_sum_op()";
    auto xType = cast<RecTensorType>(x.getType());
    if (xType.getDims().back().isOne() && !domain.back().isOne()) {
      // A reduction over an axis of one element is that element.
      FailureOr<std::string> v = expr(x, Space::Domain, &loop);
      if (failed(v))
        return failure();
      if (!loop.body.empty())
        return fail(&op, "internal error: a size-1 reduction varies along "
                         "the row");
      row += "    const " + type.reg + " " + name + " = " + *v + ";\n";
      done.emplace_back(op.getResult(0), name);
      continue;
    }
    FailureOr<std::string> v = expr(x, Space::Domain, &loop);
    if (failed(v))
      return failure();
    row += "    " + type.reg + " " + name + " = " + init + ";\n";
    loop.body += "      " + name + " = " + fn + "(" + name + ", " + *v + ");\n";
    finish +=
        "    " + name + " = onerec_row_reduce<" +
        std::to_string(threadsPerRow) + ">(" + name + ", " + fn +
        (usesScratch ? ", onerec_scratch[threadIdx.y]);\n" : ", nullptr);\n");
    if (isa<rec::ReduceMeanOp>(op))
      finish += type.isFloat
                    ? "    " + name + " = " + name + " / float(cols);\n"
                    : "    " + name + " = cols ? " + type.reg + "((long long)" +
                          name + " / cols) : " + type.reg + "(0);\n";
    done.emplace_back(op.getResult(0), name);
  }
  if (!loop.body.empty() || !finish.empty()) {
    row += "    for (long long c = threadIdx.x; c < cols; c += " +
           std::to_string(threadsPerRow) + ") {\n" + loop.body + "    }\n";
    row += finish;
  }
  for (auto &[value, name] : done) {
    rowNames[{value, static_cast<int>(Space::Domain)}] = name;
    rowNames[{value, static_cast<int>(Space::Row)}] = name;
  }
  return success();
}

LogicalResult KernelWriter::emitOutputs() {
  Loop loop;
  std::string perRow;
  Operation *yield = body->getTerminator();
  for (auto [i, v] : llvm::enumerate(yield->getOperands())) {
    auto type = cast<RecTensorType>(v.getType());
    CType ctype = *cTypeOf(type);
    Space space = info[v].space;
    std::string out = "out" + std::to_string(i);
    // A result is the whole domain, or one value per row.
    llvm::ArrayRef<rec::Dim> dims = type.getDims();
    llvm::ArrayRef<rec::Dim> rows =
        llvm::ArrayRef(domain).drop_back(domain.empty() ? 0 : 1);
    bool whole = space == Space::Domain && dims == llvm::ArrayRef(domain);
    bool perRowShape = (space == Space::Row && dims == rows) ||
                       (space == Space::Domain && !domain.empty() &&
                        dims.size() == domain.size() && dims.back().isOne() &&
                        dims.drop_back() == rows);
    if (domain.empty() || (domain.back().isOne() && whole))
      perRowShape = true, whole = false;
    std::string store = ctype.isBool ? "(unsigned char)" : "";
    if (whole) {
      FailureOr<std::string> e = expr(v, Space::Domain, &loop);
      if (failed(e))
        return failure();
      loop.body += "      if (active)\n        " + out +
                   "[r * cols + c] = " + store + *e + ";\n";
    } else if (perRowShape) {
      FailureOr<std::string> e = expr(v, space, &loop);
      if (failed(e))
        return failure();
      perRow += "      " + out + "[r] = " + store + *e + ";\n";
    } else {
      return fail(fused, "result ") << i << " " << rec::formatTensorType(type)
                                    << " is neither the whole domain "
                                    << rec::formatTensorType(RecTensorType::get(
                                           domain, type.getElementType()))
                                    << " nor one value per row";
    }
  }
  if (!loop.body.empty())
    row += "    for (long long c = threadIdx.x; c < cols; c += " +
           std::to_string(threadsPerRow) + ") {\n" + loop.body + "    }\n";
  if (!perRow.empty())
    row += "    if (active && threadIdx.x == 0) {\n" + perRow + "    }\n";
  return success();
}

FailureOr<CudaKernelSource> KernelWriter::run() {
  if (failed(classify()) || failed(computeDomain()) || failed(chooseLaunch()))
    return failure();
  for (unsigned level = 1; level <= maxLevel; ++level)
    if (failed(emitReductions(level)))
      return failure();
  if (failed(emitOutputs()))
    return failure();

  unsigned rowsPerBlock = kBlockThreads / threadsPerRow;
  // The signature: operands, results, domain extents.
  std::string params;
  auto param = [&](const std::string &p) {
    params += (params.empty() ? "" : ",\n    ") + p;
  };
  for (BlockArgument arg : body->getArguments())
    param("const " + cTypeOf(arg.getType())->mem + " *__restrict__ in" +
          std::to_string(arg.getArgNumber()));
  for (auto [i, v] : llvm::enumerate(body->getTerminator()->getOperands()))
    param(cTypeOf(v.getType())->mem + " *__restrict__ out" + std::to_string(i));
  for (size_t i = 0; i < domain.size(); ++i)
    param(std::string("long long ") + (domain[i].isStatic() ? "/*d" : "d") +
          std::to_string(i) + (domain[i].isStatic() ? "*/" : ""));

  std::string domainText = rec::formatTensorType(RecTensorType::get(
      domain, domainElement ? domainElement : Builder(fused).getF32Type()));
  std::string signature =
      "(\n    " + params + ") {\n  const long long cols = " + colsExpr() +
      ";\n  const long long rows = " + rowsExpr() + ";\n" +
      (usesScratch ? "  __shared__ unsigned long long onerec_scratch[" +
                         std::to_string(rowsPerBlock) + "][" +
                         std::to_string(threadsPerRow / 32) + "];\n"
                   : std::string()) +
      "  for (long long tile = blockIdx.x; tile * " +
      std::to_string(rowsPerBlock) + " < rows; tile += gridDim.x) {\n" +
      "    const long long row = tile * " + std::to_string(rowsPerBlock) +
      " + threadIdx.y;\n" +
      "    // Rows past the end compute on the last row and store nothing, "
      "so\n" +
      "    // every thread reaches the same barriers.\n" +
      "    const bool active = row < rows;\n" +
      "    const long long r = active ? row : rows - 1;\n" + row + "  }\n}\n";
  std::string header =
      "// onerec fused group at " + formatLoc(fused->getLoc()) +
      " (generated by onerecc; do not edit)\n// domain " + domainText +
      "; block of " + std::to_string(kBlockThreads) +
      " threads: " + std::to_string(threadsPerRow) + " per row, " +
      std::to_string(rowsPerBlock) + " rows\n";
  std::string launch = "extern \"C\" __global__ void __launch_bounds__(" +
                       std::to_string(kBlockThreads) + ")\n";
  // The name is a hash of everything but the name and the location, so
  // identical groups share one kernel.
  std::string name = "onerec_fused_" + fnvHex(launch + signature);
  CudaKernelSource result;
  result.name = name;
  result.source =
      header + kCudaPrelude.str() + "\n" + launch + name + signature;
  result.domain = RecTensorType::get(
      domain, domainElement ? domainElement : Builder(fused).getF32Type());
  result.threadsPerRow = threadsPerRow;
  result.rowsPerBlock = rowsPerBlock;
  return result;
}

} // namespace

FailureOr<CudaKernelSource> onerec::generateCudaKernel(Operation *fused) {
  return KernelWriter(fused).run();
}
