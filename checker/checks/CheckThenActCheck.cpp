//===- CheckThenActCheck.cpp - ipc-check-then-act -------------------------===//

#include "checks/CheckThenActCheck.h"

#include "clang/AST/ASTContext.h"
#include <algorithm>

namespace ipcheck {

void CheckThenActCheck::check(const FunctionResult &Result,
                              AnalysisContext &Ctx,
                              std::vector<Finding> &Findings) {
  const unsigned WriteRoles = RoleWrite | RoleAtomicRMW | RoleWriteBack;
  for (const ActionFact &Fact : Result.Facts) {
    if (Fact.Object != UnknownPath && !Ctx.isReportable(Fact.Object))
      continue;
    if (Fact.Object == UnknownPath || (!(Fact.Roles & ActionRoles) &&
                                       Fact.Kind != ActionFact::CompoundUpdate))
      continue;
    if (Fact.Revalidated ||
        (Fact.ResultChecked && (Fact.Roles & (RoleAtomicRMW | RoleTryAcquire))))
      continue;
    if ((Fact.Roles & RoleTryAcquire) && !(Fact.Roles & RoleAtomicRMW))
      continue; // A try- operation fails instead of acting on a stale check.
    bool IsWrite =
        (Fact.Roles & WriteRoles) || Fact.Kind == ActionFact::CompoundUpdate;
    std::vector<ReadKey> Deciding;
    for (ReadKey Key : Fact.ControlReads)
      // A read that also computes the written value is a non-atomic update,
      // reported by ipc-nonatomic-update.
      if (!IsWrite || !llvm::is_contained(Fact.DataReads, Key))
        Deciding.push_back(Key);
    if (!IsWrite)
      Deciding.insert(Deciding.end(), Fact.DataReads.begin(),
                      Fact.DataReads.end());
    if (Deciding.empty())
      continue;
    ReadKey First = firstRead(Result, Deciding, Ctx.AST.getSourceManager());
    const ReadSite &Read = Result.Reads.at(First);
    std::string Object = Ctx.Paths.display(Fact.Object);
    Finding F;
    F.Check = std::string(name());
    F.Loc = Fact.Loc;
    F.Function = Result.Function;
    F.Message = "'" + Object + "' may change between the check and '" +
                Fact.Api + "': no lock is held from one to the other";
    F.Notes.push_back(
        {Read.Loc, "'" + Object + "' is checked here" +
                       (Read.Api.empty() ? "" : " by '" + Read.Api + "'")});
    Findings.push_back(std::move(F));
  }
}

} // namespace ipcheck
