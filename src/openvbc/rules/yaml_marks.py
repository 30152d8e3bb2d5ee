"""YAML parsing that remembers where each value was written, so errors can name the line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from openvbc.domain.errors import InputIssue

# Path parts are stored as strings: YAML keys may be ints (years) while error locations mix both.
Path = tuple[str, ...]

# libyaml's loader when PyYAML was built with it (several times faster), the pure-Python one otherwise.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class MarkedYaml:
    """A parsed YAML document plus the 1-based line of every mapping key and sequence item."""

    data: Any
    lines: dict[Path, int]

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of the deepest known prefix of ``path`` (a missing key reports its parent's line)."""
        key = tuple(str(part) for part in path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)


def _collect_lines(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            lines[child] = key_node.start_mark.line + 1
            _collect_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, str(index))
            lines[child] = item.start_mark.line + 1
            _collect_lines(item, child, lines)


def parse_marked_yaml(text: str, file: str) -> MarkedYaml:
    """Parse one YAML document; a syntax error becomes an ``InputIssue`` with the line it occurred on."""
    try:
        # Compose once and construct from the same node tree: parsing twice doubled `rules check` time.
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(InputIssue(file, line, None, f"YAML syntax error: {error.problem}")) from error
    except yaml.YAMLError as error:
        raise YamlSyntaxError(InputIssue(file, None, None, f"YAML error: {error}")) from error
    lines: dict[Path, int] = {}
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _collect_lines(node, (), lines)
    return MarkedYaml(data=data, lines=lines)


class YamlSyntaxError(Exception):
    """Carries the issue for a file that is not valid YAML."""

    def __init__(self, issue: InputIssue) -> None:
        super().__init__(issue.render())
        self.issue = issue
