"""The three HTTP endpoints the load benchmark compares, each an ASGI app factory.

- ``hemproto_app``: ``hemproto.asgi.backend_app`` over a ``Backend`` (the product).
- ``floor_app``: a bare ASGI endpoint that reads the body and does one X25519 exchange with
  cryptography, then answers a small JSON object: the floor of this job over HTTP.
- ``fastapi_pyjwt_app``: what a user would write instead: FastAPI with a pydantic body,
  PyJWT to read and verify the check and sign the reply, cryptography for X25519, a set
  for replays and the same answer (action ``OK``).

Every factory reads the backend's private key from HEMBENCH_KEY (hex), so each uvicorn
worker builds the same backend. Uvicorn runs them with ``--factory``.
"""

# No postponed annotations here: FastAPI reads the body model from the live annotation.
import base64
import json
import os
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

PATH = "/checkin"


def _private_key() -> bytes:
    return bytes.fromhex(os.environ["HEMBENCH_KEY"])


def hemproto_app() -> Any:
    import hemproto
    from hemproto.asgi import backend_app

    return backend_app(hemproto.Backend(hemproto.KeyPair(_private_key())), path=PATH)


async def _read_body(receive: Any) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def floor_app() -> Any:
    private = X25519PrivateKey.from_private_bytes(_private_key())
    peer = X25519PrivateKey.generate().public_key().public_bytes_raw()
    headers = [(b"content-type", b"application/json")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        json.loads(body)
        private.exchange(X25519PublicKey.from_public_bytes(peer))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    return app


def fastapi_pyjwt_app() -> Any:
    import jwt
    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel

    private = X25519PrivateKey.from_private_bytes(_private_key())
    public = private.public_key().public_bytes_raw()
    answered: dict[tuple[bytes, bytes, bytes], float] = {}
    app = FastAPI()

    class CheckBody(BaseModel):
        check: str

    def b64(value: Any, size: int) -> bytes:
        raw = base64.b64decode(value, validate=True)
        if len(raw) != size:
            raise HTTPException(400)
        return raw

    @app.post(PATH)
    def checkin(body: CheckBody) -> dict[str, str]:
        try:
            header = jwt.get_unverified_header(body.check)
            if header.get("alg") != "HS256" or header.get("ecdh") != "x25519":
                raise HTTPException(400)
            claims = jwt.decode(body.check, options={"verify_signature": False})
            jti, iss, aud = (b64(claims[n], 32) for n in ("jti", "iss", "aud"))
            for name, size in (("qid", 32), ("fws", 64), ("bls", 64), ("csn", 16)):
                b64(claims[name], size)
        except (jwt.PyJWTError, KeyError, ValueError):
            raise HTTPException(400) from None
        if aud != public:
            raise HTTPException(401)
        shared = private.exchange(X25519PublicKey.from_public_bytes(iss))
        try:
            # aud and iss were checked above as raw bytes; PyJWT's own checks want strings.
            jwt.decode(body.check, shared, algorithms=["HS256"], options={"verify_aud": False})
        except jwt.PyJWTError:
            raise HTTPException(401) from None
        now = time.time()
        if answered.get((aud, iss, jti), 0) > now:
            raise HTTPException(401)
        answered[(aud, iss, jti)] = now + 600
        reply = {
            "jti": claims["jti"],
            "iss": claims["aud"],
            "aud": claims["iss"],
            "iat": int(now),
            "act": "OK",
        }
        token = jwt.encode(reply, shared, algorithm="HS256", headers={"ecdh": "x25519"})
        return {"checked": token}

    return app
