#!/usr/bin/env python3
"""An organization's information system reading Qoljetim's budget data on its own (issue 18, Order 270 §3).

It signs in without a person: it asks for a one-time challenge, signs it with the system's
authentication key into a CMS SignedData that carries the challenge (not detached), posts it to
POST /api/v1/auth/system and gets a bearer token of minutes. With the token it pages through one
dataset (limit/offset) and prints every row as one JSON line on stdout; a summary goes to stderr.
A 429 waits as long as Retry-After says; a token that ran out (401 session-expired) signs in again once.

Needs only Python 3 and `cryptography` (Debian: python3-cryptography; PKCS7SignatureBuilder signs RSA
and ECDSA keys — NCA's GOST keys need a GOST-capable signer such as NCALayer or OpenSSL's GOST engine).

    scripts/system-client.py --base https://qoljetim.example.kz \
        --cert system.pem --key system-key.pem            # or: --p12 system.p12 --password-env P12_PASSWORD
        --system analytical_central --dataset expenditure \
        --param fiscal_year=2026 --param group_by=budget --param measures=paid --limit 500

docs/information-systems.md describes the protocol this follows.
"""

import argparse
import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12


class ApiError(Exception):
    def __init__(self, status, problem):
        self.status = status
        self.problem = problem
        super().__init__(f"{status} {problem.get('type', '')}: {problem.get('detail', problem)}")


class Client:
    def __init__(self, base, certificate, key, context=None, language="en"):
        self.base = base.rstrip("/")
        self.certificate = certificate
        self.key = key
        self.context = context
        self.language = language
        self.token = None

    def request(self, method, path, body=None, waits=5):
        headers = {"Accept-Language": self.language, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=self.context) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                problem = json.loads(text)
            except ValueError:
                problem = {"detail": text.decode(errors="replace")}
            if e.code == 429 and waits > 0:
                time.sleep(int(e.headers.get("Retry-After", "1")))
                return self.request(method, path, body, waits - 1)
            raise ApiError(e.code, problem) from None

    def sign_in(self):
        """A challenge signed with the system's authentication key (CMS with the content) → a token."""
        self.token = None
        challenge = self.request("GET", "/api/v1/auth/challenge")["challenge"]
        cms = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(challenge.encode())
            .add_signer(self.certificate, self.key, hashes.SHA256())
            # The content stays inside (not detached); no S/MIME capabilities attribute.
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCapabilities])
        )
        answer = self.request("POST", "/api/v1/auth/system", {"signed_cms": base64.b64encode(cms).decode()})
        self.token = answer["token"]
        return answer

    def get(self, path):
        try:
            return self.request("GET", path)
        except ApiError as e:
            if e.status == 401 and e.problem.get("type", "").endswith(":session-expired"):
                self.sign_in()
                return self.request("GET", path)
            raise

    def pages(self, system, dataset, params, limit):
        """Every row of the query, page by page."""
        offset = 0
        while True:
            query = dict(params, limit=str(limit), offset=str(offset))
            page = self.get(f"/api/v1/data/{system}/{dataset}?{urllib.parse.urlencode(query)}")
            rows = page.get("rows", [])
            yield offset, rows
            if not page.get("has_more", len(rows) == limit):
                return
            offset += limit


def load_identity(args):
    if args.p12:
        password = os.environ.get(args.password_env, "").encode() if args.password_env else None
        with open(args.p12, "rb") as f:
            key, certificate, _ = pkcs12.load_key_and_certificates(f.read(), password)
        return certificate, key
    with open(args.cert, "rb") as f:
        certificate = x509.load_pem_x509_certificate(f.read())
    with open(args.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return certificate, key


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="the server, e.g. https://qoljetim.example.kz")
    p.add_argument("--cert", help="the system's certificate (PEM)")
    p.add_argument("--key", help="its private key (PEM, unencrypted PKCS#8)")
    p.add_argument("--p12", help="or both in a PKCS#12 file, as NCA issues them")
    p.add_argument("--password-env", help="the environment variable holding the PKCS#12 password")
    p.add_argument("--ca-file", help="the CA bundle that signs the server's TLS certificate")
    p.add_argument("--system", required=True, help="analytical_central or state_planning")
    p.add_argument("--dataset", required=True, help="expenditure, revenue, budget_applications, indicators")
    p.add_argument("--param", action="append", default=[], help="a query parameter name=value (repeat)")
    p.add_argument("--limit", type=int, default=1000, help="rows per page (1 to 10000)")
    p.add_argument("--language", default="en", help="kk, ru or en: names in rows, problems")
    args = p.parse_args()
    if not args.p12 and not (args.cert and args.key):
        p.error("give --cert and --key, or --p12")
    certificate, key = load_identity(args)
    context = ssl.create_default_context(cafile=args.ca_file) if args.ca_file else None
    client = Client(args.base, certificate, key, context, args.language)
    params = dict(kv.split("=", 1) for kv in args.param)
    try:
        who = client.sign_in()["information_system"]
        print(f"signed in as system {who['id']} «{who['name']}» of {who['organization']['bin']}", file=sys.stderr)
        pages = total = 0
        for _, rows in client.pages(args.system, args.dataset, params, args.limit):
            pages += 1
            total += len(rows)
            for row in rows:
                print(json.dumps(row, ensure_ascii=False))
        print(f"{total} rows in {pages} pages", file=sys.stderr)
    except ApiError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
