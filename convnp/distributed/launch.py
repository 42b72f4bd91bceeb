"""``convnp launch -n N [--hostfile FILE] -- train ...``: start N ranks of a convnp command
with ``mpirun`` (the ``--distributed`` flag is added to ``train`` if missing).

It runs ``mpirun -n N [--hostfile FILE] [--oversubscribe] -x OMP_NUM_THREADS=T
-x NUMBA_NUM_THREADS=T python -m convnp COMMAND ...`` and returns mpirun's exit status; the
command it runs is printed first, so it can be copied into a batch script.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

from convnp.cli import register_command


def _add(p) -> None:
    p.add_argument("-n", "--nproc", type=int, required=True, metavar="N",
                   help="number of ranks (processes)")
    p.add_argument("--hostfile", default=None,
                   help="Open MPI hostfile for several machines (lines `node1 slots=4`)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads per rank (default: this machine's cores / N, at least 1)")
    p.add_argument("--mpirun", default="mpirun", help="the MPI launcher (default %(default)s)")
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    p.add_argument("rest", nargs="*", metavar="-- COMMAND ...",
                   help="the convnp command to run on every rank, e.g. -- train --epochs 2")


def build_command(nproc: int, rest: list[str], hostfile: str | None = None,
                  threads: int | None = None, mpirun: str = "mpirun") -> list[str]:
    """The mpirun command line ``convnp launch`` runs."""
    if nproc < 1:
        raise ValueError(f"-n must be >= 1, got {nproc}")
    if not rest:
        raise ValueError("give the convnp command to run after --, e.g. "
                         "`convnp launch -n 2 -- train --epochs 1`")
    rest = list(rest)
    if rest[0] == "train" and "--distributed" not in rest:
        rest.insert(1, "--distributed")
    cores = os.cpu_count() or 1
    if threads is None:
        threads = max(1, cores // nproc)
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    cmd = [mpirun, "-n", str(nproc)]
    if hostfile:
        cmd += ["--hostfile", hostfile]
    else:
        # one machine: Open MPI counts physical cores as slots, which may be fewer than the
        # ranks asked for (hyper-threads, small machines); let it place them anyway
        cmd.append("--oversubscribe")
    for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        cmd += ["-x", f"{var}={threads}"]
    return cmd + [sys.executable, "-m", "convnp"] + rest


def _run(args) -> int:
    from convnp import distributed as dist
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    cmd = build_command(args.nproc, rest, args.hostfile, args.threads, args.mpirun)
    print("+ " + shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    if shutil.which(args.mpirun) is None:
        raise RuntimeError(f"{args.mpirun!r} was not found; install MPI with: "
                           f"{dist.INSTALL_HINT}")
    if not dist.is_mpi_available():
        raise RuntimeError(f"mpi4py is not installed; install it with: {dist.INSTALL_HINT}")
    env = dict(os.environ)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Open MPI refuses root unless told; the user asked this command to launch it
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return subprocess.call(cmd, env=env)


register_command("launch", "run a convnp command on N MPI ranks (mpirun)", _add, _run)
