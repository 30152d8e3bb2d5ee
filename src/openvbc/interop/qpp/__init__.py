"""MIPS submissions: QPP Submissions API JSON and QRDA Category III, built from population counts.

``counts`` holds the values (one measure, its strata and their population counts) and the checks
run before anything is exported; ``submission_json`` and ``qrda3`` translate them to the two formats,
and ``qrda3.parse_qrda3`` reads a document back so a test can compare it with the engine.
"""
