"""What a run was made with beyond its settings: every installed package (environment.txt, the equivalent of
`pip freeze`) and, when the project's git tree is dirty, the diff of its tracked files (source.patch).

`--diff` reads both back to say which packages changed between two runs and whether their code differed.
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from utils.core import atomic
from utils.runs.folder import RunFolder

PROJECT = Path(__file__).resolve().parents[2]
# The outputs folder's copy of the last listing, under the key of the packages' state it was made in: reading every
# installed package's metadata costs a run a few tenths of a second, and the packages rarely change between runs.
LISTING_CACHE = ".environment-cache.txt"

# The packages behind each Keras backend; TensorFlow is recorded under every backend where installed (it reads the data).
BACKEND_PACKAGES = {"tensorflow": ("tensorflow",), "jax": ("tensorflow", "jax", "jaxlib"), "torch": ("tensorflow", "torch")}


def backend_versions() -> dict:
    """The Keras backend and the versions of the packages behind it."""
    from importlib import metadata  # here, as in installed_packages: the run store's commands never need it

    import keras

    found = {"keras_backend": keras.config.backend()}
    for package in BACKEND_PACKAGES.get(found["keras_backend"], ()):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def installed_packages() -> dict:
    """{distribution name (lower case): version} of everything importable, from importlib.metadata."""
    from importlib import metadata  # here, so the commands that only read the run store start without it

    packages = {}
    for distribution in metadata.distributions():
        try:
            name = distribution.metadata["Name"]
        except Exception:  # a half-installed package (a .dist-info without METADATA) is not listed, not fatal
            continue
        if name:
            packages[name.lower()] = distribution.version
    return dict(sorted(packages.items()))


def packages_state() -> str:
    """A key that changes whenever a package is installed, upgraded or removed: the modification time of every
    folder on sys.path (each such change adds or removes a .dist-info folder there)."""
    stamps = []
    for entry in sys.path:
        try:
            stamps.append(f"{entry}\t{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            stamps.append(f"{entry}\t-")
    return hashlib.sha256("\n".join(stamps).encode()).hexdigest()


def package_listing(outputs: Path) -> str:
    """environment.txt's text: every installed package as name==version, from `outputs`' cached copy when the
    packages' state is the one it was made in."""
    key = f"# packages state {packages_state()}\n"
    cache = Path(outputs) / LISTING_CACHE
    try:
        cached = cache.read_text()
        if cached.startswith(key):
            return cached[len(key):]
    except (OSError, UnicodeDecodeError):
        pass
    listing = "\n".join(f"{name}=={version}" for name, version in installed_packages().items()) + "\n"
    try:
        atomic.write_text(cache, key + listing)
    except OSError:  # a read-only outputs folder only loses the shortcut
        pass
    return listing


def git_state():
    """(the project's commit, whether its tracked files differ from it) from one `git status`; (None, False) when
    git or the repository is unavailable."""
    try:
        result = subprocess.run(["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"], cwd=PROJECT,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None, False
    if result.returncode != 0:
        return None, False
    lines = result.stdout.splitlines()
    commit = next((line.split()[2] for line in lines if line.startswith("# branch.oid ")), None)
    return (None if commit == "(initial)" else commit), any(not line.startswith("#") for line in lines)


def describe_commit(commit, dirty: bool):
    """The run record's git_commit: the commit, '-dirty' when tracked files differ from it."""
    return None if commit is None else commit + ("-dirty" if dirty else "")


def source_diff():
    """`git diff HEAD` of the project's tracked files, or None when the tree is clean or git is unavailable."""
    try:
        result = subprocess.run(["git", "diff", "HEAD", "--no-color"], cwd=PROJECT, capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 and result.stdout.strip() else None


def capture(folder, dirty: bool = True) -> None:
    """Write environment.txt (and source.patch when the tree is dirty) into a new run folder; `dirty`: whether
    git status found tracked files changed (a clean tree needs no diff)."""
    folder = RunFolder(folder)
    atomic.write_text(folder.environment, package_listing(folder.path.parent))
    patch = source_diff() if dirty else None
    if patch is not None:
        atomic.write_text(folder.source_patch, patch)


def read_packages(folder) -> dict:
    """environment.txt back as {name: version}; {} when the run predates it or the file is unreadable."""
    try:
        text = RunFolder(folder).environment.read_text()
    except (OSError, UnicodeDecodeError):
        return {}
    pairs = (line.split("==", 1) for line in text.splitlines() if "==" in line)
    return {name: version for name, version in pairs}


def describe_patch(folder) -> str:
    """source.patch in one phrase: 'none (clean tree)' or its size and a short sha256 to compare by."""
    try:
        data = RunFolder(folder).source_patch.read_bytes()
    except FileNotFoundError:
        return "none (clean tree)"
    except OSError:
        return "unreadable"
    lines = data.count(b"\n")
    return f"{lines} lines, sha256 {hashlib.sha256(data).hexdigest()[:12]}"


def changed_packages(first: dict, second: dict) -> dict:
    """{package: (version in first or None, version in second or None)} for every package that differs."""
    names = sorted(set(first) | set(second))
    return {name: (first.get(name), second.get(name)) for name in names if first.get(name) != second.get(name)}
