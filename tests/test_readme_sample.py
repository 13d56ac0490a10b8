"""README's sample list/status/rm output is what a real run prints today (issue 9 item 10: it showed `1 x L40`
after the planner had moved to another GPU type). Regenerate with `python -m tests.readme_sample`."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from kubectl_llm.cli.main import cli
from tests import readme_sample


def test_readme_sample_output_is_a_real_run(helm_bin: str) -> None:
    fresh = readme_sample.sample()
    assert readme_sample.readme_block(readme_sample.README.read_text()) == fresh, \
        "README's sample output is stale: run python -m tests.readme_sample"
    # and it shows what the plan picks today
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    plan = json.loads(CliRunner().invoke(cli, ["plan", readme_sample.MODEL, "-o", "json"]).stdout)
    row = next(line for line in fresh.splitlines() if line.startswith(readme_sample.NAME + " "))
    assert f"{plan['gpu']['count']} x {plan['gpu']['type']}" in row
    assert f" {plan['serving']['max_model_len']} " in row
