"""Targets (:mod:`pytest_chatstore.engine.targets`): what a factory accepts, how ``MODULE:ATTR`` resolves."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_chatstore.engine.targets import TargetError, accepted_parameters, parse_target


def test_only_named_injectable_parameters_are_accepted() -> None:
    def factory(ttl: float | None = None, clock: Any = None, other: int = 0, **kwargs: Any) -> None: ...

    def keyword_only(*, redis_url: str) -> None: ...

    assert accepted_parameters(factory) == {"ttl", "clock"}
    assert accepted_parameters(keyword_only) == {"redis_url"}
    assert accepted_parameters(lambda **kw: None) == frozenset()


class Stores:
    """Factories grouped in a class, as the docs' ``mypkg:Stores.memory`` example names them."""

    @staticmethod
    def memory() -> object:
        from reference_impls.memory import InMemoryChatStore

        return InMemoryChatStore()


def test_dotted_attribute_paths_resolve() -> None:
    target = parse_target("tests.test_targets:Stores.memory", "test")
    assert target.name == "memory"


def test_a_factory_with_a_parameter_the_kit_cannot_give_is_refused_when_read() -> None:
    with pytest.raises(TargetError, match="the factory requires 'self', which the kit cannot give"):
        parse_target("pytest_chatstore.spec.contract:ChatMessage.copy", "test")
