import re
from pathlib import Path

from webhooks.topics import TOPICS

ROOT = Path(__file__).resolve().parents[2]
RECORDED = re.compile(r'"((?:[a-z_]+)\.(?:[a-z_]+))"')
RESOURCE_APPS = ("orders", "ordercopies", "subscriptions")


def test_every_event_name_the_code_records_is_a_topic_and_every_topic_is_recorded():
    found = set()
    for app in RESOURCE_APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for name in RECORDED.findall(path.read_text()):
                if name.split(".")[0] in {t.split(".")[0] for t in TOPICS}:
                    found.add(name)
    assert found == set(TOPICS)
