//===- KernelTestUtil.cpp - running kernels in tests ----------------------===//

#include "KernelTestUtil.h"

namespace onerec::kernels::test {

Status runKernel(OpCode op, KernelVariant variant,
                 const KernelAttrs &attributes,
                 const std::vector<HostTensor> &inputs,
                 std::vector<HostTensor> &outputs, RunOptions options) {
  DType key = inputs.empty() ? outputs.at(0).dtype : inputs.at(0).dtype;
  runtime::KernelFn fn = runtime::defaultKernelRegistry().find(
      op, key, runtime::Device::Cpu, variant);
  if (!fn)
    return Status::error(Status::Code::NotFound, std::string("no kernel for ") +
                                                     plan::EnumNameOpCode(op) +
                                                     " on " +
                                                     runtime::dtypeName(key));
  std::vector<TensorView> in, out;
  for (const HostTensor &t : inputs)
    in.push_back(t.view());
  for (const HostTensor &t : outputs)
    out.push_back(t.view());
  runtime::KernelContext context;
  context.pool = options.pool ? options.pool : &testPool();
  context.training = options.training;
  context.seed = options.seed;
  context.step = options.step;
  runtime::KernelCall call;
  call.inputs = in.data();
  call.numInputs = int(in.size());
  call.outputs = out.data();
  call.numOutputs = int(out.size());
  call.attrs = &attributes;
  call.context = &context;
  call.location = "test.rdsl:1:1";
  call.program = options.program;
  return fn(call);
}

void expectClose(const HostTensor &actual, const HostTensor &expected,
                 double rtol, double atol, const std::string &what) {
  ASSERT_EQ(actual.dtype, expected.dtype) << what;
  ASSERT_EQ(actual.numel(), expected.numel()) << what;
  int failures = 0;
  for (int64_t i = 0; i < actual.numel() && failures < 5; ++i) {
    double a = actual.value(i), e = expected.value(i);
    bool ok = actual.dtype == DType::f32
                  ? (std::isnan(a) && std::isnan(e)) || a == e ||
                        std::fabs(a - e) <= atol + rtol * std::fabs(e)
                  : a == e;
    if (!ok) {
      ++failures;
      ADD_FAILURE() << what << ": element " << i << " of "
                    << expected.shape.toString() << " is " << a << ", expected "
                    << e;
    }
  }
}

std::vector<HostTensor>
expectVariantsAgree(OpCode op, const KernelAttrs &attributes,
                    const std::vector<HostTensor> &inputs,
                    const std::vector<HostTensor> &outputs, double rtol,
                    double atol, RunOptions options) {
  std::vector<HostTensor> ref = outputs, opt = outputs;
  // Poison the optimized outputs so a kernel that skips elements is caught.
  for (HostTensor &t : opt)
    if (t.dtype == DType::f32 && !t.absent)
      for (int64_t i = 0; i < t.numel(); ++i)
        t.data<float>()[i] = NAN;
  Status r =
      runKernel(op, KernelVariant::Reference, attributes, inputs, ref, options);
  Status o =
      runKernel(op, KernelVariant::Optimized, attributes, inputs, opt, options);
  std::string what =
      std::string(plan::EnumNameOpCode(op)) + " on " +
      (inputs.empty() ? std::string() : inputs[0].shape.toString());
  EXPECT_TRUE(r.isOk()) << what << ": " << r.toString();
  EXPECT_TRUE(o.isOk()) << what << ": " << o.toString();
  if (r.isOk() && o.isOk())
    for (size_t i = 0; i < ref.size(); ++i)
      if (!ref[i].absent)
        expectClose(opt[i], ref[i], rtol, atol,
                    what + " result " + std::to_string(i));
  return ref;
}

std::vector<HostTensor> runOptimized(OpCode op, const KernelAttrs &attributes,
                                     const std::vector<HostTensor> &inputs,
                                     std::vector<HostTensor> outputs,
                                     RunOptions options) {
  Status s = runKernel(op, KernelVariant::Optimized, attributes, inputs,
                       outputs, options);
  EXPECT_TRUE(s.isOk()) << s.toString();
  return outputs;
}

} // namespace onerec::kernels::test
