"""Population counts of a MIPS quality measure and the reconciliation done before export.

The engine gives, per measure group, the eCQM population counts (IPOP, DENOM, DENEX, DENEXCEP,
NUMER). QPP reports them as performanceMet, performanceNotMet, eligiblePopulation,
eligiblePopulationExclusion and eligiblePopulationException:

- electronicHealthRecord (eCQM): eligiblePopulation = DENOM, exclusion = DENEX, exception = DENEXCEP,
  met = NUMER, notMet = DENOM - DENEX - DENEXCEP - NUMER; so met + notMet + exclusion + exception =
  eligiblePopulation.
- registry (MIPS CQM / QCDR): exclusions are removed before reporting (QPP expects
  eligiblePopulationExclusion 0 for them): eligiblePopulation = DENOM - DENEX, so met + notMet +
  exception = eligiblePopulation.

Inverse measures (001, the opioid measures) are reported with the counts as specified: the numerator
is the poor outcome and CMS inverts the scoring; nothing is flipped here. The performance rate is
met / (eligiblePopulation - exclusion - exception), the same for both directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

SubmissionMethod = Literal["electronicHealthRecord", "registry"]
EntityType = Literal["individual", "group"]


@dataclass(frozen=True)
class Populations:
    """eCQM population counts of one measure group (one QPP stratum)."""

    initial_population: int
    denominator: int
    denominator_exclusion: int
    denominator_exception: int
    numerator: int


@dataclass(frozen=True)
class StratumCounts:
    stratum: str
    performance_met: int
    performance_not_met: int
    eligible_population: int
    eligible_population_exclusion: int
    eligible_population_exception: int
    populations: Populations
    population_ids: dict[str, str] | None = None  # QRDA population id per IPOP/DENOM/... code

    @property
    def performance_rate(self) -> float | None:
        scored = (
            self.eligible_population - self.eligible_population_exclusion - self.eligible_population_exception
        )
        return None if scored <= 0 else self.performance_met / scored


@dataclass(frozen=True)
class MeasureCounts:
    quality_id: str
    title: str
    submission_method: SubmissionMethod
    metric_type: str
    inverse: bool
    strata: tuple[StratumCounts, ...]
    qrda_version_specific_id: str | None = None


@dataclass(frozen=True)
class SubmissionHeader:
    entity_type: EntityType
    tin: str
    npi: str | None
    performance_year: int
    performance_start: date
    performance_end: date
    program_name: str = "mips"
    organization_name: str = ""


class ReconciliationError(ValueError):
    """Counts that do not add up; the export is refused (exit code 2 in the CLI)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def to_stratum(
    stratum: str,
    populations: Populations,
    method: SubmissionMethod,
    population_ids: dict[str, str] | None = None,
) -> StratumCounts:
    """QPP fields of one stratum from the engine's population counts (see the module note)."""
    p = populations
    not_met = p.denominator - p.denominator_exclusion - p.denominator_exception - p.numerator
    if method == "electronicHealthRecord":
        eligible, exclusion = p.denominator, p.denominator_exclusion
    else:
        eligible, exclusion = p.denominator - p.denominator_exclusion, 0
    return StratumCounts(
        stratum=stratum,
        performance_met=p.numerator,
        performance_not_met=not_met,
        eligible_population=eligible,
        eligible_population_exclusion=exclusion,
        eligible_population_exception=p.denominator_exception,
        populations=p,
        population_ids=population_ids,
    )


def find_count_problems(measure: MeasureCounts) -> list[str]:
    """Every reason the counts of a measure cannot be submitted (empty when they reconcile)."""
    problems: list[str] = []
    for s in measure.strata:
        where = f"measure {measure.quality_id} stratum {s.stratum}"
        p = s.populations
        values = {
            "performanceMet": s.performance_met,
            "performanceNotMet": s.performance_not_met,
            "eligiblePopulation": s.eligible_population,
            "eligiblePopulationExclusion": s.eligible_population_exclusion,
            "eligiblePopulationException": s.eligible_population_exception,
        }
        for name, value in values.items():
            if value < 0:
                problems.append(f"{where}: {name} is negative ({value})")
        total = (
            s.performance_met
            + s.performance_not_met
            + s.eligible_population_exception
            + s.eligible_population_exclusion
        )
        if total != s.eligible_population:
            problems.append(
                f"{where}: met {s.performance_met} + not met {s.performance_not_met} + exceptions "
                f"{s.eligible_population_exception} + exclusions {s.eligible_population_exclusion} "
                f"= {total}, not the eligible population {s.eligible_population}"
            )
        if measure.submission_method == "registry" and s.eligible_population_exclusion != 0:
            problems.append(f"{where}: registry measures report exclusions as 0 (already removed)")
        if not p.denominator <= p.initial_population:
            problems.append(
                f"{where}: denominator {p.denominator} exceeds initial population {p.initial_population}"
            )
        if p.numerator + p.denominator_exclusion + p.denominator_exception > p.denominator:
            problems.append(f"{where}: numerator, exclusions and exceptions exceed the denominator")
    if measure.metric_type == "multiPerformanceRate" and len(measure.strata) < 2:
        problems.append(f"measure {measure.quality_id}: a multi-rate measure needs its strata")
    return problems


def require_reconciled(measures: list[MeasureCounts]) -> None:
    problems = [problem for measure in measures for problem in find_count_problems(measure)]
    if problems:
        raise ReconciliationError(problems)
