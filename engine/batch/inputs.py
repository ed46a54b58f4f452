"""What `dplf batch INPUT...` processes: arguments expanded into input paths, and the run-folder name of each.

An argument is one of:
- a path (a .dp file, a DP-pair or light-field folder, a side-by-side video: anything `dplf run --input` takes
  that is a file or folder);
- a glob (`"captures/*.dp"`, quoted so the shell leaves it alone): every match is an input;
- a list file, `@FILE` or any argument ending in `.txt`: one input (path or glob) per line; blank lines and lines
  starting with `#` are ignored; relative paths are taken from the list file's folder.
Paths are made absolute (workers on a cluster see the same shared paths); the same file named twice is one input.

Each input is written to `OUT/<name>/`, name = the file's stem (or the folder's name). Inputs whose stems
collide get as many parent folder names as make them unique, joined with "-" (`day1/clip.dp` -> `day1-clip`,
`day2/clip.dp` -> `day2-clip`), so the names depend only on the set of inputs and a rerun finds its runs again.
"""
from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

LIST_SUFFIX = ".txt"
GLOB_CHARS = "*?["


class InputError(ValueError):
    """An argument that names nothing to process: one line, what and what to do."""


@dataclass(frozen=True)
class BatchInput:
    name: str     # run folder name under OUT
    path: Path    # absolute


def is_list_file(arg: str) -> bool:
    return arg.startswith("@") or arg.lower().endswith(LIST_SUFFIX)


def expand_inputs(args: list[str]) -> list[Path]:
    """Every input the arguments name, absolute, in argument order, duplicates dropped. InputError when an
    argument is missing, a glob matches nothing, or nothing is left."""
    if not args:
        raise InputError("no inputs given; pass .dp files, folders, globs or a list file (@list.txt)")
    found: list[Path] = []
    for arg in args:
        found += _expand(arg, Path.cwd(), None)
    unique = list(dict.fromkeys(found))
    if not unique:
        raise InputError(f"no inputs found in {' '.join(args)}")
    return unique


def _expand(arg: str, base: Path, listed_in: Path | None) -> list[Path]:
    where = f" (listed in {listed_in})" if listed_in else ""
    if listed_in is None and is_list_file(arg):
        return _read_list(Path(arg[1:] if arg.startswith("@") else arg))
    path = Path(arg).expanduser()
    path = path if path.is_absolute() else base / path
    if any(ch in arg for ch in GLOB_CHARS):
        matches = sorted(Path(p) for p in glob.glob(str(path)))
        if not matches:
            raise InputError(f"glob {arg}{where} matches nothing; check the pattern (quote it so the shell "
                             f"leaves it to dplf batch)")
        return [m.resolve() for m in matches]
    if not path.exists():
        raise InputError(f"input {arg}{where} does not exist; pass .dp files, folders, globs or a list file")
    return [path.resolve()]


def _read_list(path: Path) -> list[Path]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read list file {path}: {exc.strerror or exc}; pass an existing text file with "
                         f"one input per line") from None
    except UnicodeDecodeError:
        raise InputError(f"list file {path} is not text; pass a text file with one input per line") from None
    lines = [line.strip() for line in text.splitlines()]
    found: list[Path] = []
    for line in lines:
        if line and not line.startswith("#"):
            found += _expand(line, path.resolve().parent, path)
    if not found:
        raise InputError(f"list file {path} names no inputs; write one path or glob per line")
    return found


def name_inputs(paths: list[Path]) -> list[BatchInput]:
    """The run-folder name of each input: its stem, with parent folders added where stems collide (and the
    suffix too where two inputs differ only in it: `clip.dp`, `clip.mp4` -> `clip.dp`, `clip.mp4`)."""
    depth = {p: 0 for p in paths}
    suffix: set[Path] = set()
    while True:
        names = {p: _name(p, depth[p], p in suffix) for p in paths}
        clash = {p for p in paths if sum(n == names[p] for n in names.values()) > 1}
        if not clash:
            return [BatchInput(names[p], p) for p in paths]
        grow = {p for p in clash if depth[p] < len(p.parent.parts) - 1}
        if grow:
            for p in grow:
                depth[p] += 1
        elif clash - suffix:
            suffix |= clash
            depth.update({p: 0 for p in clash})
        else:   # distinct absolute paths cannot get here; kept as a clear refusal rather than a loop
            first, second = sorted(clash)[:2]
            raise InputError(f"inputs {first} and {second} would both be written to {names[first]}; rename one")


def _name(path: Path, depth: int, suffix: bool) -> str:
    parents = path.parent.parts[len(path.parent.parts) - depth:] if depth else ()
    stem = path.name if suffix or not path.is_file() else path.stem
    return "-".join([*parents, stem]) or "input"
