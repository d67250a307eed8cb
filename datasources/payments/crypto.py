"""The cryptography of WeChat Pay API v3, used alike by our client and by the sandbox.

- Signatures: SHA256 with RSA (PKCS #1 v1.5), base64. Requests are signed with the merchant's
  private key over `METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`; responses and notifications are
  signed by WeChat Pay with its platform key over `TIMESTAMP\\nNONCE\\nBODY\\n`; `wx.requestPayment`
  parameters are signed with the merchant key over `APPID\\nTIMESTAMP\\nNONCE\\nPACKAGE\\n`.
- Notification resources and platform certificates are sealed with AEAD_AES_256_GCM under the
  APIv3 key (32 bytes), with the resource's `nonce` and `associated_data`.
- A platform certificate is known by its serial number in upper-case hexadecimal.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
AEAD = "AEAD_AES_256_GCM"


class KeyProblem(ValueError):
    """A key or certificate could not be read; the message never contains the key."""


def sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    signature = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(public_key: rsa.RSAPublicKey, message: str | bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    data = message.encode() if isinstance(message, str) else message
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def request_message(method: str, path_and_query: str, timestamp: str, nonce: str, body: str) -> str:
    return f"{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What WeChat Pay signs in a response or a notification: the body exactly as sent."""
    return timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"


def pay_sign_message(app_id: str, timestamp: str, nonce: str, package: str) -> str:
    return f"{app_id}\n{timestamp}\n{nonce}\n{package}\n"


def authorization(*, mch_id: str, serial: str, nonce: str, timestamp: str, signature: str) -> str:
    return (
        f'{AUTH_SCHEME} mchid="{mch_id}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial}"'
    )


def parse_authorization(value: str) -> dict[str, str] | None:
    """The parts of an Authorization header of our scheme, or None when it is not one."""
    scheme, _, rest = value.partition(" ")
    if scheme != AUTH_SCHEME:
        return None
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, quoted = item.strip().partition("=")
        if not sep or len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
            return None
        parts[key] = quoted[1:-1]
    return parts


def nonce() -> str:
    return secrets.token_hex(16).upper()


def aead_decrypt(api_v3_key: bytes, *, nonce: str, ciphertext: str, associated_data: str) -> bytes:
    """Raises InvalidTag when the ciphertext, nonce or associated data were changed, or the key differs."""
    try:
        sealed = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidTag() from None
    return AESGCM(api_v3_key).decrypt(nonce.encode(), sealed, associated_data.encode())


def aead_encrypt(api_v3_key: bytes, *, nonce: str, plaintext: bytes, associated_data: str) -> str:
    return base64.b64encode(AESGCM(api_v3_key).encrypt(nonce.encode(), plaintext, associated_data.encode())).decode()


def aead_nonce() -> str:
    # WeChat Pay's resource nonces are 12 printable characters: the GCM nonce is their bytes.
    return base64.b32encode(os.urandom(10)).decode()[:12]


# ---- keys and certificates ---------------------------------------------------------------------


def _pem_text(value: str, what: str) -> bytes:
    """A PEM given inline, or the path of a file holding it (secrets are often mounted as files)."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    path = Path(text)
    try:
        return path.read_bytes()
    except OSError:
        raise KeyProblem(f"{what}: neither a PEM text nor a readable file") from None


def load_private_key(value: str, what: str = "merchant private key") -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(_pem_text(value, what), password=None)
    except (ValueError, TypeError):
        raise KeyProblem(f"{what}: not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise KeyProblem(f"{what}: must be an RSA key of at least 2048 bits")
    return key


def certificate_serial(certificate: x509.Certificate) -> str:
    return f"{certificate.serial_number:X}"


def load_certificates(value: str, what: str = "platform certificates") -> dict[str, rsa.RSAPublicKey]:
    """Public keys by serial, from one or more PEM certificates (inline, or files separated by commas)."""
    blobs: list[bytes] = []
    text = value.strip()
    if text.startswith("-----BEGIN"):
        blobs.append(text.encode())
    else:
        blobs += [_pem_text(part, what) for part in text.split(",") if part.strip()]
    keys: dict[str, rsa.RSAPublicKey] = {}
    for blob in blobs:
        try:
            certificates = x509.load_pem_x509_certificates(blob)
        except ValueError:
            raise KeyProblem(f"{what}: not PEM certificates") from None
        for certificate in certificates:
            key = certificate.public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise KeyProblem(f"{what}: only RSA certificates are used by WeChat Pay")
            keys[certificate_serial(certificate)] = key
    if not keys:
        raise KeyProblem(f"{what}: no certificate found")
    return keys


def load_public_key(value: str, what: str = "WeChat Pay public key") -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(_pem_text(value, what))
    except ValueError:
        raise KeyProblem(f"{what}: not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyProblem(f"{what}: must be an RSA key")
    return key


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def self_signed_certificate(key: rsa.RSAPrivateKey, *, common_name: str, now: datetime) -> x509.Certificate:
    """A certificate like WeChat Pay's platform certificates (for the sandbox): a random 160-bit serial."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(os.urandom(20), "big") >> 1 | (1 << 155))
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=5 * 365))
        .sign(key, hashes.SHA256())
    )


def certificate_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()
