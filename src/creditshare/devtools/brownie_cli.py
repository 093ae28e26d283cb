"""Brownie's command line, with `run` fixed for checkouts whose path contains a dot (docs/brownie.md, "Commands").

    python -m creditshare.devtools.brownie_cli run scripts/deploy.py --network ganache-cli

is `brownie run scripts/deploy.py --network ganache-cli` with one change: the script is imported from its file
(`importlib.util.spec_from_file_location`, under a module name of its own). eth-brownie 1.22.2 instead puts `/` on
`sys.path` and imports the dotted name of the script's absolute path (`brownie.project.scripts._import_from_path`:
`/tmp/ci.AbC/repo/scripts/deploy.py` becomes `tmp.ci.AbC.repo.scripts.deploy`), which fails with
`ModuleNotFoundError` as soon as a folder of that path has a dot in its name. Everything else is as
`brownie run`: the banner, the usage text and options (`--network`, `-I`, `--gas`, `-r`...), project loading,
network start and stop, the output and the exit status. Every other command (`compile`, `test`, `console`...) is
Brownie's own, unchanged; they are not affected (pytest imports test modules relative to their package).

The rest of Brownie is compiled (mypyc): replacing `brownie.project.scripts._import_from_path` would not reach
`brownie.project.scripts.run`, which calls it natively. So `run_script` and `run_command` below follow
`brownie.project.scripts.run` and `brownie._cli.run.main` of eth-brownie 1.22.2 line by line, with only the
import replaced. Brownie's dispatcher looks the command module's `main` up at run time, which is where
`run_command` goes in (in this process only).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import sys
from collections.abc import Sequence
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import FrameType, FunctionType, ModuleType
from typing import Any

import brownie._cli.run as brownie_run
from brownie import network, project
from brownie._cli.__main__ import main as brownie_main
from brownie._cli.console import Console
from brownie._config import CONFIG, _update_argv_from_docopt
from brownie.project.scripts import _get_path
from brownie.test.output import _build_gas_profile_output
from brownie.utils import color
from brownie.utils._color import bright_blue, bright_cyan
from brownie.utils.docopt import docopt

#: Prefix of the module name a script is imported under (`scripts/deploy.py` -> `brownie_script__deploy`).
MODULE_PREFIX = "brownie_script__"


def module_name(script: Path) -> str:
    """The module name `script` is imported under: no dots, so it never needs a parent package."""
    return MODULE_PREFIX + re.sub(r"\W", "_", script.stem)


def load_script(script: Path) -> ModuleType:
    """Import the script at `script` from its file. It is registered in `sys.modules` while it runs, as an
    imported module is (dataclasses, pickle and `inspect` look it up there)."""
    name = module_name(script)
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {script} as a Python module", path=str(script))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def run_script(
    script_path: str,
    method_name: str = "main",
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    _include_frame: bool = False,
) -> Any:
    """`brownie.project.scripts.run`: load a project script and call `method_name` in it; with `_include_frame`,
    return `(return value, the function's frame)` for `brownie run -I`. Only the import differs (`load_script`),
    so Brownie's `sys.path` entry for its dotted import (`/`) is not added."""
    kwargs = kwargs or {}
    script, active_project = _get_path(script_path)

    # temporarily add project objects to the main namespace, so the script can import them
    if active_project is not None:
        active_project._add_to_main_namespace()

    try:
        module = load_script(script)
        name = module.__name__

        func = getattr(module, method_name, None)
        if not isinstance(func, FunctionType):
            raise AttributeError(f"Module '{name}' has no method '{method_name}'")

        file = module.__file__
        assert file is not None
        absolute_path = Path(file)
        try:
            module_path = absolute_path.relative_to(Path(".").absolute())
        except ValueError:
            module_path = absolute_path
        print(f"\nRunning '{bright_blue}{module_path}{color}::{bright_cyan}{method_name}{color}'...")

        if not _include_frame:
            return func(*args, **kwargs)

        # As Brownie: re-compile the function with a first statement that stores its frame, in a copy of the
        # module's globals, so that `-I` opens the console in the namespace the function ended with.
        loader = module.__loader__
        assert isinstance(loader, SourceFileLoader)
        source = loader.get_source(name) or ""
        func_ast = ast.parse(source)
        func_nodes = [i for i in func_ast.body if isinstance(i, ast.FunctionDef) and i.name == method_name]
        func_ast.body = list(func_nodes[-1:])
        injected = ast.parse("import sys\nglobal __brownie_frame\n__brownie_frame = sys._getframe()")
        func_nodes[-1].body = injected.body + func_nodes[-1].body

        f_locals: dict[str, Any] = module.__dict__.copy()
        del f_locals[method_name]
        exec(compile(func_ast, file, "exec"), f_locals)
        return_value = f_locals[method_name](*args, **kwargs)
        return return_value, f_locals["__brownie_frame"]

    finally:
        # cleanup namespace
        if active_project is not None:
            active_project._remove_from_main_namespace()


def run_command() -> None:
    """`brownie._cli.run.main` (`brownie run`), calling `run_script` instead of `brownie.project.scripts.run`."""
    args = docopt(brownie_run.__doc__)
    _update_argv_from_docopt(args)

    active_project = None
    if project.check_for_project():
        active_project = project.load()
        active_project.load_config()
        print(f"{active_project._name} is the active project.")

    network.connect(CONFIG.argv["network"])

    path, _ = _get_path(args["<filename>"])
    path_str = path.absolute().as_posix()

    frame: FrameType | None
    try:
        return_value, frame = run_script(
            args["<filename>"],
            method_name=args["<function>"] or "main",
            args=args["<arg>"],
            _include_frame=True,
        )
        exit_code = 0
    except Exception as e:
        if args["--raise"]:
            raise e

        print(color.format_tb(e))

        frame = next(
            (i.frame for i in inspect.trace()[::-1] if Path(i.filename).as_posix() == path_str),
            None,
        )
        if frame is None:
            # exception was an internal brownie issue - do not open the console
            sys.exit(1)
        exit_code = 1
        return_value = None

    try:
        if args["--interactive"]:
            # filter internal objects from the namespace prior to opening the console
            globals_dict = {k: v for k, v in frame.f_globals.items() if not k.startswith("__")}
            extra_locals = {"_": return_value, **globals_dict, **frame.f_locals}
            shell = Console(active_project, extra_locals)
            shell.interact(banner="\nInteractive mode enabled. Use quit() to close.", exitmsg="")
    finally:
        # the console terminates from a SystemExit - make sure we still deliver the final gas report
        if CONFIG.argv["gas"]:
            print("\n======= Gas profile =======")
            for line in _build_gas_profile_output():
                print(line)

        sys.exit(exit_code)


def main(argv: Sequence[str] | None = None) -> None:
    """`brownie ARGV...` (default: this process's arguments), with `run` going to `run_command`."""
    sys.argv = ["brownie", *(sys.argv[1:] if argv is None else argv)]
    brownie_run.main = run_command
    brownie_main()


if __name__ == "__main__":
    main()
