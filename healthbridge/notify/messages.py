"""The messages an alert sends, as FHIR ``Communication`` resources (built, not stored here).

* **fever** (any severity) → the child's guardians (``RelatedPerson``): the temperature, the
  time of the check and what to do;
* **any high-severity alert** of a child → the enrolling centre (``Organization``), read by the
  health manager's inbox, and by outside channels subscribed to the topic.

Each Communication: ``status`` completed (delivered to the in-app inbox when stored),
``category`` our ``notification-topic`` code (the Subscription topic it belongs to),
``priority`` urgent for high severity, ``subject`` the child, ``about`` the alert Flag,
``reasonReference`` the evidence Observation, ``sent``, ``recipient``, and two ``payload``
strings: Chinese first, English second (the pages pick by language; SMS/WeChat bridges use the
first).

The fever advice follows the usual centre practice under 托儿所幼儿园卫生保健工作规范 (2012):
a child with fever is collected and seen by a doctor when needed, and returns once well. The
exact wording is HealthBridge's and **unconfirmed** by a clinician.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

from healthbridge import terminology as t

CS_TOPIC: Final = f"{t.CANONICAL_BASE}/CodeSystem/notification-topic"
#: Subscription topics (canonical URLs of the SubscriptionTopic definitions, notify/topics.py).
TOPIC_FEVER: Final = f"{t.CANONICAL_BASE}/SubscriptionTopic/fever"
TOPIC_HIGH_ALERT: Final = f"{t.CANONICAL_BASE}/SubscriptionTopic/high-alert"
TOPICS: Final = {"fever": TOPIC_FEVER, "high-alert": TOPIC_HIGH_ALERT}
CST: Final = dt.timezone(dt.timedelta(hours=8))

FEVER_ZH: Final = (
    "{name}今天 {time} 晨午检体温 {temp} °C，有发热。请尽快来园接孩子回家休息、多喝水；"
    "如体温 ≥38.5 °C、精神差、发热超过 24 小时，或出现皮疹、抽搐、呼吸急促，请及时就医。"
    "退热 24 小时后、身体恢复再返园，返园时请告诉保健老师就诊情况。"
)
FEVER_EN: Final = (
    "{name} had a temperature of {temp} °C at the health check at {time} today (fever). "
    "Please collect your child soon, let them rest and drink; see a doctor if the "
    "temperature is 38.5 °C or more, your child is unusually drowsy, the fever lasts over "
    "24 hours, or a rash, fits or fast breathing appear. Your child may return 24 hours "
    "after the fever has gone; please tell the centre's health teacher what the doctor said."
)
ALERT_ZH: Final = "高优先级提醒：{name}，{what}（{when}）。请尽快处理并记录。"
ALERT_EN: Final = "High-priority alert: {name}, {what} ({when}). Please act on it and record it."


def _coded(code: str) -> dict[str, Any]:
    return {"coding": [{"system": CS_TOPIC, "code": code}]}


def topic_of(communication: Mapping[str, Any]) -> str | None:
    """The topic canonical URL of one of our Communications, else None."""
    for category in communication.get("category", []):
        for c in category.get("coding", []):
            if c.get("system") == CS_TOPIC and c.get("code") in TOPICS:
                return TOPICS[str(c["code"])]
    return None


def _local_time(raw: str | None) -> str:
    if not raw:
        return ""
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return when.astimezone(CST).strftime("%H:%M") if when.tzinfo else when.strftime("%H:%M")


def fever_message(
    flag: Mapping[str, Any],
    child_name: str,
    temperature: Mapping[str, Any] | None,
    guardians: Sequence[str],
    centre: str | None,
    now: dt.datetime,
    high: bool,
) -> dict[str, Any]:
    """The fever message to the guardians (``RelatedPerson/…`` references)."""
    value = (temperature or {}).get("valueQuantity", {}).get("value")
    temp = f"{float(value):.1f}" if value is not None else "≥37.3"
    when = _local_time((temperature or {}).get("effectiveDateTime"))
    fill = {"name": child_name, "temp": temp, "time": when}
    msg = _base(flag, "fever", now, high)
    msg["recipient"] = [{"reference": g} for g in guardians]
    if centre:
        msg["sender"] = {"reference": f"Organization/{centre}"}
    if temperature and temperature.get("id"):
        msg["reasonReference"] = [{"reference": f"Observation/{temperature['id']}"}]
    msg["payload"] = [
        {"contentString": FEVER_ZH.format(**fill)},
        {"contentString": FEVER_EN.format(**fill)},
    ]
    return msg


def alert_message(
    flag: Mapping[str, Any], child_name: str, centre: str, now: dt.datetime
) -> dict[str, Any]:
    """The high-severity alert message to the centre (its health manager's inbox)."""
    code = flag.get("code", {})
    what_zh = str(code.get("text") or "")
    what_en = next((str(c.get("display", "")) for c in code.get("coding", [])), "")
    when = str(flag.get("period", {}).get("start", ""))
    msg = _base(flag, "high-alert", now, True)
    msg["recipient"] = [{"reference": f"Organization/{centre}"}]
    msg["payload"] = [
        {"contentString": ALERT_ZH.format(name=child_name, what=what_zh or what_en, when=when)},
        {"contentString": ALERT_EN.format(name=child_name, what=what_en or what_zh, when=when)},
    ]
    return msg


def _base(flag: Mapping[str, Any], topic: str, now: dt.datetime, urgent: bool) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "category": [_coded(topic)],
        "priority": "urgent" if urgent else "routine",
        "subject": flag.get("subject", {}),
        "about": [{"reference": f"Flag/{flag['id']}"}],
        "sent": now.isoformat(timespec="seconds"),
    }


def text_for(communication: Mapping[str, Any], lang: str) -> str:
    """The message text in ``lang`` (zh: first payload, en: second, else the first)."""
    texts = [str(p.get("contentString", "")) for p in communication.get("payload", [])]
    if not texts:
        return ""
    return texts[1] if lang == "en" and len(texts) > 1 else texts[0]
