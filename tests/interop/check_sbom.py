"""Checks reprocheck's toolchain SBOMs with spdx-tools, the SPDX project's
own Python library (nobody here wrote it).

    python check_sbom.py SBOM.spdx.json...

Each document is parsed by spdx-tools' JSON parser and validated in full
against SPDX 2.3 (fields, SPDX ids, relationships, purl locators,
checksums). Prints one JSON line per document with what it describes;
exits 1 on the first document with validation messages.
"""
import json
import sys

from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document


def main(paths):
    for path in paths:
        document = parse_file(path)  # raises SPDXParsingError on malformed input
        messages = [m.validation_message for m in validate_full_spdx_document(document)]
        described = [r.related_spdx_element_id for r in document.relationships
                     if r.relationship_type.name == "DESCRIBES"]
        contained = [r.related_spdx_element_id for r in document.relationships
                     if r.relationship_type.name == "CONTAINS"]
        packages = []
        for package in document.packages:
            purls = [r.locator for r in package.external_references if r.reference_type == "purl"]
            sha256 = [c.value for c in package.checksums if c.algorithm.name == "SHA256"]
            packages.append({
                "id": package.spdx_id,
                "name": package.name,
                "version": package.version,
                "purl": purls[0] if purls else None,
                "sha256": sha256[0] if sha256 else None,
            })
        print(json.dumps({
            "file": path,
            "spdxVersion": document.creation_info.spdx_version,
            "created": document.creation_info.created.isoformat(),
            "describes": described,
            "contains": contained,
            "packages": packages,
            "messages": messages,
        }))
        if messages:
            sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
