"""The documentation lists exactly what the rule registry holds."""
import os
import re

from srcgrad import rules

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_supported_page_names_every_rule():
    text = open(os.path.join(ROOT, "docs", "supported.md")).read()
    words = set(re.findall(r"[a-z_0-9.]+", text))
    rules.load_scipy(import_it=True)
    names = [re.sub(r"^(np|scipy\.special)\.", "", r.name) for r in rules.RULES.values()]
    missing = sorted(n for n in names if n not in words)
    assert not missing, f"docs/supported.md does not mention: {missing}"
