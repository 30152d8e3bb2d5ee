"""Validate a whole set of rule files together: each file on its own, then the links between them.

Pure: takes file texts, returns what is loaded and every issue. The caller (the rules catalog service)
decides where the texts come from (the package, a user's folder, or both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from openvbc.domain.errors import InputIssue
from openvbc.rules.csv_rules import CsvSummary, validate_ndc_reference_csv, validate_value_set_csv
from openvbc.rules.schema import (
    DirectCodes,
    DrugClasses,
    HolidayCalendar,
    MeasureRule,
    RuleCatalog,
    RuleHeader,
    SynthProfile,
    ValueSetIndex,
    validate_yaml_rule,
)
from openvbc.rules.yaml_marks import MarkedYaml, YamlSyntaxError, parse_marked_yaml


@dataclass(frozen=True)
class RuleText:
    """One rule file: ``relative`` is its path under a rules root (``valuesets/index.yaml``)."""

    relative: str
    display: str
    text: str


@dataclass(frozen=True)
class LoadedRule:
    file: str
    kind: str
    id: str
    version: str
    effective_start: date | None
    effective_end: date | None
    source: str
    count: int

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "kind": self.kind,
            "id": self.id,
            "version": self.version,
            "effective": {"start": self.effective_start, "end": self.effective_end},
            "source": self.source,
            "count": self.count,
        }


@dataclass
class TreeReport:
    loaded: list[LoadedRule] = field(default_factory=list)
    issues: list[InputIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


def _count(rule: RuleHeader) -> int:
    if isinstance(rule, ValueSetIndex):
        return len(rule.value_sets)
    if isinstance(rule, DirectCodes):
        return len(rule.codes)
    if isinstance(rule, DrugClasses):
        return len(rule.classes)
    if isinstance(rule, HolidayCalendar):
        return sum(len(days) for days in rule.holidays.values())
    if isinstance(rule, MeasureRule):
        return len(rule.value_sets) + len(rule.direct_codes) + len(rule.drug_classes)
    if isinstance(rule, SynthProfile):
        return len(rule.parameters)
    return 0


def _loaded(item: RuleText, rule: RuleHeader) -> LoadedRule:
    return LoadedRule(
        file=item.display,
        kind=rule.kind,
        id=rule.id,
        version=rule.version,
        effective_start=rule.effective.start,
        effective_end=rule.effective.end,
        source=rule.source.document,
        count=_count(rule),
    )


def _catalog_from(rules: list[RuleHeader]) -> RuleCatalog:
    catalog = RuleCatalog()
    for rule in rules:
        if isinstance(rule, ValueSetIndex):
            catalog.value_set_oids |= {entry.oid for entry in rule.value_sets}
        elif isinstance(rule, DirectCodes):
            catalog.direct_code_names |= set(rule.codes)
        elif isinstance(rule, DrugClasses):
            catalog.drug_class_ids |= set(rule.classes)
            catalog.pdc_measure_ids |= set(rule.measures)
    return catalog


def validate_rule_texts(items: list[RuleText]) -> TreeReport:
    """Validate every file, then the links: index ↔ value-set CSVs, NDC classes, measure references."""
    report = TreeReport()
    parsed: list[tuple[RuleText, MarkedYaml]] = []
    for item in items:
        if item.relative.endswith((".yaml", ".yml")):
            try:
                parsed.append((item, parse_marked_yaml(item.text, item.display)))
            except YamlSyntaxError as error:
                report.issues.append(error.issue)
    # Pass 1: every file that others refer to (value-set index, direct codes, drug classes ...).
    valid: list[tuple[RuleText, RuleHeader]] = []
    measures: list[tuple[RuleText, MarkedYaml]] = []
    for item, marked in parsed:
        if isinstance(marked.data, dict) and marked.data.get("kind") == "measure":
            measures.append((item, marked))
            continue
        rule, issues = validate_yaml_rule(marked, item.display)
        report.issues += issues
        if rule is not None and not issues:
            valid.append((item, rule))
    catalog = _catalog_from([rule for _, rule in valid])
    # Pass 2: measures, checked against what pass 1 defined.
    for item, marked in measures:
        rule, issues = validate_yaml_rule(marked, item.display, catalog)
        report.issues += issues
        if rule is not None and not issues:
            valid.append((item, rule))
    report.loaded += [_loaded(item, rule) for item, rule in valid]
    report.issues += _check_csv_files(items, [rule for _, rule in valid], catalog, report)
    return report


def _check_csv_files(
    items: list[RuleText], rules: list[RuleHeader], catalog: RuleCatalog, report: TreeReport
) -> list[InputIssue]:
    issues: list[InputIssue] = []
    index_entries = {
        entry.oid: (entry, rule)
        for rule in rules
        if isinstance(rule, ValueSetIndex)
        for entry in rule.value_sets
    }
    csv_oids: set[str] = set()
    for item in items:
        relative = item.relative
        if not relative.endswith(".csv"):
            continue
        summary: CsvSummary
        if relative.startswith("valuesets/"):
            oid = relative.removeprefix("valuesets/").removesuffix(".csv")
            csv_oids.add(oid)
            summary, found = validate_value_set_csv(item.text, item.display)
            issues += found
            entry_and_index = index_entries.get(oid)
            if entry_and_index is None:
                issues.append(
                    InputIssue(item.display, None, None, f"value set {oid} is not listed in index.yaml")
                )
            elif not found and entry_and_index[0].codes != summary.rows:
                entry = entry_and_index[0]
                message = f"index.yaml says {entry.codes} codes, the file has {summary.rows}"
                issues.append(InputIssue(item.display, None, "codes", message))
        elif relative == "drugs/ndc_reference.csv":
            known = catalog.drug_class_ids or None
            summary, found = validate_ndc_reference_csv(item.text, item.display, known)
            issues += found
            if not found:
                report.loaded.append(
                    LoadedRule(
                        item.display,
                        "ndc_reference",
                        "ndc-reference",
                        "-",
                        None,
                        None,
                        "synthetic",
                        summary.rows,
                    )
                )
        else:
            issues.append(
                InputIssue(item.display, None, None, "unknown CSV rule file (not a value set or NDC list)")
            )
    index_file = next(
        (i.display for i in items if i.relative == "valuesets/index.yaml"), "valuesets/index.yaml"
    )
    for oid in sorted(set(index_entries) - csv_oids):
        issues.append(InputIssue(index_file, None, "value_sets", f"value set {oid} has no {oid}.csv"))
    return issues
