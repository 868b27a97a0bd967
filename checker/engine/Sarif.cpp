//===- Sarif.cpp - SARIF 2.1.0 output -------------------------------------===//

#include "engine/Sarif.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

namespace ipcheck {

llvm::StringRef ipcheckVersion() { return IPCHECK_VERSION; }

static std::string fileUri(llvm::StringRef Path) {
  std::string Uri;
  for (char C : Path) {
    if (llvm::isAlnum(C) || llvm::StringRef("/-_.~").contains(C))
      Uri += C;
    else {
      char Buf[4];
      snprintf(Buf, sizeof Buf, "%%%02X", static_cast<unsigned char>(C));
      Uri += Buf;
    }
  }
  return Uri;
}

static llvm::json::Object physicalLocation(const ReportedFinding::Location &L) {
  llvm::json::Object Artifact{{"uri", fileUri(L.File)}};
  if (!llvm::sys::path::is_absolute(L.File))
    Artifact["uriBaseId"] = "%SRCROOT%";
  else
    Artifact["uri"] = "file://" + fileUri(L.File);
  return llvm::json::Object{
      {"physicalLocation",
       llvm::json::Object{
           {"artifactLocation", std::move(Artifact)},
           {"region", llvm::json::Object{{"startLine", L.Line},
                                         {"startColumn", L.Column}}}}}};
}

llvm::json::Value
buildSarif(const std::vector<ReportedFinding> &Findings,
           const std::vector<std::unique_ptr<IpcCheck>> &Checks,
           llvm::StringRef Root) {
  llvm::json::Array Rules;
  llvm::StringMap<unsigned> RuleIndex;
  for (const auto &C : Checks) {
    RuleIndex[C->name()] = Rules.size();
    Rules.push_back(llvm::json::Object{
        {"id", C->name()},
        {"name", C->name()},
        {"shortDescription", llvm::json::Object{{"text", C->summary()}}},
        {"fullDescription", llvm::json::Object{{"text", C->summary()}}},
        {"help", llvm::json::Object{{"text", C->summary()}}},
        {"defaultConfiguration", llvm::json::Object{{"level", "warning"}}}});
  }
  llvm::json::Array Results;
  for (const ReportedFinding &F : Findings) {
    llvm::json::Object Result{
        {"ruleId", F.Check},
        {"level", F.Level == "error" ? "error" : "warning"},
        {"message", llvm::json::Object{{"text", F.Primary.Message}}},
        {"locations", llvm::json::Array{physicalLocation(F.Primary)}},
        {"partialFingerprints",
         llvm::json::Object{{"ipcheckFingerprint/v1", F.Fingerprint}}}};
    auto It = RuleIndex.find(F.Check);
    if (It != RuleIndex.end())
      Result["ruleIndex"] = It->second;
    if (!F.Notes.empty()) {
      // A threadFlow per witness path: the notes of each flow in order, the
      // finding itself among flow 0's steps.
      unsigned Flows = 1;
      for (const ReportedFinding::Location &N : F.Notes)
        Flows = std::max(Flows, N.Flow + 1);
      std::vector<llvm::json::Array> Steps(Flows);
      auto Step = [](const ReportedFinding::Location &L) {
        llvm::json::Object Loc = physicalLocation(L);
        Loc["message"] = llvm::json::Object{{"text", L.Message}};
        return llvm::json::Object{{"location", std::move(Loc)}};
      };
      bool PrimaryPlaced = false;
      for (const ReportedFinding::Location &N : F.Notes) {
        if (N.Flow == 0 && !PrimaryPlaced && Steps[0].size() == F.PrimaryStep) {
          Steps[0].push_back(Step(F.Primary));
          PrimaryPlaced = true;
        }
        Steps[N.Flow].push_back(Step(N));
      }
      if (!PrimaryPlaced)
        Steps[0].push_back(Step(F.Primary));
      llvm::json::Array ThreadFlows;
      for (llvm::json::Array &S : Steps)
        if (!S.empty())
          ThreadFlows.push_back(llvm::json::Object{{"locations", std::move(S)}});
      llvm::json::Array RelatedLocations;
      unsigned Id = 0;
      for (const ReportedFinding::Location &N : F.Notes) {
        llvm::json::Object Loc = physicalLocation(N);
        Loc["id"] = Id++;
        Loc["message"] = llvm::json::Object{{"text", N.Message}};
        RelatedLocations.push_back(std::move(Loc));
      }
      Result["relatedLocations"] = std::move(RelatedLocations);
      Result["codeFlows"] = llvm::json::Array{
          llvm::json::Object{{"threadFlows", std::move(ThreadFlows)}}};
    }
    Results.push_back(std::move(Result));
  }
  std::string RootUri = "file://" + fileUri(Root);
  if (!llvm::StringRef(RootUri).ends_with("/"))
    RootUri += "/";
  return llvm::json::Object{
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs",
       llvm::json::Array{llvm::json::Object{
           {"tool",
            llvm::json::Object{{"driver",
                                llvm::json::Object{
                                    {"name", "ipcheck"},
                                    {"version", ipcheckVersion()},
                                    {"semanticVersion", ipcheckVersion()},
                                    {"rules", std::move(Rules)},
                                }}}},
           {"originalUriBaseIds",
            llvm::json::Object{
                {"%SRCROOT%", llvm::json::Object{{"uri", RootUri}}}}},
           {"columnKind", "utf16CodeUnits"},
           {"results", std::move(Results)}}}}};
}

llvm::Error writeSarif(llvm::StringRef Path,
                       const std::vector<ReportedFinding> &Findings,
                       const std::vector<std::unique_ptr<IpcCheck>> &Checks,
                       llvm::StringRef Root) {
  std::error_code EC;
  llvm::raw_fd_ostream OS(Path, EC);
  if (EC)
    return llvm::createStringError(EC, "cannot write SARIF to '%s'",
                                   Path.str().c_str());
  OS << llvm::formatv("{0:2}", buildSarif(Findings, Checks, Root)) << "\n";
  return llvm::Error::success();
}

} // namespace ipcheck
