"""``apps:``: the apps promoter changes, their images and the files their versions live in."""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import msgspec

from promoter.config import values
from promoter.config.fieldtypes import Count, Text, file_doc, path_or, template_doc, url_doc
from promoter.config.section import (
    NamedMap,
    NamedSections,
    Problem,
    Section,
    decode_nested,
    describe,
    internal_name,
)
from promoter.config.update import UpdatePolicy

__all__ = ["App", "AppEnvironment", "Apps", "EnvironmentFiles", "FileTarget", "file_targets"]


class FileTarget(Section, frozen=True):
    """A file an app's version is written in: a relative path, or a mapping.

    Without `key`, promoter finds the references to the app's image in the file.
    """

    example = "{file: values.yaml, key: image.tag}"

    file: Annotated[Text, file_doc("Relative to the environment's `path`.")]
    key: Annotated[
        Text | None,
        describe(
            "Key path, e.g. `image.tag`, `spec.source.helm.parameters[name=image.tag].value`; without it "
            "promoter edits every reference to the app's image in the file (Helm image blocks, `repo:tag` "
            "strings, Kustomize `images:`, Argo CD Applications, Flux markers).",
            type_text="key path",
            default_text="every reference to the image",
        ),
    ] = None
    doc: Annotated[Count | None, describe("The document of a multi-document file (from 0).")] = None


S = TypeVar("S", bound=Section)


def file_targets(kind: type[S]) -> Callable[[Any], tuple[S, ...]]:
    """A field convert: each item written as a plain path becomes ``kind(path)``."""

    def convert(items: Any) -> tuple[S, ...]:
        out: list[S] = []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                out.append(item)
                continue
            try:
                out.append(kind(item))
            except Problem as problem:
                raise problem.within(index) from None
        return tuple(out)

    return convert


# In promoter.yaml a file target is a path or a mapping; once loaded it is always a FileTarget.
if TYPE_CHECKING:
    FileTargetInput = FileTarget
else:
    FileTargetInput = path_or(FileTarget)


class AppEnvironment(Section, frozen=True):
    """The files of an app in one environment."""

    example = "{files: [{file: values.yaml, key: api.image.tag}]}"

    files: Annotated[
        tuple[FileTargetInput, ...],
        describe(
            "Replaces the app's `files` in this environment.", convert=file_targets(FileTarget), min_length=1
        ),
    ]


class EnvironmentFiles(NamedMap[tuple[FileTarget, ...]]):
    """``environments: {ENV: {files: [...]}}`` of an app, loaded as ENV -> its file targets."""

    item = AppEnvironment
    key_noun = "environment"
    item_noun = "`{files: [...]}`"
    example = "{production: {files: [...]}}"
    name_pattern = values.NAME_PATTERN

    @classmethod
    def decode_item(cls, name: str, raw: Any, mapping: Mapping[str, Any]) -> tuple[FileTarget, ...]:
        decoded: AppEnvironment = decode_nested(raw, AppEnvironment, (name,))
        return decoded.files

    @classmethod
    def coerce(cls, value: Any) -> Any:
        if isinstance(value, cls):
            return value
        return cls({k: v.files if isinstance(v, AppEnvironment) else tuple(v) for k, v in value.items()})


class App(Section, frozen=True):
    """An app: its image and the files (and keys) its version is written in.

    An app needs `files` or `environments`. An environment without files for an app does not run that app.
    """

    example = "{image: registry.example.com/acme/api, files: [values.yaml]}"

    name: Annotated[str, describe("The app's name: its key under `apps`.")] = msgspec.field(
        name=internal_name("name")
    )
    image: Annotated[
        Text,
        describe(
            "`registry/repository`, without tag or digest; `--image REPO:TAG` selects every app whose image "
            "names the same repository (`nginx` = `docker.io/library/nginx`).",
            check=values.image_problem,
            expected="an image repository",
            type_text="image repository",
        ),
    ]
    files: Annotated[
        tuple[FileTargetInput, ...],
        describe(
            "The files to edit in every environment.",
            convert=file_targets(FileTarget),
            type_text="list of file targets",
        ),
    ] = ()
    env_files: Annotated[
        EnvironmentFiles,
        describe("Replaces `files` in that environment (different file or key paths per environment)."),
    ] = msgspec.field(default_factory=EnvironmentFiles, name="environments")
    source_repo: Annotated[
        Text | None, url_doc("The app's repository, for compare links in request bodies.")
    ] = None
    source_ref: Annotated[
        Text | None,
        template_doc(
            "Maps a tag to a ref of `source_repo` (`tag`), e.g. `v{{ tag }}`.", default_text="the tag"
        ),
    ] = None
    update: Annotated[UpdatePolicy | None, describe("How `update` picks the next version (see below).")] = (
        None
    )

    def files_for(self, env: str) -> tuple[FileTarget, ...]:
        """The files to edit in ``env``: its override when there is one, else the app's ``files``."""
        return self.env_files.get(env, self.files)

    def check(self) -> None:
        if not self.files and not self.env_files:
            raise Problem(
                "app {name!r} has no files",
                name=self.name,
                hint="add files: [...] or environments: {ENV: {files: [...]}}",
            )


class Apps(NamedSections[App]):
    item = App
    item_noun = "app"
    example = "{api: {image: ..., files: [...]}}"
    name_pattern = values.NAME_PATTERN
