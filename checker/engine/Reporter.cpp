//===- Reporter.cpp - From findings to diagnostics ------------------------===//

#include "engine/Reporter.h"

#include "clang/AST/Decl.h"
#include "clang/Basic/Diagnostic.h"
#include "clang/Basic/SourceManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MD5.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace clang;

namespace ipcheck {

GlobList::GlobList(llvm::StringRef Globs) {
  llvm::SmallVector<llvm::StringRef, 8> Parts;
  Globs.split(Parts, ',', -1, false);
  for (llvm::StringRef Part : Parts) {
    Part = Part.trim();
    if (Part.empty())
      continue;
    bool Positive = !Part.consume_front("-");
    Items.push_back({Positive, Part.trim().str()});
  }
}

static bool globMatch(llvm::StringRef Pattern, llvm::StringRef Name) {
  // `*` is the only wildcard, as in clang-tidy.
  size_t Star = Pattern.find('*');
  if (Star == llvm::StringRef::npos)
    return Pattern == Name;
  llvm::StringRef Head = Pattern.substr(0, Star);
  if (!Name.starts_with(Head))
    return false;
  llvm::StringRef Rest = Pattern.substr(Star + 1);
  for (size_t I = Head.size(); I <= Name.size(); ++I)
    if (globMatch(Rest, Name.substr(I)))
      return true;
  return false;
}

bool GlobList::contains(llvm::StringRef Name) const {
  bool Result = false;
  for (const Item &I : Items)
    if (globMatch(I.Pattern, Name))
      Result = I.Positive;
  return Result;
}

llvm::Error Baseline::load(llvm::StringRef Path) {
  auto Buffer = llvm::MemoryBuffer::getFile(Path);
  if (!Buffer)
    return llvm::createStringError(
        Buffer.getError(), "cannot read baseline '%s'", Path.str().c_str());
  llvm::SmallVector<llvm::StringRef, 64> Lines;
  (*Buffer)->getBuffer().split(Lines, '\n', -1, false);
  for (llvm::StringRef Line : Lines) {
    Line = Line.trim();
    if (Line.empty() || Line.starts_with("#"))
      continue;
    // `<fingerprint> <file>:<check>: <message>`, or only one of the two halves.
    auto [First, Rest] = Line.split(' ');
    if (First.size() == 32 && llvm::all_of(First, llvm::isHexDigit)) {
      Fingerprints.insert(First.str());
      if (!Rest.trim().empty())
        Keys.insert(Rest.trim().str());
    } else {
      Keys.insert(Line.str());
    }
  }
  return llvm::Error::success();
}

std::string Baseline::key(const ReportedFinding &F) {
  return F.Primary.File + ":" + F.Check + ": " + F.Primary.Message;
}

std::string Baseline::entry(const ReportedFinding &F) {
  return F.Fingerprint + " " + key(F);
}

bool Baseline::contains(const ReportedFinding &F) const {
  return Fingerprints.count(F.Fingerprint) || Keys.count(key(F));
}

static llvm::StringRef lineText(const SourceManager &SM, SourceLocation Loc) {
  std::pair<FileID, unsigned> Decomposed = SM.getDecomposedLoc(Loc);
  bool Invalid = false;
  llvm::StringRef Buffer = SM.getBufferData(Decomposed.first, &Invalid);
  if (Invalid)
    return "";
  size_t Begin =
      Buffer.rfind('\n', Decomposed.second); // Searches before the offset.
  Begin = Begin == llvm::StringRef::npos ? 0 : Begin + 1;
  size_t End = Buffer.find('\n', Decomposed.second);
  return Buffer.slice(Begin,
                      End == llvm::StringRef::npos ? Buffer.size() : End);
}

static bool nolintSilences(llvm::StringRef Line, llvm::StringRef Marker,
                           llvm::StringRef Check) {
  size_t Pos = Line.find(Marker);
  while (Pos != llvm::StringRef::npos) {
    llvm::StringRef After = Line.substr(Pos + Marker.size());
    if (Marker == "NOLINT" && After.starts_with("NEXTLINE")) {
      Pos = Line.find(Marker, Pos + 1);
      continue;
    }
    if (!After.starts_with("("))
      return true;
    size_t Close = After.find(')');
    if (Close != llvm::StringRef::npos &&
        GlobList(After.slice(1, Close)).contains(Check))
      return true;
    Pos = Line.find(Marker, Pos + 1);
  }
  return false;
}

bool isSuppressedByNolint(const SourceManager &SM, SourceLocation Loc,
                          llvm::StringRef Check) {
  if (Loc.isInvalid())
    return false;
  Loc = SM.getExpansionLoc(Loc);
  if (nolintSilences(lineText(SM, Loc), "NOLINT", Check))
    return true;
  unsigned Line = SM.getExpansionLineNumber(Loc);
  if (Line <= 1)
    return false;
  SourceLocation Previous = SM.translateLineCol(SM.getFileID(Loc), Line - 1, 1);
  return nolintSilences(lineText(SM, Previous), "NOLINTNEXTLINE", Check);
}

std::string fingerprint(llvm::StringRef Check, llvm::StringRef File,
                        llvm::StringRef LineText, llvm::StringRef Function,
                        llvm::StringRef Message) {
  std::string Normalized;
  for (char C : LineText)
    if (!llvm::isSpace(C))
      Normalized += C;
  llvm::MD5 Hash;
  for (llvm::StringRef Part :
       {Check, File, llvm::StringRef(Normalized), Function, Message}) {
    Hash.update(Part);
    Hash.update(llvm::ArrayRef<uint8_t>{0});
  }
  llvm::MD5::MD5Result Result;
  Hash.final(Result);
  return std::string(Result.digest());
}

void printFinding(llvm::raw_ostream &OS, const ReportedFinding &F,
                  llvm::StringRef Root) {
  llvm::StringMap<std::unique_ptr<llvm::MemoryBuffer>> Files;
  // Under each location, as clang shows it: the line and a caret, when the
  // file is there to read.
  auto Snippet = [&](const ReportedFinding::Location &L) {
    llvm::SmallString<256> Path(L.File);
    if (!llvm::sys::path::is_absolute(Path) && !Root.empty()) {
      Path = Root;
      llvm::sys::path::append(Path, L.File);
    }
    auto [It, New] = Files.try_emplace(Path);
    if (New)
      if (auto Buffer = llvm::MemoryBuffer::getFile(Path))
        It->second = std::move(*Buffer);
    if (!It->second || L.Line == 0)
      return;
    llvm::StringRef Rest = It->second->getBuffer();
    for (unsigned I = 1; I < L.Line && !Rest.empty(); ++I)
      Rest = Rest.split('\n').second;
    llvm::StringRef Text = Rest.split('\n').first.rtrim("\r");
    if (Text.empty() && Rest.empty())
      return;
    std::string Number = std::to_string(L.Line);
    std::string Gutter(std::max<size_t>(5, Number.size() + 1), ' ');
    OS << llvm::StringRef(Gutter).drop_back(Number.size()) << Number << " | "
       << Text << "\n"
       << Gutter << " | ";
    for (unsigned I = 1; I < L.Column && I - 1 < Text.size(); ++I)
      OS << (Text[I - 1] == '\t' ? '\t' : ' ');
    OS << "^\n";
  };
  auto Where = [&](const ReportedFinding::Location &L) {
    OS << L.File << ":" << L.Line << ":" << L.Column << ": ";
  };
  Where(F.Primary);
  OS << (F.Level == "error" ? "error: " : "warning: ") << F.Primary.Message
     << " [" << F.Check << "]\n";
  Snippet(F.Primary);
  for (const ReportedFinding::Location &N : F.Notes) {
    Where(N);
    OS << "note: " << N.Message << "\n";
    Snippet(N);
  }
}

Reporter::Reporter(const ReportOptions &Options, ReportLog *Log)
    : Options(Options), Log(Log), Checks(Options.Checks),
      AsErrors(Options.WarningsAsErrors) {}

std::string Reporter::relativePath(const SourceManager &SM,
                                   SourceLocation Loc) const {
  FileID FID = SM.getFileID(Loc);
  OptionalFileEntryRef Entry = SM.getFileEntryRefForID(FID);
  if (!Entry)
    return "";
  llvm::SmallString<256> Path(Entry->getFileEntry().tryGetRealPathName());
  if (Path.empty()) {
    Path = Entry->getName();
    llvm::sys::fs::make_absolute(Path);
  }
  llvm::sys::path::remove_dots(Path, true);
  llvm::StringRef Root = Options.Root;
  if (!Root.empty()) {
    llvm::StringRef P = Path;
    llvm::SmallString<256> Prefix(Root);
    if (!Prefix.ends_with("/"))
      Prefix += "/";
    if (P.consume_front(Prefix))
      return P.str();
  }
  return std::string(Path);
}

ReportedFinding Reporter::resolve(const Finding &F,
                                  const SourceManager &SM) const {
  ReportedFinding R;
  R.Check = F.Check;
  auto Locate = [&](SourceLocation Loc, const std::string &Message) {
    ReportedFinding::Location L;
    SourceLocation E = SM.getExpansionLoc(Loc);
    L.File = relativePath(SM, E);
    L.Line = SM.getExpansionLineNumber(E);
    L.Column = SM.getExpansionColumnNumber(E);
    L.Message = Message;
    return L;
  };
  R.Primary = Locate(F.Loc, F.Message);
  for (const FindingNote &N : F.Notes) {
    R.Notes.push_back(Locate(N.Loc, N.Message));
    R.Notes.back().Flow = N.Flow;
  }
  R.PrimaryStep = F.PrimaryStep;
  if (F.Function)
    R.Function = F.Function->getQualifiedNameAsString();
  R.Fingerprint = fingerprint(R.Check, R.Primary.File,
                              lineText(SM, SM.getExpansionLoc(F.Loc)),
                              R.Function, R.Primary.Message);
  return R;
}

void Reporter::report(const Finding &F, DiagnosticsEngine &Diags,
                      const SourceManager &SM) {
  if (!enabled(F.Check) || isSuppressedByNolint(SM, F.Loc, F.Check))
    return;
  ReportedFinding R = resolve(F, SM);
  if (Options.Known && Options.Known->contains(R)) {
    if (Log)
      ++Log->Suppressed;
    return;
  }
  bool AsError = AsErrors.contains(F.Check) || Diags.getWarningsAsErrors();
  if (Diags.getIgnoreAllWarnings() && !AsErrors.contains(F.Check))
    return;
  unsigned ID = AsError
                    ? Diags.getCustomDiagID(DiagnosticsEngine::Error, "%0")
                    : Diags.getCustomDiagID(DiagnosticsEngine::Warning, "%0");
  unsigned NoteID = Diags.getCustomDiagID(DiagnosticsEngine::Note, "%0");
  {
    DiagnosticBuilder B = Diags.Report(F.Loc, ID);
    B << (F.Message + " [" + F.Check + "]");
    for (const FixItHint &Fix : F.Fixes)
      B << Fix;
  }
  for (const FindingNote &N : F.Notes) {
    DiagnosticBuilder B = Diags.Report(N.Loc, NoteID);
    B << N.Message;
    for (const FixItHint &Fix : N.Fixes)
      B << Fix;
  }
  R.Level = AsError ? "error" : "warning";
  if (Log) {
    if (AsError)
      ++Log->Errors;
    Log->Findings.push_back(std::move(R));
  }
}

} // namespace ipcheck
