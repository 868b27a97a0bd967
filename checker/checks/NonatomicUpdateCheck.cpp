//===- NonatomicUpdateCheck.cpp - ipc-nonatomic-update --------------------===//

#include "checks/NonatomicUpdateCheck.h"

#include "clang/AST/ASTContext.h"

namespace ipcheck {

void NonatomicUpdateCheck::check(const FunctionResult &Result,
                                 AnalysisContext &Ctx,
                                 std::vector<Finding> &Findings) {
  const unsigned WriteRoles = RoleWrite | RoleAtomicRMW | RoleWriteBack;
  for (const ActionFact &Fact : Result.Facts) {
    if (Fact.Object != UnknownPath && !Ctx.isReportable(Fact.Object))
      continue;
    std::string Object = Ctx.Paths.display(Fact.Object);
    Finding F;
    F.Check = std::string(name());
    F.Loc = Fact.Loc;
    F.Function = Result.Function;
    if (Fact.Kind == ActionFact::CompoundUpdate) {
      if (!Fact.HeldLocks.empty())
        continue;
      F.Message = "non-atomic update of '" + Object + "': '" + Fact.Api +
                  "' reads and writes in separate steps with no lock held";
      Findings.push_back(std::move(F));
      continue;
    }
    if (!(Fact.Roles & WriteRoles) || Fact.DataReads.empty())
      continue;
    ReadKey First =
        firstRead(Result, Fact.DataReads, Ctx.AST.getSourceManager());
    const ReadSite &Read = Result.Reads.at(First);
    F.Message = "non-atomic update of '" + Object + "': '" + Fact.Api +
                "' writes a value computed from an earlier read with no lock "
                "held across both";
    F.Notes.push_back(
        {Read.Loc, "'" + Object + "' is read here" +
                       (Read.Api.empty() ? "" : " by '" + Read.Api + "'")});
    Findings.push_back(std::move(F));
  }
}

} // namespace ipcheck
