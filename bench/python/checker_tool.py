#!/usr/bin/env python3
"""The ipcheck tool over the whole corpus (one run, flags from a compile_commands.json) and the
Clang Static Analyzer with only alpha.unix.PthreadLock and unix.BlockInCriticalSection enabled
over the same files (one driver run per group of files that share flags: the driver analyzes
them one after the other in process, as the tool does), CPU seconds for the whole corpus.

Keys: tool_corpus_s, analyzer_corpus_s, corpus_files.
"""
import json

import _checker
import _common
from _checker import CLANGXX, STD

ANALYZER_CHECKERS = "alpha.unix.PthreadLock,unix.BlockInCriticalSection"


def main() -> None:
    args = _common.parse_args(__doc__.splitlines()[0])
    _, tool, work = _checker.build_paths()
    corpus = _checker.corpus_units()
    db = work / "db"
    db.mkdir(exist_ok=True)
    (db / "compile_commands.json").write_text(json.dumps(
        [{"directory": str(work), "file": str(u.source),
          "arguments": [CLANGXX, STD, *u.flags, "-c", str(u.source)]} for u in corpus], indent=1))
    groups: dict[tuple, list[str]] = {}
    for u in corpus:
        groups.setdefault(tuple(u.flags), []).append(str(u.source))
    analyzer = [[CLANGXX, STD, "-fsyntax-only", "-Xclang", "-analyze", "-Xclang",
                 f"-analyzer-checker={ANALYZER_CHECKERS}", "-Xclang", "-analyzer-output=text",
                 *flags, *files] for flags, files in groups.items()]
    figures = _checker.measure(
        [{"tool_corpus_s": [[str(tool), "-p", str(db), *(str(u.source) for u in corpus)]],
          "analyzer_corpus_s": analyzer}], args.repetitions, work)
    figures["corpus_files"] = len(corpus)
    _common.emit(figures)


if __name__ == "__main__":
    main()
