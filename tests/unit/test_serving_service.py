"""ForecastService: validation against the model, responses cached per version."""

from __future__ import annotations

import json

import pytest

from gpcast.data.panel import Panel
from gpcast.errors import MalformedRequestError, RequestError
from gpcast.models import make_forecaster
from gpcast.registry.artifact import ModelBundle
from gpcast.serving.service import BoundedCache, ForecastService


@pytest.fixture(scope="module")
def service(panel: Panel) -> ForecastService:
    fitted = make_forecaster("seasonal_naive", 12).fit(panel)
    return ForecastService(ModelBundle(fitted, panel, {"version": "9"}), "ab" * 32,
                           max_horizon=24, cache_size=8)


def test_a_repeated_body_is_answered_from_the_cache_with_identical_bytes(
        service: ForecastService) -> None:
    body = b'{"h": 4, "series": ["s1"]}'
    first = service.answer(body)
    assert service.cached(body) is first
    again = service.answer(b'{"series": ["s1"], "h": 4}')  # same plan, other bytes
    assert again.body == first.body
    payload = json.loads(first.body)
    assert payload["model_version"] == "9" and payload["forecasts"][0]["series"] == "s1"
    assert len(payload["forecasts"][0]["months"]) == 4


def test_the_response_matches_a_direct_forecast(service: ForecastService) -> None:
    payload = json.loads(service.answer(b'{"h": 3, "level": [95]}').body)
    direct = service.bundle.fitted.forecast(3, level=[95])
    assert [f["series"] for f in payload["forecasts"]] == list(direct.unique_ids)
    assert payload["forecasts"][0]["median"] == pytest.approx(direct.median[0].tolist())
    assert payload["forecasts"][0]["intervals"]["95"]["upper"] == pytest.approx(
        direct.upper[95][0].tolist())


@pytest.mark.parametrize(("body", "field"), [
    (b'{"h": 3, "series": ["nope"]}', "series"),
    (b'{"h": 3, "series": ["s1", "s1"]}', "series"),
    (b'{"h": 30}', "h"),
    (b'{"h": 3, "regressors": {"phone_lines": [1, 2, 3], "wind": [1, 2, 3]}}',
     "regressors.wind"),
    (b'{"h": 3, "regressors": {"phone_lines": [1, 2]}}', "regressors.phone_lines"),
])
def test_invalid_requests_name_the_field_and_are_never_cached(
        service: ForecastService, body: bytes, field: str) -> None:
    with pytest.raises(RequestError) as info:
        service.answer(body)
    problem = info.value.to_dict()
    assert field in {problem.get("field"), *(e["field"] for e in problem.get("errors", []))}
    assert service.cached(body) is None


def test_malformed_json_is_a_400(service: ForecastService) -> None:
    with pytest.raises(MalformedRequestError):
        service.answer(b'{"h": ')


def test_the_cache_is_bounded_first_in_first_out() -> None:
    cache: BoundedCache[int, str] = BoundedCache(2)
    for i in range(3):
        cache.put(i, str(i))
    assert len(cache) == 2 and cache.get(0) is None and cache.get(2) == "2"
    off: BoundedCache[int, str] = BoundedCache(0)
    off.put(1, "1")
    assert off.get(1) is None
