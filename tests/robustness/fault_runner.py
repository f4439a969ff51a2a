"""Run a valle entry point under an injected fault: a real SIGKILL at an exact point, or a file-size limit.

Why a runner instead of a sleep-then-kill: the stages finish small corpora in well under a
second, so a kill after a timer lands before, inside or after the work depending on the
machine's load. Every output of a stage goes through ``valle.utils.atomic.atomic_path``,
which writes a ``.tmp-*`` file and then commits it with ``os.replace``. Counting those
commits gives exact, machine-independent kill points: ``--kill-before-commit N`` sends
SIGKILL to this process just before the N-th commit whose target matches ``--match``
(the temporary file is fully written, the target not yet renamed: the state a kill during
that write leaves on disk). ``--truncate-tmp`` first cuts the temporary file in half, the
state of a kill in the middle of the write itself.

``--max-file-bytes N`` sets RLIMIT_FSIZE: a write that would make any file larger than N bytes
fails with EFBIG ("File too large"), the kernel's own error, standing in for a full disk.
Python ignores SIGXFSZ, so the process sees an OSError rather than dying.

    python fault_runner.py --kill-before-commit 2 -- valle.bin.prepare_manifests --stage 1 ...
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import runpy
import signal
import sys


def main() -> None:
    argv = sys.argv[1:]
    if "--" not in argv:
        raise SystemExit("usage: fault_runner.py [options] -- module [args...]")
    split = argv.index("--")
    p = argparse.ArgumentParser()
    p.add_argument("--kill-before-commit", type=int, default=0)
    p.add_argument("--match", default=".*", help="regex on the committed target's file name")
    p.add_argument("--truncate-tmp", action="store_true")
    p.add_argument("--max-file-bytes", type=int, default=0)
    opts = p.parse_args(argv[:split])
    module, module_args = argv[split + 1], argv[split + 2:]

    if opts.max_file_bytes:
        resource.setrlimit(resource.RLIMIT_FSIZE, (opts.max_file_bytes, opts.max_file_bytes))
    if opts.kill_before_commit:
        real_replace = os.replace
        pattern = re.compile(opts.match)
        state = {"commits": 0}

        def replace(src, dst, *a, **kw):
            name = os.path.basename(os.fspath(dst))
            if os.path.basename(os.fspath(src)).startswith(".tmp-") and pattern.search(name):
                state["commits"] += 1
                if state["commits"] == opts.kill_before_commit:
                    if opts.truncate_tmp:
                        size = os.path.getsize(src)
                        os.truncate(src, size // 2)
                    sys.stderr.write(f"fault_runner: SIGKILL before committing {dst}\n")
                    sys.stderr.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst, *a, **kw)

        os.replace = replace
    sys.argv = [module] + module_args
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
