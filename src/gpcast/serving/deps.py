"""Dependencies of the routes, declared once with ``Annotated``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gpcast.errors import AuthenticationError, NotReadyError
from gpcast.serving.auth import ApiKey, Role, require_role
from gpcast.serving.service import ForecastService
from gpcast.serving.state import SESSION_COOKIE, ServingState

ANONYMOUS = ApiKey("anonymous", "admin", "")
bearer = HTTPBearer(auto_error=False, description="An API key: `gpcast keys create`.")


async def get_state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


State = Annotated[ServingState, Depends(get_state)]


async def get_service(state: State) -> ForecastService:
    if state.service is None:
        raise NotReadyError("the model is not loaded yet")
    return state.service


Service = Annotated[ForecastService, Depends(get_service)]


# Dependencies are ``async def``: FastAPI runs plain ``def`` ones in a thread pool, which
# costs more than everything else a cached forecast needs.
async def authenticate(request: Request, state: State,
                       credentials: Annotated[HTTPAuthorizationCredentials | None,
                                              Depends(bearer)]) -> ApiKey:
    """The caller's key, from ``Authorization: Bearer`` or the page's session cookie."""
    if not state.settings.auth_required:
        return ANONYMOUS
    if credentials is not None:
        return state.keys.verify(credentials.credentials)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        key = state.sessions.get(token)
        if key is not None:
            return state.keys.current(key)
        raise AuthenticationError("the session has expired: paste the API key again")
    raise AuthenticationError("an API key is required: send 'Authorization: Bearer <key>'")


Caller = Annotated[ApiKey, Depends(authenticate)]


def authorize(request: Request, role: Role) -> tuple[ServingState, ForecastService, ApiKey]:
    """State, service and the caller's key in one call, for the hot forecast route.

    The same checks as the ``PredictKey`` dependency chain without FastAPI's dependency
    solving, which costs about as much as answering a cached forecast.
    """
    state: ServingState = request.app.state.serving
    if state.service is None:
        raise NotReadyError("the model is not loaded yet")
    if not state.settings.auth_required:
        return state, state.service, ANONYMOUS
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        key = state.keys.verify(token.strip())
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        session_key = state.sessions.get(cookie) if cookie else None
        if session_key is None:
            raise AuthenticationError("an API key is required: send 'Authorization: Bearer "
                                      "<key>'" if not cookie else "the session has expired: "
                                      "paste the API key again")
        key = state.keys.current(session_key)
    return state, state.service, require_role(key, role)


def _role(role: Role) -> object:
    async def check(key: Caller) -> ApiKey:
        return require_role(key, role)
    return check


PredictKey = Annotated[ApiKey, Depends(_role("predict"))]
AdminKey = Annotated[ApiKey, Depends(_role("admin"))]


async def probe_access(request: Request, state: State) -> None:
    """Health and metrics are open unless configured otherwise (then admin only)."""
    if not state.settings.open_probes:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        credentials = (HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
                       if scheme.lower() == "bearer" and token else None)
        require_role(await authenticate(request, state, credentials), "admin")


Probe = Depends(probe_access)
