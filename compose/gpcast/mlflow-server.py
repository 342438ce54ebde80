#!/opt/venv/bin/python
"""The stack's MLflow tracking server: waits for its stores, makes the bucket, then serves.

Backend store: MLFLOW_BACKEND_STORE_URI (PostgreSQL). Artifacts: MLFLOW_ARTIFACTS_DESTINATION
(s3://bucket/prefix) on the S3-compatible MLFLOW_S3_ENDPOINT_URL, proxied by the server
(clients need no S3 credentials). Extra arguments go to `mlflow server`.
"""

import os
import socket
import sys
import time
from urllib.parse import urlsplit

import boto3


def wait_for(host: str, port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=2).close()
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                sys.exit(f"mlflow-server: {host}:{port} does not answer ({exc})")
            time.sleep(1)


def main() -> None:
    backend = os.environ["MLFLOW_BACKEND_STORE_URI"]
    destination = os.environ["MLFLOW_ARTIFACTS_DESTINATION"]
    db = urlsplit(backend)
    wait_for(db.hostname or "localhost", db.port or 5432)
    endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL")
    bucket = urlsplit(destination).netloc
    if endpoint:
        s3 = urlsplit(endpoint)
        wait_for(s3.hostname or "localhost", s3.port or 443)
    client = boto3.client("s3", endpoint_url=endpoint or None)
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)
        print(f"mlflow-server: made bucket {bucket}", flush=True)
    args = ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000",
            "--backend-store-uri", backend, "--artifacts-destination", destination,
            *sys.argv[1:]]
    os.execvp(args[0], args)


if __name__ == "__main__":
    main()
