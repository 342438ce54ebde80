"""The reference: a bare FastAPI endpoint returning a constant JSON (served like gpcast)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/constant")
    async def constant() -> dict[str, str]:
        return {"status": "ok", "model_version": "reference"}

    return app


if __name__ == "__main__":
    uvicorn.run(make_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=False,
                log_level="warning")
