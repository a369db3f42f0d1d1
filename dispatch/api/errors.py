"""The API's errors and the handlers that turn every failure into ``{"detail": ...}`` JSON.

``detail`` is always one readable string naming the field or the problem, so a shop's e-shop
or the web pages can show it as is. 422 responses add ``errors``: one ``{"field", "message"}``
per problem, for forms that mark fields.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import Any, Final

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

#: What a 401 tells the client to send (RFC 9110 requires the header on every 401).
WWW_AUTHENTICATE: Final = 'Bearer realm="velocal"'


class UnauthorizedError(HTTPException):
    """401: no credentials, or ones that are wrong, expired or revoked."""

    def __init__(self, detail: str, *, challenge: str = WWW_AUTHENTICATE) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": challenge})


class ForbiddenError(HTTPException):
    """403: logged in, but this role may not do this."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, detail)


class NotFoundError(HTTPException):
    """404: no such record, or one the caller may not know exists (same words for both)."""

    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(404, f"{entity} {entity_id} not found")


class ConflictError(HTTPException):
    """409: the request contradicts the current state (a status, a unique value)."""

    def __init__(self, detail: str) -> None:
        super().__init__(409, detail)


class InvalidFieldError(Exception):
    """422 for a rule a route checks itself (e.g. the old password), worded like validation."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ── wording of validation errors ───────────────────────────────────────────────────────────

_LOCATIONS: Final = {
    "query": "query parameter ",
    "path": "path parameter ",
    "header": "header ",
    "cookie": "cookie ",
}

_MESSAGES: Final[dict[str, str]] = {
    "missing": "is required",
    "string_type": "must be text",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "has the wrong format",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_attributes_type": "must be an object",
    "extra_forbidden": "is not a known field",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "datetime_parsing": "must be a date and time (ISO 8601)",
    "datetime_type": "must be a date and time (ISO 8601)",
    "datetime_from_date_parsing": "must be a date and time (ISO 8601)",
    "timezone_aware": "must include a time zone",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "json_invalid": "is not valid JSON",
    "uuid_parsing": "must be a UUID",
}


def field_name(loc: Sequence[str | int]) -> str:
    """``("body", "items", 0, "quantity")`` → ``"items[0].quantity"``; the body itself is
    ``"body"``, other places are named ("query parameter limit")."""
    where, rest = (str(loc[0]), list(loc[1:])) if loc else ("body", [])
    name = ""
    for part in rest:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    if where == "body":
        return name or "body"
    return _LOCATIONS.get(where, f"{where} ") + (name or where)


def plain_message(error: dict[str, Any]) -> str:
    """Pydantic's error in plain words; custom validators' messages are kept as written."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    template = _MESSAGES.get(kind)
    if template is not None:
        try:
            return template.format(**ctx)
        except (KeyError, IndexError):
            pass
    message = str(error.get("msg", "is invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


def describe_validation(errors: Sequence[Any]) -> list[dict[str, str]]:
    """One ``{"field", "message"}`` per problem, duplicates (union branches) dropped."""
    seen: list[dict[str, str]] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            # Pydantic puts the character position where a field name would be.
            item = {"field": "body", "message": f"is not valid JSON (at character {loc[-1]})"}
        else:
            item = {"field": field_name(loc), "message": plain_message(error)}
        if item not in seen:
            seen.append(item)
    return seen


def _unprocessable(items: list[dict[str, str]]) -> JSONResponse:
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in items)
    return JSONResponse({"detail": detail, "errors": items}, status_code=422)


# ── handlers ───────────────────────────────────────────────────────────────────────────────


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
    detail = exc.detail if exc.detail is not None else "error"
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers or None)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _unprocessable(describe_validation(exc.errors()))


async def _invalid_field(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidFieldError)
    return _unprocessable([{"field": exc.field, "message": exc.message}])


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # The database's own words name tables and constraints; log them, answer in general terms.
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "conflicts with an existing record (a value that must be unique is taken)"},
        status_code=409,
    )


def _status_handler(status_code: int) -> Any:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
        return JSONResponse({"detail": detail}, status_code=status_code)

    return handle


#: ``dispatch.lifecycle``'s errors and their statuses, looked up by name when the app is built
#: (so this module does not depend on the transition table being importable).
LIFECYCLE_ERRORS: Final = {"InvalidTransitionError": 409, "ForbiddenTransitionError": 403}


def install_error_handlers(app: FastAPI) -> list[str]:
    """Register every handler on ``app``; the names of the lifecycle errors mapped."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidFieldError, _invalid_field)
    app.add_exception_handler(IntegrityError, _integrity_error)
    mapped: list[str] = []
    try:
        lifecycle = importlib.import_module("dispatch.lifecycle")
    except ModuleNotFoundError as exc:
        if exc.name != "dispatch.lifecycle":
            raise  # a broken import inside lifecycle must not pass silently
        log.warning("dispatch.lifecycle is missing: transition errors will answer 500")
        return mapped
    for name, status_code in LIFECYCLE_ERRORS.items():
        error_class = getattr(lifecycle, name, None)
        if isinstance(error_class, type) and issubclass(error_class, Exception):
            app.add_exception_handler(error_class, _status_handler(status_code))
            mapped.append(name)
    return mapped
