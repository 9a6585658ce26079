"""One run's view of the registries: each repository's tags listed once, shared by every app using it.

Listings, digests of moving tags and build times are fetched up front, in parallel (a pool of threads,
at most ``PROMOTER_REGISTRY_CONCURRENCY`` requests in flight per registry, enforced by the transport), and
kept for the run. A repository whose registry cannot answer is remembered with its error, so its apps are
skipped with that error while every other app goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime

from promoter.errors import RegistryError
from promoter.imageref import ImageRef
from promoter.progress import Progress, progress
from promoter.registry import RegistryClient
from promoter.registry.images import image_created

DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class Need:
    """One fact to fetch: ``tags`` of a repository, or the ``digest`` / ``created`` time of one tag."""

    kind: str
    image: ImageRef  # without tag or digest
    tag: str | None = None


class RegistryFacts:
    """Tags, digests and build times, fetched once per run (:class:`~.strategies.Facts`)."""

    def __init__(
        self, client: RegistryClient, *, workers: int = DEFAULT_WORKERS, page_size: int | None = None
    ) -> None:
        self.client = client
        self.workers = workers
        self.page_size = page_size
        self._facts: dict[tuple[str, str, str | None], object] = {}
        self._shown: Progress | None = None  # the running prefetch's reporter: long listings show their pages
        self.failures: dict[str, RegistryError] = {}  # repository (canonical name) -> why it is unknown

    # the facts ------------------------------------------------------------------------------------
    def tags(self, image: ImageRef) -> Sequence[str]:
        found = self._get(Need("tags", image))
        return found if isinstance(found, list) else []

    def digest(self, image: ImageRef, tag: str) -> str | None:
        found = self._get(Need("digest", image, tag))
        return found if isinstance(found, str) else None

    def created(self, image: ImageRef, tag: str) -> datetime | None:
        found = self._get(Need("created", image, tag))
        return found if isinstance(found, datetime) else None

    def failure(self, image: ImageRef) -> RegistryError | None:
        return self.failures.get(image.canonical_name)

    # fetching ------------------------------------------------------------------------------------
    def prefetch(self, needs: Iterable[Need], label: str) -> None:
        """Fetch every fact in ``needs`` not known yet, in parallel, with progress for long runs."""
        todo = list(dict.fromkeys(need for need in needs if self._key(need) not in self._facts))
        todo = [need for need in todo if need.image.canonical_name not in self.failures]
        if not todo:
            return
        with progress(label, total=len(todo), unit=_unit(todo)) as shown:
            self._shown = shown
            if len(todo) == 1 or self.workers <= 1:
                for need in todo:
                    self._fetch(need)
                    shown.advance(detail=need.image.name)
                return
            with ThreadPoolExecutor(max_workers=min(self.workers, len(todo))) as pool:
                futures = {pool.submit(self._fetch, need): need for need in todo}
                for future in as_completed(futures):
                    future.result()
                    shown.advance(detail=futures[future].image.name)

    def _get(self, need: Need) -> object:
        key = self._key(need)
        if key not in self._facts:
            failure = self.failure(need.image)
            if failure is None:
                self._fetch(need)
        failure = self.failure(need.image)
        if failure is not None and key not in self._facts:
            raise failure
        return self._facts.get(key)

    def _fetch(self, need: Need) -> None:
        fetch: Callable[[], object]
        if need.kind == "tags":
            fetch = lambda: self.client.list_tags(  # noqa: E731
                need.image, page_size=self.page_size, on_page=lambda pages: self._page(need.image, pages)
            )
        elif need.kind == "digest":
            fetch = lambda: self.client.manifest_digest(need.image.with_version(need.tag))  # noqa: E731
        else:
            fetch = lambda: image_created(self.client, need.image.with_version(need.tag))  # noqa: E731
        try:
            self._facts[self._key(need)] = fetch()
        except RegistryError as error:
            self.failures.setdefault(need.image.canonical_name, error)

    def _page(self, image: ImageRef, pages: int) -> None:
        shown = self._shown
        if shown is not None:
            shown.update(shown.done, detail=f"{image.name}: {pages} pages of tags")

    @staticmethod
    def _key(need: Need) -> tuple[str, str, str | None]:
        return need.kind, need.image.canonical_name, need.tag


def _unit(todo: list[Need]) -> str:
    kinds = {need.kind for need in todo}
    return "repositories" if kinds == {"tags"} else "requests"
