"""The station outbox: order, durability across reopen, ack, threads, media, job de-duplication."""

import hashlib
import sqlite3
import threading

from terminal.station.outbox import INTERRUPTED, Outbox


def test_events_come_out_in_order_and_ack_removes_only_listed(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    ids = [box.put("scan", {"raw_b64": f"{i}", "symbology": ""}, "scanner") for i in range(5)]
    batch = box.pending(3)
    assert [e["event_id"] for e in batch] == ids[:3]
    assert [e["seq"] for e in batch] == sorted(e["seq"] for e in batch)
    assert batch[0] == {
        "event_id": ids[0], "seq": batch[0]["seq"], "kind": "scan", "device": "scanner",
        "occurred_at": batch[0]["occurred_at"], "payload": {"raw_b64": "0", "symbology": ""},
    }
    assert box.ack([ids[1], "not-an-event"]) == 1
    assert [e["event_id"] for e in box.pending(10)] == [ids[0], *ids[2:]]
    count, oldest = box.waiting()
    assert count == 4 and oldest == batch[0]["occurred_at"]
    box.ack(ids)
    assert box.pending(10) == [] and box.waiting() == (0, None)


def test_events_survive_reopen_and_seq_keeps_growing(tmp_path):
    path = tmp_path / "outbox.db"
    box = Outbox(path)
    first = [box.put("scan", {"n": i}) for i in range(3)]
    last_seq = box.pending(10)[-1]["seq"]
    box.ack(first)  # even with nothing left, a new seq never reuses an old one
    box.put("weight", {"value": 1.5, "unit": "kg", "net": True, "tare": None}, "scale")
    box.close()

    box = Outbox(path)
    [event] = box.pending(10)
    assert event["kind"] == "weight" and event["seq"] > last_seq
    assert box._read("PRAGMA journal_mode")[0][0] == "wal"
    assert box._read("PRAGMA synchronous")[0][0] == 2  # FULL
    box.close()


def test_a_committed_event_is_visible_to_another_connection(tmp_path):
    # What put() returned is on disk: a separate reader (as after a crash) sees it.
    box = Outbox(tmp_path / "outbox.db")
    event_id = box.put("scan", {"raw_b64": "QQ==", "symbology": ""})
    other = sqlite3.connect(tmp_path / "outbox.db")
    assert other.execute("SELECT event_id FROM events").fetchall() == [(event_id,)]
    other.close()


def test_concurrent_puts_from_threads_lose_nothing(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    per_thread, threads = 200, 8
    made: dict[int, list[str]] = {}

    def device(n):
        made[n] = [box.put("scan", {"thread": n, "i": i}, f"dev{n}") for i in range(per_thread)]

    workers = [threading.Thread(target=device, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    events = box.pending(10_000)
    assert len(events) == per_thread * threads
    assert len({e["event_id"] for e in events}) == len(events)
    for n in range(threads):  # each device's events keep their own order
        assert [e["event_id"] for e in events if e["device"] == f"dev{n}"] == made[n]
        assert [e["payload"]["i"] for e in events if e["device"] == f"dev{n}"] == list(range(per_thread))


def test_media_is_hashed_with_its_event_and_tracked_until_done(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    photo = tmp_path / "p1.jpg"
    photo.write_bytes(b"\xff\xd8jpeg bytes\xff\xd9")
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    box.put("photo", {"role": "overhead", "job_id": None}, "camera", media_path=str(photo))
    [event] = box.pending(1)
    assert event["payload"] == {"role": "overhead", "job_id": None, "media": sha, "size": photo.stat().st_size}
    [media] = box.media_pending()
    assert media == {"sha256": sha, "path": str(photo), "size": photo.stat().st_size, "kind": "photo",
                     "content_type": "image/jpeg", "server_id": None, "uploaded": 0}
    assert box.media_waiting() == 1

    box.put("photo", {"role": "overhead", "job_id": 3}, "camera", media_path=str(photo))  # same file again
    assert len(box.media_pending()) == 1
    box.set_media_progress(sha, server_id=7, uploaded=5)
    assert box.media_pending()[0]["server_id"] == 7 and box.media_pending()[0]["uploaded"] == 5
    box.set_media_progress(sha, uploaded=media["size"], done=True)
    assert box.media_pending() == [] and box.media_waiting() == 0
    assert box.media(sha)["done"] == 1


def test_a_job_runs_once_and_its_result_is_an_event(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    assert box.job_started(17, "printer") is True
    assert box.job_started(17, "printer") is False  # re-delivered while running
    assert box.job_result(17) is None
    assert box.job_resend(17) is None
    event_id = box.job_done(17, {"result": "printed", "detail": ""}, "printer")
    [event] = box.pending(10)
    assert event["event_id"] == event_id and event["kind"] == "job_result" and event["device"] == "printer"
    assert event["payload"] == {"job_id": 17, "result": "printed", "detail": ""}
    assert box.job_result(17) == {"result": "printed", "detail": ""}
    assert box.job_started(17) is False

    assert box.job_resend(17) is None  # its result is still waiting to go: nothing new
    box.ack([event_id])
    again = box.job_resend(17)  # sent again after its result went out: the same result once more
    [event] = box.pending(10)
    assert event["event_id"] == again and event["payload"]["result"] == "printed"


def test_a_job_interrupted_by_a_crash_is_reported_failed_and_never_rerun(tmp_path):
    path = tmp_path / "outbox.db"
    box = Outbox(path)
    box.job_started(5, "printer")
    box.job_started(6, "scale")
    box.job_done(6, {"result": "done", "detail": "", "weight": 1.2}, "scale")
    box.close()  # the agent dies while job 5 prints

    box = Outbox(path)
    assert box.interrupted_jobs == [5]
    assert box.job_result(5) == INTERRUPTED
    assert box.job_started(5) is False
    results = {e["payload"]["job_id"]: e["payload"] for e in box.pending(10)}
    assert results[5] == {"job_id": 5, **INTERRUPTED}
    assert results[6]["weight"] == 1.2
    box.close()
    assert Outbox(path).interrupted_jobs == []


def test_held_events_are_shown_and_requeued_in_their_old_place(tmp_path):
    from click.testing import CliRunner

    from terminal.cli import main

    path = tmp_path / "outbox.db"
    box = Outbox(str(path))
    first = box.put("scan", {"raw_b64": "QQ==", "symbology": ""}, device="scanner")
    bad = box.put("scan", {"raw_b64": "Qg==", "symbology": ""}, device="x" * 100)
    last = box.put("scan", {"raw_b64": "Qw==", "symbology": ""}, device="scanner")
    assert box.hold(bad, "422: device too long")
    box.job_started(7, "printer")  # a job under way in the running agent
    runner = CliRunner()
    shown = runner.invoke(main, ["outbox", "show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "waiting: 2 events" in shown.output and "held: 1" in shown.output and "device too long" in shown.output
    assert box.job_result(7) is None  # looking from outside does not take the job for interrupted
    requeued = runner.invoke(main, ["outbox", "requeue", str(path)])
    assert requeued.exit_code == 0 and "requeued: 1 events" in requeued.output
    assert [e["event_id"] for e in box.pending()] == [first, bad, last]  # back in its place
    assert box.held() == 0
    box.close()


def test_refused_media_is_kept_listed_and_never_pending_again(tmp_path):
    from click.testing import CliRunner

    from terminal.cli import main

    path = tmp_path / "outbox.db"
    box = Outbox(str(path))
    photo = tmp_path / "p1.jpg"
    photo.write_bytes(b"\x89PNG not a jpeg")
    box.put("photo", {"role": "overhead", "job_id": None}, "camera", media_path=str(photo))
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    box.refuse_media(sha, "server answered 422 media-type-refused: not a JPEG photo")
    assert box.media_pending() == [] and box.media_waiting() == 0
    count, [refused] = box.media_refused()
    assert count == 1 and refused["path"] == str(photo) and refused["kind"] == "photo" and "JPEG" in refused["reason"]
    box.put("photo", {"role": "overhead", "job_id": 4}, "camera", media_path=str(photo))  # the same bytes again
    assert box.media_pending() == []
    shown = CliRunner().invoke(main, ["outbox", "show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "media refused: 1" in shown.output and str(photo) in shown.output and "not a JPEG" in shown.output
    box.close()
