"""Signed requests: RFC 9421 HTTP Message Signatures with Ed25519 and RFC 9530 ``Content-Digest``
(sha-256), exactly as the TypeScript SDK signs (sdk/signing.ts) and the server verifies
(src/signing/verify.ts): ``@method``, ``@target-uri`` and, with a body, ``content-digest``, with the
parameters created, nonce, keyid (the key's RFC 7638 thumbprint) and alg="ed25519".

Only this module needs ``cryptography``; it is imported when a key is loaded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .errors import AirlockError

_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_LABEL = re.compile(r"^[a-z*][a-z0-9_\-.*]*$")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _sf_string(value: str) -> str:
    """RFC 8941 sf-string: printable ASCII, with ``\\`` and ``"`` escaped."""
    if not _PRINTABLE.match(value):
        raise ValueError(f"cannot sign {json.dumps(value)}: only printable ASCII is allowed")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key and the key id the server knows it by (its RFC 7638 thumbprint)."""

    key_id: str
    _private: Any = field(repr=False)

    @staticmethod
    def from_pem(pkcs8_pem: bytes) -> "SigningKey":
        """Reads a PKCS#8 PEM Ed25519 private key, as ``airlock keys gen`` writes it."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        try:
            private = serialization.load_pem_private_key(pkcs8_pem, password=None)
        except (ValueError, TypeError) as err:
            raise ValueError(f"not a PKCS#8 PEM private key: {err}") from err
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"not an Ed25519 private key (a {type(private).__name__})")
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        # RFC 7638: required members crv, kty, x in lexicographic order, no whitespace.
        thumbprint = f'{{"crv":"Ed25519","kty":"OKP","x":"{_b64url(raw)}"}}'
        return SigningKey(key_id=_b64url(hashlib.sha256(thumbprint.encode("ascii")).digest()), _private=private)

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data``."""
        return bytes(self._private.sign(data))


def load_signing_key(path: str) -> SigningKey:
    """Loads the Ed25519 private key at ``path`` (PKCS#8 PEM, as ``airlock keys gen`` writes it).

    Refuses a file that group or others may read or write, as ssh does; errors name the file, never
    its content.
    """
    if not isinstance(path, str) or path == "":
        raise AirlockError("the key path must be a non-empty string", code="invalid_argument")
    try:
        info = os.stat(path)
    except OSError as err:
        raise AirlockError(f"private key {path}: {err.strerror or err}", code="invalid_argument") from err
    if not stat.S_ISREG(info.st_mode):
        raise AirlockError(f"private key {path} is not a regular file", code="invalid_argument")
    # Why: a signing key others can read is a shared identity; one others can write is theirs to replace.
    if info.st_mode & 0o077:
        raise AirlockError(
            f"private key {path} is accessible by group or others (mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it",
            code="invalid_argument",
        )
    with open(path, "rb") as handle:
        pem = handle.read()
    try:
        return SigningKey.from_pem(pem)
    except ValueError as err:
        raise AirlockError(f"private key {path}: {err}", code="invalid_argument") from err


def content_digest(body: bytes) -> str:
    """RFC 9530 ``Content-Digest`` of ``body`` (sha-256)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def signed_headers(
    key: SigningKey,
    method: str,
    target_uri: str,
    body: bytes = b"",
    *,
    created: Optional[int] = None,
    nonce: Optional[str] = None,
    label: str = "sig1",
) -> Dict[str, str]:
    """The headers that sign a request: ``Signature-Input``, ``Signature`` and, with a body, ``Content-Digest``.

    ``target_uri`` is the absolute URL exactly as the server rebuilds it (scheme, the Host header,
    the raw path and query). Sign each request afresh: the server refuses a nonce twice.
    """
    if not _LABEL.match(label):
        raise ValueError(f"invalid signature label {json.dumps(label)}")
    added: Dict[str, str] = {}
    lines: List[Tuple[str, str]] = [("@method", method), ("@target-uri", target_uri)]
    if len(body) > 0:
        added["content-digest"] = content_digest(body)
        lines.append(("content-digest", added["content-digest"]))
    when = int(time.time()) if created is None else created
    if when < 0:
        raise ValueError(f"created must be Unix seconds, got {when}")
    nonce = _b64url(secrets.token_bytes(16)) if nonce is None else nonce
    components = " ".join(_sf_string(name) for name, _ in lines)
    params = f"({components});created={when};nonce={_sf_string(nonce)};keyid={_sf_string(key.key_id)};alg=\"ed25519\""
    # RFC 9421 section 2.5: one `"name": value` line per component, then "@signature-params" without a newline.
    base = "".join(f"{_sf_string(name)}: {value}\n" for name, value in lines) + f'"@signature-params": {params}'
    signature = base64.b64encode(key.sign(base.encode("utf-8"))).decode("ascii")
    return {**added, "signature-input": f"{label}={params}", "signature": f"{label}=:{signature}:"}
