"""A small OpenID Connect provider for the tests, run as its own process on 127.0.0.1.

It serves discovery, JWKS, an authorization endpoint that approves the configured person at once (code flow,
PKCE S256 required) and a token endpoint that checks the client secret and the PKCE verifier and signs an RS256
ID token. `POST /_control` sets who signs in and how the provider misbehaves, so each refusal can be provoked:
`nonce` (a wrong one), `expired`, `wrong_key` (signed by a key not in the JWKS), `audience` (another client),
`state` (answers with another state), `error` (the user denied access), `token_down` (the token endpoint
answers 503).

    python -m tests.sso.provider CLIENT_ID CLIENT_SECRET    # prints "PORT <n>" once it listens
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
import time
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

DEFAULT_PERSON = {"sub": "person-1", "email": "ada@example.com", "email_verified": True, "groups": []}


def create_provider(client_id: str, client_secret: str) -> Flask:
    app = Flask(__name__)
    signing_key = RSAKey.generate_key(2048, parameters={"kid": "good", "use": "sig", "alg": "RS256"})
    rogue_key = RSAKey.generate_key(2048, parameters={"kid": "good", "use": "sig", "alg": "RS256"})
    state: dict = {"person": dict(DEFAULT_PERSON), "faults": set(), "codes": {}, "authorize_requests": []}

    def issuer() -> str:
        return request.host_url.rstrip("/")

    @app.get("/.well-known/openid-configuration")
    def discovery():
        base = issuer()
        return jsonify({
            "issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks", "response_types_supported": ["code"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"], "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        })

    @app.get("/jwks")
    def jwks():
        return jsonify({"keys": [signing_key.as_dict(private=False)]})

    @app.get("/authorize")
    def authorize():
        args = request.args
        state["authorize_requests"].append({k: v for k, v in args.items() if k != "nonce"} |
                                           {"has_nonce": bool(args.get("nonce"))})
        if args.get("client_id") != client_id or args.get("response_type") != "code":
            return "unknown client or response type", 400
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return "PKCE (S256) is required", 400
        target = args["redirect_uri"]
        if "error" in state["faults"]:
            denied = {"error": "access_denied", "error_description": "The user denied access",
                      "state": args.get("state", "")}
            return redirect(f"{target}?{urlencode(denied)}")
        code = secrets.token_urlsafe(24)
        state["codes"][code] = {"nonce": args.get("nonce"), "challenge": args["code_challenge"],
                                "redirect_uri": target, "person": dict(state["person"])}
        answer_state = "forged-" + secrets.token_urlsafe(8) if "state" in state["faults"] else args.get("state", "")
        return redirect(f"{target}?{urlencode({'code': code, 'state': answer_state})}")

    @app.post("/token")
    def token():
        if "token_down" in state["faults"]:
            return "<h1>503 Service Unavailable</h1>", 503
        auth = request.authorization
        given = (auth.username, auth.password) if auth else (request.form.get("client_id"),
                                                            request.form.get("client_secret"))
        if given != (client_id, client_secret):
            return jsonify({"error": "invalid_client"}), 401
        grant = state["codes"].pop(request.form.get("code", ""), None)
        if grant is None or request.form.get("redirect_uri") != grant["redirect_uri"]:
            return jsonify({"error": "invalid_grant"}), 400
        verifier = request.form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return jsonify({"error": "invalid_grant", "error_description": "PKCE verifier mismatch"}), 400
        now = int(time.time())
        faults = state["faults"]
        person = {k: v for k, v in grant["person"].items() if v is not None}  # None: leave the claim out
        claims = {**person, "iss": issuer(), "aud": "someone-else" if "audience" in faults else client_id,
                  "iat": now - 3600 if "expired" in faults else now,
                  "exp": now - 1800 if "expired" in faults else now + 300,
                  "nonce": "not-the-nonce" if "nonce" in faults else grant["nonce"]}
        key = rogue_key if "wrong_key" in faults else signing_key
        id_token = jwt.encode({"alg": "RS256", "kid": "good"}, claims, key)
        return jsonify({"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 300,
                        "id_token": id_token})

    @app.post("/_control")
    def control():
        body = request.get_json(force=True)
        state["person"] = {**DEFAULT_PERSON, **body.get("person", {})}
        state["faults"] = set(body.get("faults", []))
        return jsonify({"ok": True})

    @app.get("/_control/authorize-requests")
    def authorize_requests():
        return jsonify(state["authorize_requests"])

    return app


def main() -> None:
    client_id, client_secret = sys.argv[1], sys.argv[2]
    server = make_server("127.0.0.1", 0, create_provider(client_id, client_secret), threaded=True)
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
