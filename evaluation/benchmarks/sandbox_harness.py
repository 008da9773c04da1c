"""The code that runs *inside* the sandbox: a supervisor that forks the limited program process.

Not imported by the evaluator: ``sandbox.py`` passes this file's text to ``python -I -c`` with one
JSON argument. Standard library only. Two processes:

- the **supervisor** (pid 1 of a fresh PID namespace when namespaces are used) makes the file
  system read-only except the run folder (mount namespace), marks itself a child subreaper (so
  orphans, ``setsid`` ones included, reparent to it), forks the program process, waits for it,
  kills whatever it left behind and exits with its status (``128 + n`` for signal ``n``);
- the **program process** lowers its limits, drops to the unprivileged uid when the evaluator is
  root, reads the per-run token from its fd and closes that fd, runs the program, and only when the
  program *and its checks* returned normally writes the token to the result fd and ``os._exit(0)``
  (so ``atexit`` hooks never run after a verdict). ``sys.exit``/``os._exit``/exceptions never write it.
"""

import contextlib
import ctypes
import json
import os
import resource
import signal
import sys
import traceback

_MS_BIND, _MS_REC = 4096, 16384
_AT_FDCWD, _AT_RECURSIVE, _MOUNT_ATTR_RDONLY, _SYS_MOUNT_SETATTR = -100, 0x8000, 0x1, 442


class _MountAttr(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("attr_set", "attr_clr", "propagation", "userns_fd")]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _set_readonly(libc, path: str, readonly: bool, recursive: bool) -> None:
    attr = _MountAttr(_MOUNT_ATTR_RDONLY if readonly else 0, 0 if readonly else _MOUNT_ATTR_RDONLY, 0, 0)
    flags = _AT_RECURSIVE if recursive else 0
    if libc.syscall(_SYS_MOUNT_SETATTR, _AT_FDCWD, path.encode(), flags, ctypes.byref(attr), 32) != 0:
        raise OSError(ctypes.get_errno(), f"mount_setattr {path}")


def _expose(libc, config: dict) -> None:
    """Unreadable folders above the interpreter (``/root`` of a pyenv install) become an empty
    tmpfs with only the interpreter's folders bound back, so the dropped uid can import the stdlib
    (and sees nothing else of them)."""
    for number, (hidden, paths) in enumerate(config["expose"].items()):
        stages = []
        for index, path in enumerate(paths):
            stage = os.path.join(config["workdir"], f".stage{number}-{index}")
            os.mkdir(stage)
            if libc.mount(path.encode(), stage.encode(), None, _MS_BIND | _MS_REC, None) != 0:
                raise OSError(ctypes.get_errno(), f"bind {path} -> {stage}")
            stages.append(stage)
        if libc.mount(b"tmpfs", hidden.encode(), b"tmpfs", 0, b"mode=0755,size=1m") != 0:
            raise OSError(ctypes.get_errno(), f"tmpfs over {hidden}")
        for stage, path in zip(stages, paths, strict=True):
            os.makedirs(path, mode=0o755, exist_ok=True)
            if libc.mount(stage.encode(), path.encode(), None, _MS_BIND | _MS_REC, None) != 0:
                raise OSError(ctypes.get_errno(), f"bind {stage} -> {path}")
            libc.umount2(stage.encode(), 2)  # MNT_DETACH
            os.rmdir(stage)


def _confine_files(config: dict) -> str:
    """In the mount namespace: all mounts read-only, the run folder bound rw over the shared temp dirs.

    Returns the folder to work in: the shared temp dir that held the run folder (its path is hidden
    by the bind), else the run folder itself.
    """
    libc = _libc()
    workdir = config["workdir"]
    _expose(libc, config)
    _set_readonly(libc, "/", True, recursive=True)
    temp_dirs = [d for d in config["temp_dirs"] if os.path.isdir(d) and d != workdir]
    holders = [d for d in temp_dirs if workdir.startswith(d.rstrip("/") + "/")]
    for target in [workdir] + [d for d in temp_dirs if d not in holders] + holders:
        if libc.mount(workdir.encode(), target.encode(), None, _MS_BIND | _MS_REC, None) != 0:
            raise OSError(ctypes.get_errno(), f"bind {workdir} -> {target}")
        _set_readonly(libc, target, False, recursive=False)
    return holders[-1] if holders else workdir


def _limit(kind: int, value: int, slack: int = 0) -> None:
    """Soft limit ``value``, hard ``value + slack`` (never above the current hard limit)."""
    _, hard = resource.getrlimit(kind)
    cap = (lambda v: v) if hard == resource.RLIM_INFINITY else (lambda v: min(v, hard))
    resource.setrlimit(kind, (cap(value), cap(value + slack)))


def _program(config: dict) -> None:
    """The program process: limits, privilege drop, token, program; never returns."""
    status = 1
    try:
        _limit(resource.RLIMIT_AS, config["memory_bytes"])
        _limit(resource.RLIMIT_CPU, config["cpu_s"], slack=1)  # SIGXCPU, then SIGKILL
        _limit(resource.RLIMIT_FSIZE, config["file_bytes"])
        _limit(resource.RLIMIT_CORE, 0)
        _limit(resource.RLIMIT_NPROC, config["max_processes"])
        if config["drop_uid"] is not None:
            os.setgroups([])
            os.setgid(config["drop_uid"])
            os.setuid(config["drop_uid"])
        token = os.read(config["token_fd"], 64)
        os.close(config["token_fd"])
        sys.setrecursionlimit(10000)
        with open("program.py", encoding="utf-8") as handle:
            source = handle.read()
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        try:
            exec(compile(source, "program.py", "exec"), namespace)
        except SystemExit as error:
            print(
                f"SandboxExit: the program called exit({error.code!r}) before the checks finished",
                file=sys.stderr,
            )
            status = 3
        else:
            sys.stdout.flush()
            os.write(config["result_fd"], token)
            status = 0
    except MemoryError:
        print("MemoryError", file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(status)


def _reap_all_children() -> None:
    """Kill and reap every child left (orphans reparent here, we are their subreaper)."""
    while True:
        for pid in _children(os.getpid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.wait()
        except ChildProcessError:
            return


def _children(parent: int) -> list[int]:
    found = []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue
            if int(stat.rsplit(b")", 1)[1].split()[1]) == parent:
                found.append(int(name))
    return found


def main() -> None:
    config = json.loads(sys.argv[1])
    os.chdir(config["workdir"])
    if config["confine_files"]:
        os.chdir(_confine_files(config))
    if sys.platform.startswith("linux"):
        _libc().prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come back to us
    pid = os.fork()
    if pid == 0:
        _program(config)
    os.close(config["token_fd"])
    os.close(config["result_fd"])
    _, status = os.waitpid(pid, 0)
    if os.getpid() != 1:  # pid 1 of a namespace: exiting kills everything left
        _reap_all_children()
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


main()
