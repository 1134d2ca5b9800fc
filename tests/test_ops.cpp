// The op-case table (tests/ops/op_case.h) as tests: for every case of every op family,
// - CpuWritesEveryOutputDeterministically: the CPU twin run twice, on one thread and on two, into outputs poisoned
//   with different bytes, gives bit-identical outputs (an unwritten element keeps its poison and differs; a result
//   that depends on the thread count differs);
// - CudaMatchesTheCpuTwin: the CUDA twin against the CPU twin under each output's stated tolerance (skipped
//   without a device);
// and the table covers every op family declared in kernels/*.h.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <set>

#include "kernels/threads.h"
#include "tests/ops/op_case.h"
#include "tests/support/cuda.h"
#include "tests/support/paths.h"

namespace rosetta {
namespace {

using ops::OpCase;
using ops::OpOutput;
using ops::OpRun;

class OpTable : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpTable, CpuWritesEveryOutputDeterministically) {
  const OpCase& c = GetParam();
  const Context& cpu = Context::cpu();
  const OpRun first = c.make(cpu, 0xff), second = c.make(cpu, 0x7f);
  const int threads = kernels::cpu_threads();
  kernels::set_cpu_threads(1);
  first.call();
  kernels::set_cpu_threads(2);
  second.call();
  kernels::set_cpu_threads(threads);
  ASSERT_EQ(first.outputs.size(), second.outputs.size());
  for (std::size_t o = 0; o < first.outputs.size(); ++o)
    EXPECT_TRUE(ops::same_bits(first.outputs[o].tensor, second.outputs[o].tensor))
        << c.name() << " " << first.outputs[o].name
        << ": unwritten elements, or a difference between runs or thread counts (1 and 2)";
}

TEST_P(OpTable, CudaMatchesTheCpuTwin) {
  ROSETTA_REQUIRE_CUDA();
  const OpCase& c = GetParam();
  const OpRun cpu = c.make(Context::cpu(), 0xff);
  const OpRun gpu = c.make(Context::cuda(), 0xff);
  cpu.call();
  gpu.call();
  Context::cuda().synchronize();
  ASSERT_EQ(cpu.outputs.size(), gpu.outputs.size());
  for (std::size_t o = 0; o < cpu.outputs.size(); ++o) {
    const OpOutput& expected = cpu.outputs[o];
    const std::string mismatch = ops::compare(gpu.outputs[o].tensor, expected.tensor, expected.tolerance);
    EXPECT_TRUE(mismatch.empty()) << c.name() << " " << expected.name << ": " << mismatch << "\n  tolerance "
                                  << expected.tolerance.str() << ": " << expected.tolerance.reason;
  }
}

std::string test_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string name = info.param.name();
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpTable, ::testing::ValuesIn(ops::all_op_cases()), test_name);

TEST(OpTableCoverage, EveryKernelHeaderHasCasesAndEveryCaseItsFamily) {
  // An op family is a kernels/<family>.inc: the ops declared for both twins (kernels/<family>.h includes it).
  std::set<std::string> headers;
  for (const auto& entry : std::filesystem::directory_iterator(testing::source_dir() + "/kernels"))
    if (entry.path().extension() == ".inc") headers.insert(entry.path().stem());
  std::set<std::string> families;
  for (const OpCase& c : ops::all_op_cases()) {
    families.insert(c.family);
    EXPECT_TRUE(headers.count(c.family)) << c.name() << ": no kernels/" << c.family << ".h";
    for (const char* part : {c.op.c_str(), c.variant.c_str(), c.shape.c_str()})
      EXPECT_FALSE(std::string(part).empty()) << c.family << ": a case without op, variant or shape";
  }
  for (const std::string& header : headers) EXPECT_TRUE(families.count(header)) << "kernels/" << header << ".h has no op cases";
}

TEST(OpTableCoverage, NamesAreUnique) {
  std::set<std::string> names;
  for (const OpCase& c : ops::all_op_cases()) EXPECT_TRUE(names.insert(c.name()).second) << c.name() << " twice";
}

}  // namespace
}  // namespace rosetta
