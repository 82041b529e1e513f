"""The generated manifests are committed; they must be what the generator writes from the current code."""

from __future__ import annotations

from trellis.manifests.layout import K8S, render


def test_committed_manifests_match_the_generator() -> None:
    stale = [
        str(path)
        for path, content in render().items()
        if not (K8S / path).is_file() or (K8S / path).read_text() != content
    ]
    assert not stale, f"stale generated files under deploy/k8s (run `scripts/generate`): {stale}"


def test_every_generated_folder_is_fully_generated() -> None:
    generated = set(render())
    for folder in ("base", "components"):
        on_disk = {path.relative_to(K8S) for path in (K8S / folder).rglob("*") if path.is_file()}
        leftovers = sorted(str(path) for path in on_disk - generated)
        assert not leftovers, f"files the generator no longer writes (delete them or generate them): {leftovers}"
