"""Quick check of the fixtures: an initialised vault on each engine accepts and opens a report."""

from storage import cases, casework
from storage.vault import Vault


async def test_submit_and_open(vault: Vault, alice) -> None:
    result = await cases.submit(
        vault, report=cases.ReportSubmission(categories=("bullying",), narrative="x happened")
    )
    opened = await casework.open_case(vault, officer=alice, reference=result.reference)
    assert opened.first(cases.REPORT).meta["narrative"] == "x happened"
