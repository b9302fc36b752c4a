"""Schemathesis against the served OpenAPI document: no 5xx, and no answer that breaks the document."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest
from tests.integration.api.conftest import serve_api

SEED = 20261122
EXAMPLES_PER_OPERATION = 40
MIN_CASES = 1000
# Both compare answers with what the schema alone allows; our rules go further than a schema can say
# (a sender must be an approved identity, a template must compile, a message must exist), so they
# would flag correct refusals. Everything about the answers themselves is checked.
EXCLUDED_CHECKS = "positive_data_acceptance,negative_data_rejection"
# The document declares the tenant headers as required; spec §1.1 answers a request without one 470.
CONFIG = """
[checks.missing_required_header]
expected-statuses = [470]
"""


@pytest.mark.timeout(600)  # as long as the run may take (below); thousands of requests on a busy machine
async def test_generated_requests_get_no_5xx_and_every_answer_matches_the_document(
    api_database: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    async with serve_api(api_database, kafka_bootstrap, rate_limit_per_second=1e6, rate_limit_burst=10**6) as api:
        headers = await api.tenant()
        report = tmp_path / "schemathesis.json"
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG)
        command = [
            str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
            f"{api.url}/openapi.json",
            *(a for name, value in headers.items() for a in ("-H", f"{name}: {value}")),
            "--seed", str(SEED), "--max-examples", str(EXAMPLES_PER_OPERATION), "--workers", "1",
            "--phases", "examples,coverage,fuzzing,stateful", "--exclude-checks", EXCLUDED_CHECKS,
            # Only the api runs here, so /readyz/pipeline rightly answers 503; it is tested end to end.
            "--exclude-path", "/readyz/pipeline", "--generation-database", "none", "--no-color",
            "--report", "json", "--report-json-path", str(report),
        ]  # fmt: skip
        # A subprocess awaited here, not run: the server answers from this very event loop.
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    result = orjson.loads(report.read_bytes())
    cases = result["test_cases"]["generated"]
    by_check = Counter(failure.get("title") or failure.get("code") or "failure" for failure in result["failures"])
    print(f"\nschemathesis: {cases} cases over {result['operations']['tested']} operations, "
          f"{len(result['failures'])} failures {dict(by_check)}, {len(result['errors'])} errors")  # fmt: skip
    assert cases >= MIN_CASES
    assert result["failures"] == [], output.decode()[-5000:]
    assert result["errors"] == [], output.decode()[-5000:]
    assert process.returncode == 0, output.decode()[-5000:]
