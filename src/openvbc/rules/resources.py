"""Raw access to the package's rule files (``openvbc/rules/**``) through importlib.resources.

Everything that reads a shipped rule file goes through here, so the package works the same from a
source tree, an editable install or a wheel.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from openvbc.domain.errors import UserError

# Folders under the rules package that hold data, not code.
DATA_FOLDERS = (
    "valuesets",
    "drugs",
    "calendars",
    "measures",
    "synth",
    "billing",
    "programs",
    "care",
    "pharmacist",
    "registry",
)


class RuleFileNotFound(UserError, LookupError):
    """A rule file, value set or measure year that the package does not ship."""


def rules_root() -> Traversable:
    return resources.files("openvbc.rules")


def locate_rule_file(relative_path: str) -> Traversable:
    """The packaged file at ``relative_path`` (POSIX separators, relative to ``openvbc/rules``)."""
    node = rules_root()
    for part in relative_path.strip("/").split("/"):
        if part in ("", ".", ".."):
            raise RuleFileNotFound(f"rule path {relative_path!r} must be a plain relative path")
        node = node.joinpath(part)
    if not node.is_file():
        raise RuleFileNotFound(f"no rule file {relative_path!r} in the openvbc package")
    return node


def read_rule_text(relative_path: str) -> str:
    return locate_rule_file(relative_path).read_text(encoding="utf-8")


def iter_rule_files() -> list[str]:
    """Relative paths of every shipped ``.yaml``/``.csv`` rule file, sorted."""
    found: list[str] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            path = f"{prefix}{child.name}"
            if child.is_dir():
                if child.name not in ("__pycache__", "tools"):
                    walk(child, path + "/")
            elif child.name.endswith((".yaml", ".yml", ".csv")):
                found.append(path)

    root = rules_root()
    for folder in DATA_FOLDERS:
        node = root.joinpath(folder)
        if node.is_dir():
            walk(node, folder + "/")
    return sorted(found)
