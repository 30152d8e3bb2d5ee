"""Test-run settings for the measure tests: the slow-test gate and one tuned Spark session.

Slow tests: a plain ``pytest`` (or a ``-m`` that does not name ``slow``, e.g. ``-m spark``)
leaves out the tests of this folder marked ``slow`` (the full Spark parity run) so the default
suite stays fast; a marker expression naming ``slow`` (``-m "spark and slow"``) or
``OPENVBC_SLOW_TESTS=1`` brings them back. Other folders are not touched.

Spark: every test here shares the process-wide session of
``openvbc.engine.backends.connect_spark``. The test data are a few hundred rows, so a run is
all JVM warm-up, query analysis and code generation, not data. Three settings, none of which
changes a result, cut the quick parity run from minutes to well under a minute on 2 cores:
the driver JVM runs with the C1 compiler only (fast warm-up; set before the JVM starts, and
only when the caller has not set ``PYSPARK_SUBMIT_ARGS``), whole-stage and expression code
generation are off (Spark's interpreted evaluation computes the same values), and adaptive
execution is off (it re-plans each stage, which only pays on large data).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-java-options -XX:TieredStopAtLevel=1 pyspark-shell")

SMALL_DATA_SPARK_SETTINGS = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
}


@pytest.fixture(scope="session")
def spark_con() -> Iterator[Any]:
    """The shared Spark session (one partition per shuffle) with the small-data settings above.

    The settings are restored afterwards, so tests elsewhere see the session as they found it.
    """
    from openvbc.engine.backends import connect_spark

    con = connect_spark(partitions=1)
    conf = con._session.conf
    before = {key: conf.get(key, None) for key in SMALL_DATA_SPARK_SETTINGS}
    for key, value in SMALL_DATA_SPARK_SETTINGS.items():
        conf.set(key, value)
    yield con
    for key, value in before.items():
        if value is None:
            conf.unset(key)
        else:
            conf.set(key, value)
