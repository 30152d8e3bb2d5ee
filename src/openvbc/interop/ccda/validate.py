"""CDA R2 schema validation (CDA_SDTC.xsd, shipped in ``schema/``) and safe XML parsing.

The schema is the HL7 CDA R2 XSD with the SDTC extensions (HL7/CDA-core-2.0, see
``schema/LICENSE-NOTE.md``). Loading it takes a fraction of a second, so it is loaded once.
Parsing never resolves external entities or fetches DTDs (a care plan arrives from outside).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

from openvbc.domain.errors import InputIssue
from openvbc.interop.ccda.errors import CcdaInputError

SCHEMA_FILE = Path(__file__).parent / "schema" / "infrastructure" / "cda" / "CDA_SDTC.xsd"


def make_safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@lru_cache(maxsize=1)
def load_cda_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE), make_safe_parser()))


def parse_xml(data: bytes, source: str) -> etree._ElementTree:
    """Parse bytes as XML, or raise ``CcdaInputError`` naming the line of the syntax error."""
    try:
        return etree.ElementTree(etree.fromstring(data, make_safe_parser()))
    except etree.XMLSyntaxError as error:
        line = error.lineno if isinstance(error.lineno, int) else None
        raise CcdaInputError([InputIssue(source, line, None, f"not well-formed XML: {error.msg}")]) from None


def validate_cda_schema(tree: etree._ElementTree, source: str) -> list[InputIssue]:
    """Every CDA_SDTC.xsd violation as an issue with its line (empty when valid)."""
    schema = load_cda_schema()
    if schema.validate(tree):
        return []
    return [
        InputIssue(source, entry.line, _short_path(entry.path), f"CDA schema: {entry.message}")
        for entry in schema.error_log
    ]


def _short_path(path: str | None) -> str | None:
    if not path:
        return None
    return path.replace("{urn:hl7-org:v3}", "").replace("/*[local-name()=", "/")
