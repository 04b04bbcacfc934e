"""Checks a GP message back as a third party would: the ITK3 message bundle parses as FHIR STU3 with
fhir.resources, its document bundle holds the parts GP Connect Send Document expects, and the PDF reads
back as text with pdftotext.

Usage: check_gp_message.py BUNDLE.json   (the PDF is taken from the bundle's Binary)
Prints one JSON line: {"ok": true, "version": "1", "replaces": [...], "pdf_text": "...", "codes": [...], ...}; exits 1 with the reason.
"""
import base64
import json
import subprocess
import sys
import tempfile

from fhir.resources.STU3.bundle import Bundle


def main(path):
    raw = json.load(open(path))
    message = Bundle.model_validate(raw)
    assert message.type == "message", message.type
    header = message.entry[0].resource
    assert header.__resource_type__ == "MessageHeader", header.__resource_type__
    document = message.entry[1].resource
    assert document.__resource_type__ == "Bundle" and document.type == "document"
    resources = [e.resource for e in document.entry]
    kinds = [r.__resource_type__ for r in resources]
    assert kinds[0] == "Composition", kinds
    for needed in ("Patient", "Organization", "Binary", "ReferralRequest"):
        assert needed in kinds, (needed, kinds)
    patient = next(r for r in resources if r.__resource_type__ == "Patient")
    nhs = [i.value for i in patient.identifier if i.system == "https://fhir.nhs.uk/Id/nhs-number"]
    orgs = [i.value for r in resources if r.__resource_type__ == "Organization" for i in (r.identifier or [])]
    codes = sorted({c.code for r in resources for c in _codings(r)})
    composition = resources[0]
    relates = [r.targetIdentifier.value for r in (composition.relatesTo or []) if r.code == "replaces"]
    version = document.meta.versionId if document.meta else None
    assert version == (composition.meta.versionId if composition.meta else None), "one version throughout"
    binary = next(r for r in resources if r.__resource_type__ == "Binary")
    assert binary.contentType == "application/pdf"
    with tempfile.NamedTemporaryFile(suffix=".pdf") as pdf:
        # fhir.resources decodes base64Binary on parsing; older versions kept the text.
        content = binary.content
        pdf.write(content if isinstance(content, bytes) else base64.b64decode(content))
        pdf.flush()
        text = subprocess.run(["pdftotext", "-layout", pdf.name, "-"], check=True, capture_output=True).stdout.decode()
    print(json.dumps({
        "ok": True, "version": version, "nhs_number": nhs, "ods_codes": orgs, "codes": codes, "replaces": relates,
        "sections": [s.title for s in composition.section], "pdf_text": text,
    }))


def _codings(resource):
    for field in ("code", "type"):
        concept = getattr(resource, field, None)
        if concept is not None and getattr(concept, "coding", None):
            yield from concept.coding
    for concept in getattr(resource, "serviceRequested", None) or []:
        yield from concept.coding or []


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as e:  # the reason goes to the Rust test's assertion
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
