"""Live HiveOS API v2 client: fetch one farm's workers and GPUs into the bundle `hiveos` parses.

One seam, httpx: tests pass an `httpx.MockTransport` (or point `base_url` at a local fake
server); nothing here is ever exercised against the internet in tests. httpx errors are
translated here into the project's error tree, and the token never appears in a message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rigshift.errors import EnvironmentProblem, InputError

if TYPE_CHECKING:
    import httpx

HIVEOS_API = "https://api2.hiveos.farm/api/v2"


class HiveOsClient:
    def __init__(
        self,
        token: str,
        base_url: str = HIVEOS_API,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 30.0,
    ):
        if not token.strip():
            raise InputError("empty token", field="--hiveos-token", expected="a HiveOS API token")
        import httpx  # here, not at the top: `rigshift fleet` must start without the HTTP stack

        self._http_error = httpx.HTTPError
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token.strip()}", "Accept": "application/json"},
            transport=transport,
            timeout=timeout_s,
        )

    def __enter__(self) -> HiveOsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def get(self, path: str) -> Any:
        try:
            response = self._client.get(path)
        except self._http_error as error:
            raise EnvironmentProblem(f"cannot reach HiveOS at {self._client.base_url}: {error}") from error
        if response.status_code in (401, 403):
            raise InputError(
                f"HiveOS refused the token (HTTP {response.status_code}) for {path}",
                field="--hiveos-token",
                expected="a valid API token with read access to the farm",
            )
        if response.status_code == 404:
            raise InputError(
                f"HiveOS has no {path} (HTTP 404)", field="--farm-id", expected="an existing farm id"
            )
        if response.status_code >= 400:
            raise EnvironmentProblem(f"HiveOS answered HTTP {response.status_code} for {path}")
        try:
            return response.json()
        except (ValueError, RecursionError) as error:
            raise EnvironmentProblem(f"HiveOS sent a body that is not JSON for {path}") from error

    def farm_export(self, farm_id: int) -> dict[str, Any]:
        """The bundle `parse_hiveos` reads: farm (power price), workers, and the GPU list."""
        farm = self.get(f"/farms/{farm_id}")
        workers = self.get(f"/farms/{farm_id}/workers")
        gpus = self.get(f"/farms/{farm_id}/workers/gpus")
        return {"farm": farm, "workers": workers, "gpus": gpus}


def fetch_farm(
    token: str, farm_id: int, base_url: str = HIVEOS_API, transport: httpx.BaseTransport | None = None
) -> dict[str, Any]:
    with HiveOsClient(token, base_url=base_url, transport=transport) as client:
        return client.farm_export(farm_id)
