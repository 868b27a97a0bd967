//===- IpcheckTool.cpp - The standalone ipcheck tool ----------------------===//
//
//   ipcheck [--checks=GLOBS] [-p BUILD_DIR] FILE... [-- COMPILE_FLAGS]
//
// clang-tidy's conventions. Exit status: 0 clean, 1 findings reported as
// errors, 2 usage or compile errors.
//
//===----------------------------------------------------------------------===//

#include "engine/Driver.h"
#include "engine/LockOrder.h"
#include "engine/Sarif.h"

#include "clang/Frontend/CompilerInstance.h"
#include "clang/Frontend/FrontendActions.h"
#include "clang/Tooling/ArgumentsAdjusters.h"
#include "clang/Tooling/CommonOptionsParser.h"
#include "clang/Tooling/Tooling.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace clang;
using namespace clang::tooling;
namespace cl = llvm::cl;

static cl::OptionCategory IpcheckCategory("ipcheck options");

static cl::opt<std::string>
    Checks("checks",
           cl::desc("Comma-separated globs of checks to run, applied after the "
                    "default '*';\n"
                    "a '-' prefix removes: --checks=-*,ipc-check-then-act"),
           cl::init(""), cl::cat(IpcheckCategory));
static cl::opt<std::string> WarningsAsErrors(
    "warnings-as-errors",
    cl::desc("Globs of checks whose findings are errors (exit status 1)"),
    cl::init(""), cl::cat(IpcheckCategory));
static cl::opt<std::string>
    ExportSarif("export-sarif",
                cl::desc("Write the findings as SARIF 2.1.0 to this file"),
                cl::value_desc("file"), cl::cat(IpcheckCategory));
static cl::opt<std::string>
    BaselineFile("baseline",
                 cl::desc("Ignore the findings listed in this file"),
                 cl::value_desc("file"), cl::cat(IpcheckCategory));
static cl::opt<std::string> WriteBaseline(
    "write-baseline",
    cl::desc("Write the findings of this run as a baseline file and exit 0"),
    cl::value_desc("file"), cl::cat(IpcheckCategory));
static cl::list<std::string>
    ApiTables("api-table",
              cl::desc("An extra API table (YAML) or directory of tables"),
              cl::value_desc("file"), cl::cat(IpcheckCategory));
static cl::opt<bool>
    NoDefaultApi("no-default-api",
                 cl::desc("Do not load the API tables shipped with ipcheck"),
                 cl::cat(IpcheckCategory));
static cl::opt<std::string> SourceRoot(
    "source-root",
    cl::desc("Paths in SARIF and baselines are relative to this (default: the "
             "current directory)"),
    cl::value_desc("dir"), cl::cat(IpcheckCategory));
static cl::opt<std::string> ExportFacts(
    "export-facts",
    cl::desc("Write each file's lock-order facts into this directory, for "
             "--merge-facts"),
    cl::value_desc("dir"), cl::cat(IpcheckCategory));
static cl::opt<std::string> MergeFacts(
    "merge-facts",
    cl::desc("Report the lock-order cycles of every facts file in this "
             "directory\n(after checking the files given, if any)"),
    cl::value_desc("dir"), cl::cat(IpcheckCategory));
static cl::list<std::string> CheckOptions(
    "check-option",
    cl::desc("Set an option of a check: "
             "--check-option=ipc-blocking-under-lock.StrictTimeouts=true"),
    cl::value_desc("check.option=value"), cl::cat(IpcheckCategory));
static cl::opt<bool> ListChecks("list-checks",
                                cl::desc("List the checks and exit"),
                                cl::cat(IpcheckCategory));
static cl::extrahelp CommonHelp(CommonOptionsParser::HelpMessage);
static cl::extrahelp IpcheckHelp(R"(
Suppressing findings:
  // NOLINT or // NOLINT(ipc-check-then-act,...) on the line of a finding,
  // NOLINTNEXTLINE(ipc-*) on the line before it. To adopt ipcheck on an
  existing code base, --write-baseline=FILE records today's findings and
  --baseline=FILE reports only the others.

Lock-order cycles across files:
  --export-facts=DIR writes one facts file per translation unit (the plugin:
  -plugin-arg-ipcheck facts=DIR); then --merge-facts=DIR reports the cycles
  that the units form together (those one file forms alone were reported when
  it was checked).

Exit status:
  0  no finding reported as an error (warnings only)
  1  findings reported as errors (--warnings-as-errors)
  2  a usage error, a file that does not compile (clang's errors are
     printed), or a facts file that cannot be written or read

Examples:
  ipcheck -p build/ src/worker.cpp
  ipcheck --checks=-*,ipc-check-then-act src/worker.cpp -- -std=c++20 -Iinclude
  ipcheck --warnings-as-errors='ipc-*' --export-sarif=ipcheck.sarif -p build/ src/*.cpp
  ipcheck --export-facts=facts/ -p build/ src/*.cpp && ipcheck --merge-facts=facts/
)");

namespace {

class IpcheckFrontendAction : public ASTFrontendAction {
public:
  explicit IpcheckFrontendAction(
      std::shared_ptr<const ipcheck::RunConfig> Config)
      : Config(std::move(Config)) {}

protected:
  std::unique_ptr<ASTConsumer> CreateASTConsumer(CompilerInstance &CI,
                                                 llvm::StringRef) override {
    return ipcheck::createIpcheckConsumer(CI, Config);
  }

private:
  std::shared_ptr<const ipcheck::RunConfig> Config;
};

class IpcheckActionFactory : public FrontendActionFactory {
public:
  explicit IpcheckActionFactory(
      std::shared_ptr<const ipcheck::RunConfig> Config)
      : Config(std::move(Config)) {}
  std::unique_ptr<FrontendAction> create() override {
    return std::make_unique<IpcheckFrontendAction>(Config);
  }

private:
  std::shared_ptr<const ipcheck::RunConfig> Config;
};

void anchor() {}

/// --merge-facts: the cycles across the units, reported like any finding
/// (--checks, the baseline, --warnings-as-errors, SARIF). A file that cannot be
/// read is an error, and the cycles of the others are still reported.
bool mergeFacts(const ipcheck::RunConfig &Config, ipcheck::ReportLog &Log) {
  llvm::Expected<std::vector<std::string>> Files =
      ipcheck::listLockOrderFacts(MergeFacts);
  if (!Files) {
    llvm::errs() << "ipcheck: " << llvm::toString(Files.takeError()) << "\n";
    return false;
  }
  ipcheck::LockOrderMergeResult Merged =
      ipcheck::mergeLockOrderFacts(*Files, Config.Report.Root);
  for (const std::string &E : Merged.Errors)
    llvm::errs() << E << "\n";
  ipcheck::GlobList Enabled(Config.Report.Checks);
  ipcheck::GlobList AsErrors(Config.Report.WarningsAsErrors);
  for (ipcheck::ReportedFinding &F : Merged.Findings) {
    if (!Enabled.contains(F.Check))
      continue;
    if (Config.Report.Known && Config.Report.Known->contains(F)) {
      ++Log.Suppressed;
      continue;
    }
    if (AsErrors.contains(F.Check)) {
      F.Level = "error";
      ++Log.Errors;
    }
    ipcheck::printFinding(llvm::errs(), F, Config.Report.Root);
    Log.Findings.push_back(std::move(F));
  }
  if (Merged.TruncatedComponents)
    llvm::errs() << "ipcheck: note: " << Merged.TruncatedComponents
                 << " groups of locks have more cycles than were reported; "
                    "fixing those shown reveals the rest\n";
  return Merged.Errors.empty();
}

} // namespace

int main(int argc, const char **argv) {
  cl::SetVersionPrinter([](llvm::raw_ostream &OS) {
    OS << "ipcheck version " << ipcheck::ipcheckVersion()
       << " (LLVM " LLVM_VERSION_STRING ")\n";
  });
  // Listing needs no files; everything else needs at least one.
  bool Listing = false;
  for (int I = 1; I < argc; ++I)
    if (llvm::StringRef(argv[I]) == "--list-checks" ||
        llvm::StringRef(argv[I]) == "-list-checks" ||
        llvm::StringRef(argv[I]).starts_with("--merge-facts"))
      Listing = true;
  auto Parser = CommonOptionsParser::create(
      argc, argv, IpcheckCategory, Listing ? cl::ZeroOrMore : cl::OneOrMore,
      "ipcheck finds check-then-act races, lost updates and other mistakes of "
      "multi-process\nand multi-threaded C++ code (mp, POSIX, std, "
      "Boost.Interprocess).\n");
  if (!Parser) {
    llvm::errs() << "ipcheck: " << llvm::toString(Parser.takeError()) << "\n";
    return 2;
  }

  auto Shared = std::make_shared<ipcheck::RunConfig>();
  ipcheck::RunConfig &Config = *Shared;
  for (const std::string &Option : CheckOptions)
    if (llvm::Error E = Config.setCheckOption(Option)) {
      llvm::errs() << "ipcheck: error: " << llvm::toString(std::move(E))
                   << "\n";
      return 2;
    }
  if (ListChecks) {
    ipcheck::GlobList Enabled("*," + Checks);
    for (const auto &C : Config.Checks)
      if (Enabled.contains(C->name())) {
        llvm::outs() << C->name() << "\t" << C->summary() << "\n";
        for (const ipcheck::IpcCheck::OptionInfo &O : C->options())
          llvm::outs() << "  option " << C->name() << "." << O.Name << " ("
                       << O.Values << "): " << O.Help << "\n";
      }
    return 0;
  }
  if (llvm::Error E = Config.loadTables(reinterpret_cast<void *>(&anchor),
                                        ApiTables, !NoDefaultApi)) {
    llvm::errs() << "ipcheck: " << llvm::toString(std::move(E)) << "\n";
    return 2;
  }
  if (!BaselineFile.empty()) {
    if (llvm::Error E = Config.Known.load(BaselineFile)) {
      llvm::errs() << "ipcheck: " << llvm::toString(std::move(E)) << "\n";
      return 2;
    }
    Config.Report.Known = &Config.Known;
  }
  llvm::SmallString<256> Root(SourceRoot);
  if (Root.empty())
    llvm::sys::fs::current_path(Root);
  llvm::sys::fs::make_absolute(Root);
  llvm::SmallString<256> RealRoot;
  if (!llvm::sys::fs::real_path(Root, RealRoot))
    Root = RealRoot;
  Config.Report.Root = std::string(Root);
  Config.Report.Checks = "*," + Checks;
  Config.Report.WarningsAsErrors = WarningsAsErrors;
  ipcheck::ReportLog Log;
  Config.Log = &Log;

  ClangTool Tool(Parser->getCompilations(), Parser->getSourcePathList());
  // A build that runs the plugin (ipcheck_enable) has it in its compile
  // commands: the tool runs the same checks itself.
  Tool.appendArgumentsAdjuster(
      [](const CommandLineArguments &Args, llvm::StringRef) {
        CommandLineArguments Kept;
        for (size_t I = 0; I < Args.size(); ++I) {
          llvm::StringRef A = Args[I];
          if (A.starts_with("-fplugin=") && A.contains("ipcheck-plugin"))
            continue;
          if (A == "-Xclang" && I + 3 < Args.size() &&
              Args[I + 1] == "-plugin-arg-ipcheck") {
            I += 3;
            continue;
          }
          Kept.push_back(Args[I]);
        }
        return Kept;
      });
  // The tool lives in the build tree, far from clang's builtin headers.
  Tool.appendArgumentsAdjuster(
      getInsertArgumentAdjuster("-resource-dir=" IPCHECK_CLANG_RESOURCE_DIR,
                                ArgumentInsertPosition::END));
  Tool.appendArgumentsAdjuster(
      getInsertArgumentAdjuster("-fsyntax-only", ArgumentInsertPosition::END));
  IpcheckActionFactory Factory(Shared);
  Config.FactsDir = ExportFacts;
  int Status = Parser->getSourcePathList().empty() ? 0 : Tool.run(&Factory);
  bool FactsUnreadable = false;
  if (!MergeFacts.empty())
    FactsUnreadable = !mergeFacts(Config, Log);

  if (!ExportSarif.empty())
    if (llvm::Error E = ipcheck::writeSarif(ExportSarif, Log.Findings,
                                            Config.Checks, Root)) {
      llvm::errs() << "ipcheck: " << llvm::toString(std::move(E)) << "\n";
      return 2;
    }
  if (!WriteBaseline.empty()) {
    std::error_code EC;
    llvm::raw_fd_ostream OS(WriteBaseline, EC);
    if (EC) {
      llvm::errs() << "ipcheck: cannot write baseline '" << WriteBaseline
                   << "': " << EC.message() << "\n";
      return 2;
    }
    OS << "# ipcheck baseline: <fingerprint> <file>:<check>: <message>\n";
    for (const ipcheck::ReportedFinding &F : Log.Findings)
      OS << ipcheck::Baseline::entry(F) << "\n";
  }
  // Findings reported as errors fail a translation unit too; only a unit that
  // did not compile is a compile error.
  if (Status != 0 && Log.CompiledUnits < Parser->getSourcePathList().size())
    return 2;
  if (FactsUnreadable || Log.OutputErrors > 0)
    return 2;
  if (!WriteBaseline.empty())
    return 0;
  return Log.Errors > 0 ? 1 : 0;
}
