"""The one erasure search (DEL-ERASURE): every layer finds the same leaks, in every form an answer may
hold them, and none in what another live call rightly shows (contract 1.1, section 5)."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from conformance.http.client import Exchange
from conformance.target.erasure import Erasure, about, found, searchable

BASE = "http://target"
GONE, LIVE = "call_gone", "call_live"
SHARED_NUMBER = "+919812345678"


def pii(mark: str, **extra: Any) -> dict[str, Any]:
    return {
        "contact_number": f"+9198{mark:0>8}",
        "contact_name": f"Zq Person {mark}",
        "contact_email": f"zq.{mark}@example.invalid",
        "additional_info": {"zq_note": f"note-{mark}"},
        "transcript": [{"speaker": "contact", "text": f"zq transcript {mark}"}],
        "recording_url": f"https://recordings.example.invalid/zq-{mark}.mp3",
        **extra,
    }


def answer(
    body: bytes, *, path: str = f"/v1/calls/{LIVE}", method: str = "GET", status: int = 200, sent: Any = None
) -> Exchange:
    request = json.dumps(sent).encode() if sent is not None else None
    return Exchange(method, BASE + path, {}, request, status, {"content-type": "application/json"}, body)


def erased(**seeded: dict[str, Any]) -> Erasure:
    """An erasure that knows `seeded` (call id -> PII) and has erased `GONE`."""
    erasure = Erasure(seeded)
    erasure.erase(GONE)
    return erasure


def test_pii_behind_json_escapes_is_found() -> None:
    erasure = erased(call_gone=pii("1"))
    escaped = b'{"message": "was https:\\/\\/recordings.example.invalid\\/zq-1.mp3, Zq\\u0020Person 1"}'
    assert erasure.leaks(answer(escaped)) == {GONE: ["Zq Person 1", "https://recordings.example.invalid/zq-1.mp3"]}


def test_emoji_pii_is_found_as_a_surrogate_pair() -> None:
    erasure = erased(call_gone=pii("2", contact_name="Zq \U0001f600 Person"))
    body = json.dumps({"data": {"note": "Zq \U0001f600 Person"}}).encode()  # ensure_ascii: \ud83d\ude00
    assert b"\\ud83d\\ude00" in body
    assert erasure.leaks(answer(body)) == {GONE: ["Zq \U0001f600 Person"]}


def test_pii_in_another_case_is_found() -> None:
    erasure = erased(call_gone=pii("3"))
    assert erasure.leaks(answer(b'{"message": "ZQ PERSON 3 was here"}')) == {GONE: ["Zq Person 3"]}


def test_pii_in_a_header_or_a_body_that_is_not_json_is_found() -> None:
    erasure = erased(call_gone=pii("4"))
    in_header = Exchange("GET", f"{BASE}/v1/calls/x", {}, None, 404, {"x-debug": "note-4"}, b"{}")
    assert erasure.leaks(in_header) == {GONE: ["note-4"]}
    assert erasure.leaks(answer(b"<html>zq transcript 4</html>")) == {GONE: ["zq transcript 4"]}


def test_a_shared_contact_shown_by_the_live_call_that_holds_it_is_no_leak() -> None:
    erasure = erased(call_gone=pii("5", contact_number=SHARED_NUMBER), call_live=pii("6", contact_number=SHARED_NUMBER))
    shown = json.dumps({"data": {"call_id": LIVE, "contact_number": SHARED_NUMBER}}).encode()
    assert erasure.leaks(answer(shown)) == {}
    assert erasure.leaks(answer(shown), [GONE]) == {}  # the lifecycle's search too
    # Another call's answer holding the shared number, and the deleted call's own name: leaks.
    mixed = json.dumps({"data": {"call_id": LIVE, "contact_number": SHARED_NUMBER, "note": "Zq Person 5"}}).encode()
    assert erasure.leaks(answer(mixed)) == {GONE: ["Zq Person 5"]}


def test_a_shared_contact_in_an_answer_about_the_deleted_id_is_a_leak() -> None:
    erasure = erased(call_gone=pii("7", contact_number=SHARED_NUMBER), call_live=pii("8", contact_number=SHARED_NUMBER))
    message = f'{{"error": {{"code": "NOT_FOUND", "message": "call of {SHARED_NUMBER} was deleted"}}}}'.encode()
    assert erasure.leaks(answer(message, path=f"/v1/calls/{GONE}", status=404)) == {GONE: [SHARED_NUMBER]}
    hook = answer(message, path="/v1/hooks/token", method="POST", status=404, sent={"data": {"call_id": GONE}})
    assert erasure.leaks(hook) == {GONE: [SHARED_NUMBER]}
    # Even when the request itself sent the value: an answer about the deleted id holds none of it.
    echoed = answer(
        message, path="/v1/hooks/token", method="POST", status=404, sent={"data": {"call_id": GONE, "n": SHARED_NUMBER}}
    )
    assert erasure.leaks(echoed) == {GONE: [SHARED_NUMBER]}


def test_a_shared_contact_of_a_call_the_suite_does_not_know_is_a_leak() -> None:
    erasure = erased(call_gone=pii("9", contact_number=SHARED_NUMBER))
    shown = json.dumps({"data": {"call_id": "call_other", "contact_number": SHARED_NUMBER}}).encode()
    assert erasure.leaks(answer(shown, path="/v1/calls/call_other")) == {GONE: [SHARED_NUMBER]}


def test_a_create_for_the_same_number_may_echo_it_and_nothing_else() -> None:
    erasure = erased(call_gone=pii("10", contact_number=SHARED_NUMBER))
    sent = {"agent_id": "a", "contact_number": SHARED_NUMBER}
    made = {"data": {"call_id": "call_new", "contact_number": SHARED_NUMBER, "contact_name": None}}
    create = answer(json.dumps(made).encode(), path="/v1/calls", method="POST", status=201, sent=sent)
    assert erasure.leaks(create) == {}
    made["data"]["contact_name"] = "Zq Person 10"  # autofilled from the deleted call
    create = answer(json.dumps(made).encode(), path="/v1/calls", method="POST", status=201, sent=sent)
    assert erasure.leaks(create) == {GONE: ["Zq Person 10"]}


def test_the_lifecycle_searches_its_deleted_calls_before_they_are_erased() -> None:
    erasure = Erasure({GONE: pii("11")})
    assert erasure.leaks(answer(b'{"m": "note-11"}')) == {}  # erased from the next answer on
    assert erasure.leaks(answer(b'{"m": "note-11"}'), [GONE]) == {GONE: ["note-11"]}


def test_many_deleted_calls_are_searched_at_once() -> None:
    seeded = {f"call_{n}": pii(str(n)) for n in range(100, 160)}
    erasure = Erasure(seeded)
    for call in seeded:
        erasure.erase(call)
    body = json.dumps({"a": "zq.123@example.invalid", "b": "https://recordings.example.invalid/zq-150.mp3"}).encode()
    assert erasure.leaks(answer(body, path="/v1/calls/x")) == {
        "call_123": ["zq.123@example.invalid"],
        "call_150": ["https://recordings.example.invalid/zq-150.mp3"],
    }


def test_searchable_and_found() -> None:
    assert "\u00e9" in searchable(b'"caf\\u00e9"')
    assert found(["Café", "absent"], b'{"x": "CAF\\u00c9"}') == ["Café"]
    assert found(['{"n": "é"}'], json.dumps({"m": json.dumps({"n": "é"})}).encode()) == ['{"n": "é"}']


def test_what_a_request_is_about() -> None:
    assert about(answer(b"{}", path="/v1/calls/call%2F1/cancel", method="POST")) == {"call/1"}
    assert about(answer(b"{}", path="/v1/hooks/t", method="POST", sent={"data": {"call_id": "c9"}})) == {"c9"}


def test_a_read_sent_before_the_delete_was_answered_may_show_the_call() -> None:
    """Contract 5 (1.1): "afterwards" is from the delete's 200 on; a GET racing the delete raced it."""
    erasure = Erasure({GONE: pii("21")})
    erasure.erase(GONE, at=100.0)
    body = json.dumps({"data": {"call_id": "x", "contact_name": "Zq Person 21"}}).encode()
    raced = replace(answer(body, path="/v1/calls/x"), started=99.5)
    assert erasure.leaks(raced) == {}
    after = replace(answer(body, path="/v1/calls/x"), started=100.5)
    assert erasure.leaks(after) == {GONE: ["Zq Person 21"]}
    unknown = answer(body, path="/v1/calls/x")  # when it went is not known (schemathesis' own): judged
    assert erasure.leaks(unknown) == {GONE: ["Zq Person 21"]}


def test_a_race_may_erase_while_other_answers_are_searched() -> None:
    """A concurrent check's threads erase the call one of them deleted while the others' answers are
    being searched: neither sees the other half done (no "dictionary changed size during iteration")."""
    seeded = {f"call_{n}": pii(str(n)) for n in range(1000, 1200)}
    erasure = Erasure(seeded)
    body = json.dumps({"data": [pii(str(n)) for n in range(1000, 1200, 7)]}).encode()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the GIL over as often as it can be
    try:
        with ThreadPoolExecutor(4) as pool:
            erasing = pool.submit(lambda: [erasure.erase(call) for call in seeded])
            searches = [pool.submit(erasure.leaks, answer(body, path="/v1/calls/x")) for _ in range(100)]
            erasing.result()
            for search in searches:
                search.result()
    finally:
        sys.setswitchinterval(switch)
    assert len(erasure.leaks(answer(body, path="/v1/calls/x"))) == len(range(1000, 1200, 7))
