"""Errors every layer may raise and every front end knows how to show."""

from __future__ import annotations


class VideoNotFound(LookupError):
    """No video matches an id or a name; the message is one sentence that says how to list them."""

    def __init__(self, ref: object) -> None:
        super().__init__(f"No video matches {str(ref)!r}; `sentinel videos` lists them.")
        self.ref = ref


# dependency failures that pass by themselves: a store or database that is down, slow or restarting
_TRANSIENT_NAMES = frozenset({
    "OperationalError", "PoolTimeout", "DatabaseUnavailable", "StoreUnavailable",  # psycopg, psycopg_pool, ours
    "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",  # botocore
    "HTTPClientError", "ProxyConnectionError",
})
_TRANSIENT_S3_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"})


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is a dependency being unreachable, not a fault of the work itself.

    Example:
        >>> is_transient(ConnectionRefusedError(111, "Connection refused"))
        True
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "transient", False) or isinstance(current, (ConnectionError, TimeoutError)):
            return True
        if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(current).__mro__):
            return True
        response = getattr(current, "response", None)  # botocore ClientError
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code in _TRANSIENT_S3_CODES or int(status) >= 500:
                return True
        current = current.__cause__ or current.__context__
    return False
