"""A consumed Kafka message for unit tests of the executor's loop and batch (confluent_kafka.Message's
accessors, from plain fields)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FakeMessage:
    o: int  # offset
    k: bytes = b""
    v: bytes = b""
    h: tuple = ()
    t: str = "jobs"
    p: int = 0

    def key(self) -> bytes:
        return self.k

    def value(self) -> bytes:
        return self.v

    def headers(self) -> list:
        return list(self.h)

    def topic(self) -> str:
        return self.t

    def partition(self) -> int:
        return self.p

    def offset(self) -> int:
        return self.o

    def error(self) -> None:
        return None
