#!/usr/bin/env python3
"""Mutation testing of ttrank's native test suite (a developer tool, not part
of `make check`).

Applies single-point mutations, one at a time, to the given source files in
a private copy of the tree, rebuilds the native test binary in its own build
directory, runs it with a timeout, and reports per file how many mutants the
tests killed, how many survived, and how many were equivalent (the object
code did not change) or did not build. Survivors are listed with their line.

    scripts/mutate.py src/train.c                       # every mutant of train.c
    scripts/mutate.py --sample 100 --seed 3 src/train.c src/model.c
    scripts/mutate.py --list src/train.c                # only print the mutants
    scripts/mutate.py --test-args "--filter train_*/*" src/train.c

Mutations (per token, outside comments, strings and preprocessor lines):
  relational  <  <=  >  >=  ==  !=   (each to its neighbours)
  logical     && <-> ||, a unary ! removed
  arithmetic  binary + - * /  and  += -= *= /=  (swapped pairwise)
  constants   integers n -> n + 1 and n - 1; floats x2 and x0.5 (0 -> 1)
  statements  a one-line expression statement replaced by {}

Kill rate = killed / (killed + survived): equivalent and build-failing
mutants make no difference and are not counted. A mutant whose test run
times out counts as killed (shown apart).

The copy lives in a temporary directory (or --workdir); the tree you run it
from is never modified. Each mutant costs one incremental build (one object
and the link) plus one run of the test binary; the suite takes a few seconds
natively, so 100 mutants take roughly 10-20 minutes on 2 cores.
"""
import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TYPE_WORDS = {
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned",
    "const", "volatile", "static", "struct", "enum", "union", "inline", "restrict",
    "size_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "int8_t", "int16_t",
    "int32_t", "int64_t", "uintptr_t", "FILE",
}
NON_OPERAND_WORDS = {"return", "sizeof", "case", "else", "do", "goto"}
STMT_SKIP = re.compile(
    r"^(return|break|continue|goto|case|default|else|if|for|while|do|switch|typedef|"
    r"static|extern|const|struct|enum|union|unsigned|signed|void|char|short|int|long|float|"
    r"double|size_t|u?int(8|16|32|64)_t|uintptr_t|ttr_\w+\s*\*?\s*\w+\s*[=;\[]|ttr__\w+\s+\*?\w)")

REL = {"<": ["<=", ">"], "<=": ["<", ">"], ">": [">=", "<"], ">=": [">", "<"],
       "==": ["!="], "!=": ["=="]}
LOGIC = {"&&": ["||"], "||": ["&&"]}
ARITH = {"+": ["-"], "-": ["+"], "*": ["/"], "/": ["*"]}
ASSIGN = {"+=": ["-="], "-=": ["+="], "*=": ["/="], "/=": ["*="]}

TOKEN = re.compile(r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<number>(?:0[xX][0-9a-fA-F]+|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)[uUlLfF]*)
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<op>->|\+\+|--|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||\+=|-=|\*=|/=|%=|&=|\|=|\^=|[-+*/%<>=!&|^~?:;,.(){}\[\]])
  | (?P<ws>\s+)
  | (?P<other>.)
""", re.S | re.X)


class Mutant:
    def __init__(self, path, line, start, end, new, desc):
        self.path, self.line, self.start, self.end, self.new, self.desc = (
            path, line, start, end, new, desc)

    def apply(self, text):
        return text[:self.start] + self.new + text[self.end:]

    def label(self):
        return "%s:%d: %s" % (self.path, self.line, self.desc)


def number_mutations(tok):
    m = re.match(r"^(0[xX][0-9a-fA-F]+|[0-9.]+(?:[eE][+-]?\d+)?)([uUlLfF]*)$", tok)
    if not m:
        return []
    body, suffix = m.groups()
    is_float = (not body.lower().startswith("0x")) and (
        "." in body or "e" in body.lower() or "f" in suffix.lower())
    out = []
    if is_float:
        v = float(body)
        if v == 0.0:
            out.append(("1.0" + suffix, "%s -> 1.0" % tok))
        else:
            for f, name in ((2.0, "x2"), (0.5, "x0.5")):
                out.append((repr(v * f) + suffix, "%s %s" % (tok, name)))
    else:
        v = int(body, 0)
        out.append((str(v + 1) + suffix, "%s -> %d" % (tok, v + 1)))
        if v > 0:
            out.append((str(v - 1) + suffix, "%s -> %d" % (tok, v - 1)))
    return out


def line_starts(text):
    starts = [0]
    for i, c in enumerate(text):
        if c == "\n":
            starts.append(i + 1)
    return starts


def mutants_of(path, text):
    out = []
    starts = line_starts(text)

    def lineno(pos):
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    lines = text.split("\n")
    pre = set()  # lines of preprocessor directives (with continuations)
    cont = False
    for i, l in enumerate(lines):
        if cont or l.lstrip().startswith("#"):
            pre.add(i + 1)
            cont = l.rstrip().endswith("\\")
        else:
            cont = False

    prev = None  # previous significant token (kind, text)
    for m in TOKEN.finditer(text):
        kind = m.lastgroup
        tok = m.group(kind)
        if kind in ("ws", "comment"):
            continue
        ln = lineno(m.start())
        if ln in pre:
            prev = None
            continue
        operand_before = prev is not None and (
            prev[0] == "number" or (prev[0] == "ident" and prev[1] not in NON_OPERAND_WORDS)
            or prev[1] in (")", "]"))
        decl_before = prev is not None and prev[0] == "ident" and (
            prev[1] in TYPE_WORDS or re.match(r"^(ttr_\w+|\w+_t)$", prev[1]) is not None)
        news = []
        if kind == "op":
            if tok in REL:
                news = [(n, "%s -> %s" % (tok, n)) for n in REL[tok]]
            elif tok in LOGIC:
                news = [(n, "%s -> %s" % (tok, n)) for n in LOGIC[tok]]
            elif tok in ASSIGN:
                news = [(n, "%s -> %s" % (tok, n)) for n in ASSIGN[tok]]
            elif tok in ARITH and operand_before and not (tok == "*" and decl_before):
                news = [(n, "%s -> %s" % (tok, n)) for n in ARITH[tok]]
            elif tok == "!" and not operand_before:
                news = [("", "! removed")]
        elif kind == "number":
            news = number_mutations(tok)
        for new, desc in news:
            out.append(Mutant(path, ln, m.start(), m.end(), new, desc))
        if kind != "ws":
            prev = (kind, tok)

    # statement deletion: one-line expression statements
    for i, l in enumerate(lines):
        s = l.strip()
        if (i + 1) in pre or not s.endswith(";") or s.startswith(("/", "*", "}")):
            continue
        if STMT_SKIP.match(s) or s.count("(") != s.count(")") or "{" in s or "}" in s:
            continue
        if not re.match(r"^[A-Za-z_(*]", s):
            continue
        # a declaration with an initialiser: "type name = ..." (two words then = or [)
        if re.match(r"^[A-Za-z_]\w*\s+\**\s*[A-Za-z_]\w*\s*(=|\[|;|,)", s):
            continue
        prev_line = lines[i - 1].rstrip() if i else ""
        if prev_line.endswith((",", "(", "=", "+", "-", "*", "/", "?", ":", "&&", "||")):
            continue  # the tail of a multi-line statement
        start = starts[i] + l.index(s)
        out.append(Mutant(path, i + 1, start, start + len(s), "{}",
                          "statement deleted: %s" % (s if len(s) < 60 else s[:57] + "...")))
    return out


def run(cmd, cwd, timeout=None, log=None):
    """Run cmd; returns (rc, seconds, timed_out). The whole process group is
    killed on timeout (Criterion forks a process per test)."""
    t0 = time.time()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=log or subprocess.DEVNULL,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        rc = p.wait(timeout=timeout)
        return rc, time.time() - t0, False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        return -1, time.time() - t0, True


def stripped_object(work, build, src):
    obj = os.path.join(work, build, os.path.splitext(src)[0] + ".o")
    if not os.path.exists(obj):
        return None
    out = obj + ".stripped"
    if subprocess.call(["objcopy", "--strip-debug", obj, out]) != 0:
        return None
    with open(out, "rb") as f:
        data = f.read()
    os.unlink(out)
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="source files to mutate (paths in the tree)")
    ap.add_argument("--sample", type=int, default=0, help="random sample of this many mutants")
    ap.add_argument("--seed", type=int, default=1, help="seed of the sample")
    ap.add_argument("--timeout", type=float, default=0,
                    help="seconds per test run (default: 5x the clean run, at least 60)")
    ap.add_argument("--jobs", type=int, default=2, help="make -j and the test binary's -j")
    ap.add_argument("--test-args", default="", help="extra arguments of the test binary")
    ap.add_argument("--make-args", default="", help="extra make arguments (e.g. COMPILER=clang)")
    ap.add_argument("--workdir", help="where to copy the tree (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the copy afterwards")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--log", help="append one line per mutant to this file")
    a = ap.parse_args()

    root = subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip()
    files = [os.path.relpath(os.path.abspath(f), root) for f in a.files]
    texts = {}
    allm = []
    for f in files:
        with open(os.path.join(root, f)) as fh:
            texts[f] = fh.read()
        allm += mutants_of(f, texts[f])
    if a.sample and a.sample < len(allm):
        rnd = random.Random(a.seed)
        allm = sorted(rnd.sample(allm, a.sample), key=lambda m: (m.path, m.start))
    if a.list:
        for m in allm:
            print(m.label())
        print("%d mutants" % len(allm))
        return 0

    work = a.workdir or tempfile.mkdtemp(prefix="ttrank-mutate-")
    build = "build/mutate"
    ignore = shutil.ignore_patterns("build", ".git", "*.o", "__pycache__")
    if os.path.exists(os.path.join(work, "Makefile")):
        print("reusing %s" % work)
    else:
        shutil.copytree(root, work, ignore=ignore, dirs_exist_ok=True)
    make = ["make", "-j%d" % a.jobs, "BUILD=" + build] + a.make_args.split() + ["tests"]
    binary = os.path.join(work, build, "ttrank-tests")
    test_cmd = [binary, "-j%d" % a.jobs] + a.test_args.split()
    logf = open(a.log, "a") if a.log else None

    def say(line):
        print(line, flush=True)
        if logf:
            logf.write(line + "\n")
            logf.flush()

    # the clean tree must build and pass
    rc, _, _ = run(make, work)
    if rc != 0:
        sys.exit("mutate.py: the clean tree does not build in %s" % work)
    rc, secs, _ = run(test_cmd, work)
    if rc != 0:
        sys.exit("mutate.py: the clean tree's tests fail (%s)" % " ".join(test_cmd))
    timeout = a.timeout or max(60.0, 5.0 * secs)
    base_obj = {f: stripped_object(work, build, f) for f in files}
    say("clean run %.1f s; timeout %.0f s; %d mutants of %s" % (
        secs, timeout, len(allm), ", ".join(files)))

    stats = {f: {"killed": 0, "timeout": 0, "survived": 0, "equivalent": 0, "buildfail": 0}
             for f in files}
    survivors = []
    t_start = time.time()
    try:
        for k, m in enumerate(allm):
            path = os.path.join(work, m.path)
            with open(path, "w") as fh:
                fh.write(m.apply(texts[m.path]))
            rc, _, _ = run(make, work)
            if rc != 0:
                outcome = "buildfail"
            else:
                obj = stripped_object(work, build, m.path)
                if obj is not None and obj == base_obj[m.path]:
                    outcome = "equivalent"
                else:
                    rc, _, to = run(test_cmd, work, timeout)
                    outcome = "timeout" if to else "killed" if rc != 0 else "survived"
            stats[m.path][outcome] += 1
            if outcome == "survived":
                survivors.append(m)
            say("[%d/%d] %-10s %s" % (k + 1, len(allm), outcome, m.label()))
            with open(path, "w") as fh:
                fh.write(texts[m.path])
            os.utime(path, None)
    finally:
        for f in files:  # the copy's sources back as they were
            with open(os.path.join(work, f), "w") as fh:
                fh.write(texts[f])
        if not a.keep and not a.workdir:
            shutil.rmtree(work, ignore_errors=True)

    say("")
    say("%-28s %6s %7s %8s %6s %6s %9s" % ("file", "killed", "timeout", "survived", "equiv",
                                           "nobld", "kill rate"))
    tot = {"killed": 0, "timeout": 0, "survived": 0, "equivalent": 0, "buildfail": 0}
    for f in files:
        s = stats[f]
        for key in tot:
            tot[key] += s[key]
        counted = s["killed"] + s["timeout"] + s["survived"]
        rate = "%.1f%%" % (100.0 * (s["killed"] + s["timeout"]) / counted) if counted else "-"
        say("%-28s %6d %7d %8d %6d %6d %9s" % (f, s["killed"], s["timeout"], s["survived"],
                                               s["equivalent"], s["buildfail"], rate))
    counted = tot["killed"] + tot["timeout"] + tot["survived"]
    if len(files) > 1:
        say("%-28s %6d %7d %8d %6d %6d %9s" % (
            "total", tot["killed"], tot["timeout"], tot["survived"], tot["equivalent"],
            tot["buildfail"],
            "%.1f%%" % (100.0 * (counted - tot["survived"]) / counted) if counted else "-"))
    say("(%.0f s)" % (time.time() - t_start))
    if survivors:
        say("survivors:")
        for m in survivors:
            say("  " + m.label())
    return 0


if __name__ == "__main__":
    sys.exit(main())
