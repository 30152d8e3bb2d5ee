"""Use case: check the rule files (shipped, and optionally a user's folder) and list what is loaded."""

from __future__ import annotations

from pathlib import Path

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.rules.resources import iter_rule_files, read_rule_text
from openvbc.rules.tree import RuleText, TreeReport, validate_rule_texts

_PACKAGE_PREFIX = "openvbc/rules/"
_SUFFIXES = (".yaml", ".yml", ".csv")


def read_package_rules() -> list[RuleText]:
    return [RuleText(path, _PACKAGE_PREFIX + path, read_rule_text(path)) for path in iter_rule_files()]


def read_user_rules(folder: Path) -> list[RuleText]:
    """Rule files under ``folder``, laid out like the package tree (``measures/<id>/<year>.yaml`` ...)."""
    if not folder.is_dir():
        raise InvalidInput([InputIssue(str(folder), None, None, "not a folder of rule files")])
    items = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in _SUFFIXES:
            relative = path.relative_to(folder).as_posix()
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise InvalidInput([InputIssue(str(path), None, None, "not UTF-8 text")]) from None
            items.append(RuleText(relative, str(path), text))
    return items


def check_rules(user_folder: Path | None = None, *, include_package: bool = True) -> TreeReport:
    """Validate the shipped rules (and a user's folder against them); the report lists loads and issues."""
    items = read_package_rules() if include_package else []
    if user_folder is not None:
        items += read_user_rules(user_folder)
    report = validate_rule_texts(items)
    report.loaded.sort(key=lambda rule: (rule.kind, rule.id, rule.file))
    return report


def require_valid_rules(user_folder: Path | None = None) -> TreeReport:
    """Like :func:`check_rules`, but raise ``InvalidInput`` listing every problem when anything is wrong."""
    report = check_rules(user_folder)
    if report.issues:
        raise InvalidInput(report.issues)
    return report
