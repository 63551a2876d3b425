"""Checks reprocheck's attestations with clients nobody here wrote.

    python check_attestations.py PUBLIC_KEY.pem ENVELOPE...

Each DSSE envelope is verified with securesystemslib's DSSE implementation,
its in-toto Statement is parsed strictly (unknown fields are errors) into the
in-toto attestation protobuf bindings and validated, and its predicate is
parsed strictly into the SLSA Provenance v1 or Verification Summary v1
message. Prints one JSON line per envelope; exits 1 on the first failure.
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import serialization
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.predicates.vsa.v1 import vsa_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

PREDICATES = {
    "https://slsa.dev/provenance/v1": provenance_pb2.Provenance,
    "https://slsa.dev/verification_summary/v1": vsa_pb2.VerificationSummary,
}


def main(public_key_file, envelopes):
    with open(public_key_file, "rb") as f:
        public_key = serialization.load_pem_public_key(f.read())
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # reprocheck names a key by the sha256 of its SubjectPublicKeyInfo.
    key = SSlibKey.from_crypto(public_key, keyid=hashlib.sha256(spki).hexdigest())
    for path in envelopes:
        with open(path) as f:
            envelope = Envelope.from_dict(json.load(f))
        envelope.verify([key], 1)  # raises VerificationError
        statement_json = envelope.payload.decode("utf-8")
        statement_pb = json_format.Parse(statement_json, statement_pb2.Statement())
        Statement.copy_from_pb(statement_pb).validate()
        statement = json.loads(statement_json)
        predicate_type = statement["predicateType"]
        message = PREDICATES[predicate_type]()
        predicate = statement["predicate"]
        if predicate_type.endswith("verification_summary/v1"):
            # The SLSA spec makes verifiedLevels a list; the binding's proto still
            # has one string (in-toto/attestation#425, fix open as #429). One
            # level is lossless; anything else is an error.
            levels = predicate["verifiedLevels"]
            assert isinstance(levels, list) and len(levels) == 1, levels
            predicate = dict(predicate, verifiedLevels=levels[0])
        json_format.Parse(json.dumps(predicate), message)
        summary = {"file": path, "predicateType": predicate_type, "subjects": len(statement_pb.subject)}
        if isinstance(message, vsa_pb2.VerificationSummary):
            summary["verificationResult"] = message.verification_result
            summary["verifiedLevels"] = message.verified_levels
            summary["verdicts"] = {s["name"]: s["annotations"]["verdict"] for s in statement["subject"]}
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
