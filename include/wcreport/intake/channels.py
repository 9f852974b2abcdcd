"""The ways report files reach a quarter's inbox folder (``<inbox>/<quarter>/``).

The scan sees only the folder, whatever the channel; a channel delivers files into it
and says where each came from (the unit's feedback answers a mail to its sender). Two
channels today: the shared folder units copy their files into (``SharedFolder``) and
the organiser's mailbox (``wcreport.intake.mailbox.MailboxChannel``).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from wcreport.core.quarter import Quarter
from wcreport.core.settings import QuarterPaths

Item = TypeVar("Item", contravariant=True)


@dataclass(frozen=True)
class Delivered:
    """One file a channel put into a quarter's inbox folder, and where it came from."""

    quarter: str                    # e.g. 2023Q3
    path: str                       # relative to the quarter's inbox folder
    provenance: dict = field(default_factory=dict)      # the channel's record; empty when it keeps none


class IntakeChannel(Protocol[Item]):
    """A way in: ``deliver`` puts one received item's report files into their quarter's folder."""

    name: str

    def deliver(self, item: Item, /) -> list[Delivered]:
        """The files ``item`` brought, each in its quarter's inbox folder. Idempotent."""
        ...

    def provenance(self, paths: QuarterPaths, rels: Iterable[str] | None = None) -> dict[str, dict]:
        """Where each of the quarter's inbox files that came this way came from, by inbox path."""
        ...


class SharedFolder:
    """The shared folder: units copy their files into ``<inbox>/<quarter>/`` themselves.

    A file is delivered by the unit that put it there: nothing is copied, and the share
    keeps no record beyond the file itself (its folder and modification time).
    """

    name = "shared_folder"

    def __init__(self, inbox_root: Path):
        self.inbox_root = Path(inbox_root)

    def deliver(self, item: Path, /) -> list[Delivered]:
        """The file at ``item``, as the quarter's inbox names it; nothing if it is no quarter's file."""
        try:
            quarter, *rest = Path(item).relative_to(self.inbox_root).parts
            known = str(Quarter.parse(quarter)) == quarter
        except ValueError:
            return []
        return [Delivered(quarter, "/".join(rest))] if known and rest else []

    def provenance(self, paths: QuarterPaths, rels: Iterable[str] | None = None) -> dict[str, dict]:
        return {}
