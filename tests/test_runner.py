"""The runner hosting a clause's body: store calls in line on the worker, watched from the pytest thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, NoReturn

import pytest

from pytest_chatstore.engine.runner import Abandoned, OperationTimeout, Runner


class Verdict(Exception):
    """What a caller makes of a hang of its call."""


def test_a_hosted_body_makes_its_calls_on_its_own_thread_with_no_hand_over() -> None:
    runner = Runner(5.0)
    seen: list[threading.Thread] = []

    def body() -> threading.Thread:
        runner.call(lambda: seen.append(threading.current_thread()))
        runner.run(_async_note, seen)
        return threading.current_thread()

    try:
        hosting = runner.host(body)
    finally:
        runner.close()
    assert hosting is not threading.current_thread()
    assert seen == [hosting, hosting]  # in line: the body's own thread made both calls
    assert runner.calls == 2


async def _async_note(seen: list[threading.Thread]) -> None:
    seen.append(threading.current_thread())


def test_a_hosted_body_returns_its_result_and_raises_its_errors_in_the_pytest_thread() -> None:
    runner = Runner(5.0)
    try:
        assert runner.host(lambda a, b=0: a + b, 1, b=2) == 3
        with pytest.raises(ZeroDivisionError):
            runner.host(lambda: 1 / 0)
        assert runner.host(lambda: runner.call(len, "abc")) == 3  # the runner is usable after an error
    finally:
        runner.close()


def test_a_hung_call_in_a_hosted_body_raises_its_on_hang_and_the_body_never_calls_the_store_again() -> None:
    runner = Runner(0.2)
    release, calls_after = threading.Event(), []

    def on_hang(exc: OperationTimeout) -> NoReturn:
        raise Verdict(f"verdict: {exc}")  # the caller's own verdict

    def body() -> None:
        runner.invoke(release.wait, (), {}, on_hang=on_hang)
        calls_after.append("body went on")
        runner.call(lambda: calls_after.append("store called"))

    try:
        with pytest.raises(Verdict, match=r"verdict: wait\(\) did not return within 0.2 s"):
            runner.host(body)
        [(name, stuck)] = runner.abandoned
        assert name == "wait"
        assert not stuck.done()
        assert runner.host(lambda: runner.call(len, "ab")) == 2  # a fresh worker for the next body
        release.set()  # the hung call returns: its body unwinds without a store call
        for _ in range(100):
            if stuck.done():
                break
            threading.Event().wait(0.01)
        assert stuck.done()
        threading.Event().wait(0.05)
        assert calls_after == []
    finally:
        release.set()
        runner.close()


def test_a_hung_call_without_on_hang_raises_the_timeout_itself() -> None:
    runner = Runner(0.2)
    release = threading.Event()
    try:
        with pytest.raises(OperationTimeout, match=r"wait\(\) did not return within 0.2 s"):
            runner.host(lambda: runner.call(release.wait))
    finally:
        release.set()
        runner.close()


def test_a_late_return_of_an_abandoned_call_raises_abandoned_in_its_body() -> None:
    runner = Runner(0.2)
    release, unwound = threading.Event(), threading.Event()
    raised: list[BaseException] = []

    def body() -> None:
        try:
            runner.call(release.wait)
        except BaseException as exc:  # what the abandoned body sees
            raised.append(exc)
            raise
        finally:
            unwound.set()

    with pytest.raises(OperationTimeout):
        runner.host(body)
    release.set()
    assert unwound.wait(5.0)
    assert len(raised) == 1
    assert isinstance(raised[0], Abandoned)
    assert not isinstance(raised[0], Exception)
    runner.close()


def test_calls_from_a_thread_a_hosted_body_started_go_to_a_side_worker() -> None:
    runner = Runner(5.0)

    def body() -> list[Any]:
        answers: list[Any] = []
        thread = threading.Thread(target=lambda: answers.append(runner.call(len, "abcd")))
        thread.start()
        thread.join(5.0)

        async def inside_a_loop() -> Any:  # the worker's loop is running: no call in line can run it again
            return runner.call(len, "xyz")

        answers.append(asyncio.run(inside_a_loop()))
        return answers

    try:
        assert runner.host(body) == [4, 3]  # no deadlock on the busy worker
    finally:
        runner.close()


def test_a_store_without_the_threads_capability_is_never_called_from_two_threads_at_once(
    pytester: pytest.Pytester,
) -> None:
    """The whole suite on a correct store that declares ``threads`` absent and raises if two threads are ever in
    it at once (nested calls on one thread, and an async method suspended on the worker's loop, are fine)."""
    pytester.makepyfile(
        stores="""
        import functools, inspect, threading
        from reference_impls.memory import InMemoryChatStore

        _lock, _state = threading.Lock(), {"owner": None, "depth": 0}

        def _enter(name):
            me = threading.get_ident()
            with _lock:
                if _state["owner"] not in (None, me):
                    raise RuntimeError(f"{name} called from two threads at once")
                _state["owner"], _state["depth"] = me, _state["depth"] + 1

        def _leave():
            with _lock:
                _state["depth"] -= 1
                if _state["depth"] == 0:
                    _state["owner"] = None

        def _guarded(name, method):
            if inspect.iscoroutinefunction(method):
                @functools.wraps(method)
                async def guarded(*args, **kwargs):
                    _enter(name)
                    try:
                        return await method(*args, **kwargs)
                    finally:
                        _leave()
            else:
                @functools.wraps(method)
                def guarded(*args, **kwargs):
                    _enter(name)
                    try:
                        return method(*args, **kwargs)
                    finally:
                        _leave()
            return guarded

        class OneThreadAtATime(InMemoryChatStore):
            chatstore_capabilities = {"threads": False}

        for _name, _method in vars(InMemoryChatStore).items():
            if not _name.startswith("_") and inspect.isfunction(_method):
                setattr(OneThreadAtATime, _name, _guarded(_name, _method))
        """
    )
    result = pytester.runpytest("--chatstore=stores:OneThreadAtATime", "--chatstore-only", "--chatstore-hypothesis=ci")
    outcomes = result.parseoutcomes()
    assert "failed" not in outcomes
    assert "error" not in outcomes
    assert outcomes["passed"] >= 45
    assert "two threads at once" not in result.stdout.str()


def test_streams_left_closed_or_wrapped_are_put_back_at_the_end_of_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C during a hosted store call can leave sys.stdout the capture's closed file (two threads put back
    streams at once); the plugin's unconfigure repairs it, so that Python's exit can flush it."""
    import io
    import sys

    from pytest_chatstore.engine.runner import KeptOpen, repair_streams

    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)
    monkeypatch.setattr(sys, "stderr", KeptOpen("sys.stderr", io.StringIO()))
    assert repair_streams() == ["sys.stdout", "sys.stderr"]
    assert sys.stdout is sys.__stdout__
    assert sys.stderr is sys.__stderr__
    assert repair_streams() == []
