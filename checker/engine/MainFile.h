//===- MainFile.h - What a unit's own code is ---------------------*- C++
//-*-===//
//
// A translation unit checks the code written in its main file; what a header
// declares is checked by the units that own it. A declaration made by a macro
// counts where the macro expands.
//
//===----------------------------------------------------------------------===//
#ifndef IPCHECK_ENGINE_MAINFILE_H
#define IPCHECK_ENGINE_MAINFILE_H

#include "clang/AST/RecursiveASTVisitor.h"
#include "clang/Basic/SourceManager.h"

namespace ipcheck {

/// Whether \p D is written in the main file of its unit.
inline bool writtenInMainFile(const clang::Decl *D,
                              const clang::SourceManager &SM) {
  return SM.isInMainFile(SM.getExpansionLoc(D->getLocation()));
}

/// A RecursiveASTVisitor that does not descend into declarations written
/// outside the main file.
template <class Derived>
class MainFileVisitor : public clang::RecursiveASTVisitor<Derived> {
public:
  explicit MainFileVisitor(const clang::SourceManager &SM) : SM(SM) {}

  bool TraverseDecl(clang::Decl *D) {
    if (!D)
      return true;
    if (!clang::isa<clang::TranslationUnitDecl>(D) &&
        D->getLocation().isValid() && !writtenInMainFile(D, SM))
      return true;
    return clang::RecursiveASTVisitor<Derived>::TraverseDecl(D);
  }

protected:
  const clang::SourceManager &SM;
};

} // namespace ipcheck

#endif // IPCHECK_ENGINE_MAINFILE_H
