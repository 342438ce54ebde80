"""MLflow as the store of record: pipeline runs, the registered model, its versions.

One adapter (:class:`MlflowRegistry`) over ``MlflowClient``; the release flow talks only
to it. Environments are MLflow *aliases* (``staging``, ``production``) on versions of one
registered model, plus ``gpcast.*`` tags that mirror the ledger (approval, approver,
timestamps, artifact sha256). The deprecated stages are not used.

The embedded default is an SQLite store and a local artifact root under the home folder;
``GPCAST_TRACKING_URI`` points at a tracking server instead. MLflow is imported when an
adapter is created, never at module import, so the serving path stays light.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpcast.errors import ArtifactIntegrityError, RegistryError
from gpcast.registry.artifact import MODEL_FILE, ModelBundle, sha256_file

TAG_SHA = "gpcast.sha256"
TAG_STATE = "gpcast.state"  # registered | abandoned
TAG_PIPELINE = "gpcast.pipeline_id"
ENVIRONMENTS = ("staging", "production")


@dataclass(frozen=True)
class ModelVersion:
    """A registered version: its number, artifact digest, lineage and tags."""

    name: str
    version: str
    sha256: str
    run_id: str | None
    source: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        return self.tags.get(TAG_STATE, "unknown")


def embedded_tracking_uri(home: Path) -> str:
    return f"sqlite:///{(home / 'mlflow.db').resolve()}"


class MlflowRegistry:
    """Runs, metrics, artifacts, the pyfunc model, versions and aliases in MLflow."""

    def __init__(self, home: Path, tracking_uri: str | None, model_name: str,
                 experiment: str, artifact_location: str | None = None,
                 ui_url: str | None = None) -> None:
        import logging
        import os

        # Quiet by default: no per-file progress bars or INFO lines in the CLI's output.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        import mlflow
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.WARNING)

        self.home = home
        self.embedded = tracking_uri is None
        self.tracking_uri = tracking_uri or embedded_tracking_uri(home)
        self.model_name = model_name
        self.experiment_name = experiment
        # Where a new experiment keeps its artifacts (s3://... next to a database store);
        # None: under home for the embedded store, the tracking server's choice otherwise.
        self.artifact_location = artifact_location
        self.ui_url = ui_url or (tracking_uri if tracking_uri and tracking_uri.startswith(
            ("http://", "https://")) else None)
        home.mkdir(parents=True, exist_ok=True)
        # The fluent API (log_model) reads the global URI; set both once, here.
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        self._mlflow = mlflow
        self.client = MlflowClient(self.tracking_uri, self.tracking_uri)
        self._experiment_id: str | None = None

    # -- runs ---------------------------------------------------------------------
    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            found = self._call(self.client.get_experiment_by_name, self.experiment_name)
            if found is not None:
                self._experiment_id = str(found.experiment_id)
            else:
                location = self.artifact_location or (
                    (self.home / "mlartifacts").resolve().as_uri() if self.embedded else None)
                self._experiment_id = str(self._call(
                    self.client.create_experiment, self.experiment_name, location))
        return self._experiment_id

    def start_run(self, run_name: str, tags: Mapping[str, str]) -> str:
        run = self._call(self.client.create_run, self.experiment_id, run_name=run_name,
                         tags=dict(tags))
        return str(run.info.run_id)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self._call(self.client.set_terminated, run_id, status)

    def unfinished_runs(self) -> list[str]:
        runs = self._call(self.client.search_runs, [self.experiment_id],
                          "attributes.status = 'RUNNING'")
        return [str(r.info.run_id) for r in runs]

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        self._call(self.client.log_batch, run_id, params=items)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        import math
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(_key(k), float(v), now, 0) for k, v in metrics.items()
                 if v is not None and math.isfinite(float(v))]
        for start in range(0, len(items), 900):  # MLflow caps a batch at 1000 metrics
            self._call(self.client.log_batch, run_id, metrics=items[start:start + 900])

    def set_run_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self._call(self.client.set_tag, run_id, key, str(value))

    def log_artifacts(self, run_id: str, local_dir: Path, artifact_path: str) -> None:
        self._call(self.client.log_artifacts, run_id, str(local_dir), artifact_path)

    def artifact_link(self, run_id: str, artifact_path: str) -> str:
        """Where a person opens a run's artifact: its page in the MLflow UI when the UI's
        address is known (``GPCAST_MLFLOW_UI_URL`` or a tracking server), else its URI."""
        if self.ui_url:
            return (f"{self.ui_url.rstrip('/')}/#/experiments/{self.experiment_id}/runs/"
                    f"{run_id}/artifacts/{artifact_path}")
        run = self._call(self.client.get_run, run_id)
        return f"{str(run.info.artifact_uri).rstrip('/')}/{artifact_path}"

    def log_model(self, run_id: str, bundle: ModelBundle, bundle_dir: Path, sha256: str,
                  h: int) -> str:
        """Log the pyfunc model (signature, input example) in the run; its model URI.

        The model carries gpcast's own code (``code_paths``) and the pinned requirements
        of :func:`model_requirements`, so ``mlflow models serve`` works in a fresh
        environment that reaches only the package index."""
        from mlflow.models import infer_signature

        import gpcast
        from gpcast.registry.pyfunc import BUNDLE_KEY, GpcastModel, forecast_table, input_example

        example = input_example(bundle, h)
        output = forecast_table(bundle, example, [80, 95])
        signature = infer_signature(example, output, params={"level": [80, 95]})
        with self._mlflow.start_run(run_id=run_id):
            info = self._call(
                self._mlflow.pyfunc.log_model, name="model", python_model=GpcastModel(),
                artifacts={BUNDLE_KEY: str(bundle_dir)}, signature=signature,
                input_example=example, model_config={"sha256": sha256},
                code_paths=[str(Path(gpcast.__file__).parent)],
                pip_requirements=model_requirements())
        return str(info.model_uri)

    def run_artifact(self, run_id: str, artifact_path: str) -> Path:
        """A run's artifact, downloaded under home/tmp (data only: nothing is executed)."""
        return Path(self._call(self._mlflow.artifacts.download_artifacts, run_id=run_id,
                               artifact_path=artifact_path,
                               dst_path=str(self.home / "tmp" / run_id)))

    def run_json(self, run_id: str, artifact_path: str) -> Any:
        """A JSON artifact of a run, parsed."""
        import json

        return json.loads(self.run_artifact(run_id, artifact_path).read_text())

    def run_metrics(self, run_id: str) -> dict[str, float]:
        return dict(self._call(self.client.get_run, run_id).data.metrics)

    # -- versions -----------------------------------------------------------------
    def register(self, model_uri: str, run_id: str, sha256: str,
                 tags: Mapping[str, str]) -> ModelVersion:
        """Create the next version with its digest and lineage tags in one call."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.model_name)
        except MlflowException:
            self._call(self.client.create_registered_model, self.model_name,
                       description="gpcast forecasters: per-series winners of the backtest")
        all_tags = {**tags, TAG_SHA: sha256, TAG_STATE: "registered"}
        # MLflow 3: a logged model's version names it by id (a tracking server checks).
        model_id = model_uri.removeprefix("models:/") if model_uri.startswith(
            "models:/m-") else None
        mv = self._call(self.client.create_model_version, self.model_name, model_uri,
                        run_id=run_id, tags=all_tags, model_id=model_id)
        return self.version(str(mv.version))

    def version(self, version: str | int) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(self.model_name, str(version))
        except MlflowException:
            raise RegistryError(f"model '{self.model_name}' has no version {version}",
                                model=self.model_name, version=str(version)) from None
        tags = dict(mv.tags or {})
        return ModelVersion(name=self.model_name, version=str(mv.version),
                            sha256=tags.get(TAG_SHA, ""), run_id=mv.run_id,
                            source=str(mv.source), tags=tags,
                            aliases=tuple(getattr(mv, "aliases", ()) or ()))

    def versions(self) -> list[ModelVersion]:
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.search_model_versions(f"name = '{self.model_name}'")
        except MlflowException as exc:
            raise RegistryError(f"cannot list versions of '{self.model_name}': {exc}") from None
        return sorted((self.version(str(v.version)) for v in found),
                      key=lambda v: int(v.version))

    def set_version_tags(self, version: str | int, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self._call(self.client.set_model_version_tag, self.model_name, str(version),
                       key, str(value))

    def alias(self, environment: str) -> ModelVersion | None:
        """The version an environment's alias points at, if any."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version_by_alias(self.model_name, environment)
        except MlflowException:
            return None
        return self.version(str(mv.version))

    def set_alias(self, environment: str, version: str | int) -> None:
        self._call(self.client.set_registered_model_alias, self.model_name, environment,
                   str(version))

    def delete_alias(self, environment: str) -> None:
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):
            self.client.delete_registered_model_alias(self.model_name, environment)

    def download_bundle(self, version: ModelVersion, dest: Path) -> Path:
        """Fetch a version's bundle into ``dest`` and check its sha256 against the tag."""
        from gpcast.registry.pyfunc import BUNDLE_KEY

        target = dest / f"v{version.version}"
        found = sorted(target.rglob(f"{BUNDLE_KEY}/{MODEL_FILE}"))
        if not found:
            target.mkdir(parents=True, exist_ok=True)
            uri = self._call(self.client.get_model_version_download_uri, self.model_name,
                             version.version)
            self._call(self._mlflow.artifacts.download_artifacts, artifact_uri=uri,
                       dst_path=str(target))
            found = sorted(target.rglob(f"{BUNDLE_KEY}/{MODEL_FILE}"))
        if not found:
            raise RegistryError(f"version {version.version} has no gpcast bundle under "
                                f"{target}", version=version.version)
        bundle_dir = found[0].parent
        actual = sha256_file(bundle_dir / MODEL_FILE)
        if not version.sha256 or actual != version.sha256:
            raise ArtifactIntegrityError(
                f"version {version.version}: artifact sha256 {actual[:16]}… does not match "
                f"the registered {version.sha256[:16] or '(none)'}…; refusing to deploy it",
                version=version.version, expected=version.sha256, actual=actual)
        return bundle_dir

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            raise RegistryError(f"MLflow ({self.tracking_uri.split('?')[0]}): "
                                f"{str(exc).splitlines()[0]}",
                                tracking_uri=self.tracking_uri) from None


LOCK_FILE = Path(__file__).resolve().parents[3] / "requirements" / "runtime.txt"


def model_requirements(lock_file: Path = LOCK_FILE) -> list[str]:
    """Pinned requirements of a logged model: every ``name==version [; marker]`` of the
    lock file (requirements/runtime.txt, hashes dropped: MLflow's requirements.txt is
    installed without --require-hashes), or, when gpcast runs from a wheel without its
    source tree, the installed versions of gpcast's dependency closure."""
    if lock_file.is_file():
        pins = []
        for line in lock_file.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-")) and "==" in line:
                pins.append(line.removesuffix("\\").strip())
        return pins
    return installed_requirements("gpcast")


def installed_requirements(root: str) -> list[str]:
    """``name==version`` of ``root``'s installed dependencies, transitively (not ``root``)."""
    import re
    from importlib import metadata

    seen: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if key in seen:
            continue
        seen[key] = dist.version
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req)
            if match:
                todo.append(match.group(0))
    seen.pop(re.sub(r"[-_.]+", "-", root).lower(), None)
    return sorted(f"{name}=={version}" for name, version in seen.items())


def _key(name: str) -> str:
    # MLflow keys allow alphanumerics, _ - . space / only.
    return "".join(c if c.isalnum() or c in "_-. /" else "_" for c in name)


__all__ = ["ENVIRONMENTS", "TAG_PIPELINE", "TAG_SHA", "TAG_STATE", "MlflowRegistry",
           "ModelVersion", "embedded_tracking_uri", "model_requirements"]
