"""schemathesis against the app's own OpenAPI schema, over HTTP: no 5xx, and every
response (forecasts, problems, probes) matches what the schema documents."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance
from test_serving_api import Server, build_artifact, settings_for

from gpcast.serving.auth import new_key


@pytest.fixture(scope="module")
def api_tokens() -> dict[str, str]:
    token, record = new_key("admin", "schemathesis")
    return {"admin": token, "entries": record.entry()}


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory,
               api_tokens: dict[str, str]) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("schema")
    artifact = (root / "gp", build_artifact(root / "gp", "gp", ["banking", "technology"]))
    server = Server(settings_for(root, artifact, api_tokens, max_body_bytes=64 * 1024)).start()
    yield server
    server.stop()


def test_the_api_never_answers_5xx_and_matches_its_schema(
        api_server: Server, api_tokens: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(f"{api_server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {api_tokens['admin']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /v1/forecast", "POST /v1/forecast/batch",
                                               "GET /v1/model", "GET /readyz"}
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    for operation, mode in itertools.product(operations, modes):

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=30, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            # Schema-valid requests may still name unknown series or omit the regressors
            # the model needs: 4xx by design, so "valid data is accepted" does not apply.
            case.call_and_validate(base_url=api_server.url, headers=headers,
                                   excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Unsatisfiable:
            # nothing to make invalid in an operation without parameters or body
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    # a known-good request after the fuzzing: the app still answers it
    ok = httpx.post(f"{api_server.url}/v1/forecast", headers=headers,
                    json={"series": ["banking"], "h": 3, "regressor_policy": "carry_last"})
    assert ok.status_code == 200, ok.text
    # the fuzzing reached the app: many requests, most of them refused as invalid
    text = httpx.get(f"{api_server.url}/metrics").text
    counts = {line.split("{")[1].split("}")[0]: float(line.rsplit(" ", 1)[1])
              for line in text.splitlines() if line.startswith("gpcast_http_requests_total{")}
    assert sum(counts.values()) > 100
    assert any('route="/v1/forecast",status="200"' in k for k in counts)
    assert any('route="/v1/forecast",status="422"' in k for k in counts)
    assert not any('status="5' in k for k in counts), counts
