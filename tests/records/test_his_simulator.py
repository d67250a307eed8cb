"""The embedded HIS simulator: paging through next links, faults, and running standalone on a port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest
from his_support import ZONE

from datasources.his.simulator import create_simulator, simulator_transport
from settings import ROOT
from support import ANCHOR


async def test_simulator_pages_through_next_links_and_answers_in_time() -> None:
    now = ANCHOR
    simulator = create_simulator(clock=lambda: now, zone=ZONE)
    async with httpx.AsyncClient(transport=simulator_transport(simulator), base_url="http://his-simulator") as http:
        url: str | None = "/fhir/DiagnosticReport?patient=P100010&_count=7&_sort=-date"
        ids = []
        while url:
            bundle = (await http.get(url)).json()
            ids += [e["resource"]["id"] for e in bundle["entry"]]
            url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        assert len(ids) == len(set(ids)) == bundle["total"] == len(simulator.patients["P100010"].reports)
        # Faults: the next two requests fail, then it answers again.
        simulator.faults.update({"status": 503, "status_times": 2})
        answers = [(await http.get("/fhir/Patient/P100010")).status_code for _ in range(3)]
        assert answers == [503, 503, 200]
        assert (await http.get("/fhir/Patient/P999999")).status_code == 404
        assert (await http.get("/fhir/Observation")).status_code == 400  # a search needs patient or _id
        faults = await http.put("/_simulator/faults", json={"latency": 0.01})
        assert faults.json()["latency"] == 0.01 and faults.json()["status"] is None
        assert (await http.put("/_simulator/faults", json={"nonsense": 1})).status_code == 400


async def test_latency_is_the_time_to_the_answer_with_the_answer_made_meanwhile() -> None:
    simulator = create_simulator(clock=lambda: ANCHOR, zone=ZONE)
    async with httpx.AsyncClient(transport=simulator_transport(simulator), base_url="http://his-simulator") as http:
        url = "/fhir/DiagnosticReport?patient=P100011&_include=DiagnosticReport:result"
        at_once = await http.get(url)
        simulator.faults.update({"latency": 0.2})
        started = time.perf_counter()
        late = await http.get(url)
        # Never sooner than the latency (a lower bound only: how much later depends on the machine).
        assert time.perf_counter() - started >= 0.2
        assert (late.status_code, late.content) == (at_once.status_code, at_once.content)
        # Other faults still apply once the latency has run.
        simulator.faults.update({"status": 503, "status_times": 1})
        assert (await http.get("/fhir/Patient/P100011")).status_code == 503


def test_the_simulator_runs_standalone_on_a_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "datasources.his.simulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the simulator did not start")
                time.sleep(0.2)
        assert response.json()["fhirVersion"] == "4.0.1"
        patient = httpx.get(f"http://127.0.0.1:{port}/fhir/Patient/P100011", timeout=5).json()
        assert patient["name"][0]["text"] == "张建国"
    finally:
        process.terminate()
        process.wait(timeout=10)
