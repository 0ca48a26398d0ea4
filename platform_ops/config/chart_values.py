"""The charts as the stack reads them: each chart's Chart.yaml checked, each application chart's
values merged as Argo CD renders them and checked against its values.schema.json, the TLS host
each exposes, and the check that those values name the ingress class and certificate issuer the
stack provides. Every problem names the file, line and key: `charts/<chart>/<file>:<line>: <key> ...`."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Optional

import jsonschema

from platform_ops.config.errors import ConfigError
from platform_ops.config.reader import SettingsReader, show_value
from platform_ops.config.settings import CertManagerSettings, GitOpsSettings, IngressSettings, TlsHost
from platform_ops.config.yaml_files import KeyPath, YamlFile, key_name, read_yaml_file
from platform_ops.contract import DNS_LABEL, PROJECT
from platform_ops.paths import CHARTS_FOLDER

SCHEMA_FILE = "values.schema.json"
# Helm refuses a chart whose version is not SemVer 2.
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_CHART_TYPES = ("application", "library")


def shown_path(chart_dir: Path, name: str) -> str:
    """A chart's file as problems name it, from the repository root: charts/<chart>/<name>."""
    return f"{CHARTS_FOLDER}/{chart_dir.name}/{name}"


def chart_problems(chart_dir: Path) -> list[str]:
    """What Helm would refuse in the chart's Chart.yaml, each on one line."""
    try:
        chart = read_yaml_file(chart_dir / "Chart.yaml", shown_path(chart_dir, "Chart.yaml"))
    except ConfigError as error:
        return [str(error)]
    if not isinstance(chart.data, dict):
        return [f"{chart.shown}:1: must be a mapping of chart fields, got {show_value(chart.data)}"]
    problems = []

    def check(path: KeyPath, ok: bool, rule: str) -> None:
        if not ok:
            value = chart.data
            for part in path:
                value = value[part]
            problems.append(chart.problem(path, f"{rule}, got {show_value(value)}"))

    fields = chart.data
    for key in ("apiVersion", "name", "version"):
        if key not in fields:
            problems.append(chart.problem((key,), "is required"))
    if "apiVersion" in fields:
        check(("apiVersion",), fields["apiVersion"] == "v2", 'must be "v2"')
    if "name" in fields:
        check(("name",), fields["name"] == chart_dir.name and bool(DNS_LABEL.match(chart_dir.name)),
              f'must be the chart\'s folder name, "{chart_dir.name}", a DNS label')
    if "version" in fields:
        check(("version",), isinstance(fields["version"], str) and bool(_SEMVER.match(fields["version"])),
              'must be a SemVer 2 version such as 0.1.0')
    if "type" in fields:
        check(("type",), fields["type"] in _CHART_TYPES, 'must be "application" or "library"')
    if "appVersion" in fields:
        # Unquoted, 1234567 is a number and 6063e25 a float: the image tag would be mangled.
        check(("appVersion",), isinstance(fields["appVersion"], str), "must be a string (quote it)")
    dependencies = fields.get("dependencies", [])
    if not isinstance(dependencies, list):
        check(("dependencies",), False, "must be a list")
        dependencies = []
    for index, dependency in enumerate(dependencies):
        if not isinstance(dependency, dict):
            check(("dependencies", index), False, "must be a mapping with name, version and repository")
            continue
        for key in ("name", "version", "repository"):
            path = ("dependencies", index, key)
            if key not in dependency:
                problems.append(chart.problem(path, "is required"))
            else:
                check(path, isinstance(dependency[key], str) and bool(dependency[key]), "must be a non-empty string")
    if not problems and (chart_dir / "Chart.lock").is_file():
        problems.extend(_lock_problems(chart, chart_dir, dependencies))
    return problems


def _lock_problems(chart: YamlFile, chart_dir: Path, dependencies: list[dict]) -> list[str]:
    """Chart.yaml's dependencies are the ones Chart.lock pins: Argo CD's `helm dependency build`
    refuses a lock out of step with Chart.yaml."""
    try:
        lock = read_yaml_file(chart_dir / "Chart.lock", shown_path(chart_dir, "Chart.lock"))
    except ConfigError as error:
        return [str(error)]
    entries = lock.data.get("dependencies") if isinstance(lock.data, dict) else None
    locked = {(d.get("name"), d.get("repository")): str(d.get("version")) for d in entries or []
              if isinstance(d, dict)}
    declared = {(d["name"], d["repository"]): d["version"] for d in dependencies}
    # A version range in Chart.yaml matches whichever version the lock resolved it to.
    if set(locked) != set(declared) or any(
            _SEMVER.match(version) and locked[key] != version for key, version in declared.items()):
        shown = ", ".join(f"{name} {version} from {repository}"
                          for (name, repository), version in sorted(locked.items())) or "nothing"
        return [chart.problem(("dependencies",), f"do not match Chart.lock (locked: {shown}); "
                              f"run helm dependency update {CHARTS_FOLDER}/{chart_dir.name}")]
    return []


def app_values(chart_dir: Path, value_files: Iterable[str]) -> dict:
    """An application chart's values after `value_files`, merged in order as Helm does, and valid
    against the chart's values.schema.json; ConfigError listing every problem otherwise."""
    files = []
    problems = []
    for name in value_files:
        try:
            files.append(read_yaml_file(chart_dir / name, shown_path(chart_dir, name)))
        except ConfigError as error:
            problems.append(str(error))
    for parsed in files:
        if parsed.data is not None and not isinstance(parsed.data, dict):
            problems.append(f"{parsed.shown}:1: must be a mapping of values, got {show_value(parsed.data)}")
    if problems:
        raise ConfigError("\n".join(problems))
    values = _merged(parsed.data for parsed in files)
    schema_path = chart_dir / SCHEMA_FILE
    if schema_path.is_file():
        problems = _schema_problems(_read_schema(chart_dir), values, files)
        if problems:
            raise ConfigError("\n".join(problems))
    return values


def _read_schema(chart_dir: Path) -> dict:
    shown = shown_path(chart_dir, SCHEMA_FILE)
    try:
        schema = json.loads((chart_dir / SCHEMA_FILE).read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        line = f":{error.lineno}" if isinstance(error, json.JSONDecodeError) else ""
        raise ConfigError(f"{shown}{line}: not valid JSON: {error}") from None
    except jsonschema.SchemaError as error:
        raise ConfigError(f"{shown}: {key_name(tuple(error.path)) or 'the schema'} is not a valid "
                          f"JSON schema: {error.message}") from None
    return schema


def _schema_problems(schema: dict, values: dict, files: list[YamlFile]) -> list[str]:
    """Each way `values` breaks the schema, on the line of the value file that set it last."""
    problems = []
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(values), key=lambda e: [str(p) for p in e.absolute_path]):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = error.schema.get("properties", {})
            for key in sorted(k for k in error.instance if k not in known):
                problems.append(_blamed(files, path + (key,)).problem(
                    path + (key,), f"is not a value of this chart ({SCHEMA_FILE} allows: {', '.join(known)})"))
        elif error.validator == "required" and isinstance(error.instance, dict):
            for key in (k for k in error.validator_value if k not in error.instance):
                problems.append(_blamed(files, path + (key,)).problem(path + (key,), f"is required by {SCHEMA_FILE}"))
        else:
            problems.append(_blamed(files, path).problem(path, f"does not match {SCHEMA_FILE}: {error.message}"))
    return problems


def _blamed(files: list[YamlFile], path: KeyPath) -> YamlFile:
    """The value file to fix for `path`: the last one that sets most of it."""
    def depth(parsed: YamlFile) -> int:
        return max((end for end in range(len(path), 0, -1) if path[:end] in parsed.lines), default=0)
    return max(reversed(files), key=depth)


def ingress_tls(values: dict) -> Optional[TlsHost]:
    """The host and TLS secret the chart's Ingress uses in this environment, from its merged values."""
    ingress = values.get("ingress") or {}
    if not ingress.get("enabled") or not ingress.get("host") or not ingress.get("tlsSecretName"):
        return None
    return TlsHost(host=ingress["host"], secret_name=ingress["tlsSecretName"],
                   class_name=ingress.get("className") or "", cluster_issuer=ingress.get("clusterIssuer") or "")


def check_charts_match_platform(reader: SettingsReader, stack: str, gitops: GitOpsSettings,
                                ingress: IngressSettings, cert_manager: CertManagerSettings) -> None:
    """Argo CD renders the charts from Git alone, so each chart's ingress class
    and certificate issuer must name what this stack provides."""
    for app in gitops.apps:
        if app.tls is None:
            continue
        values_file = f"charts/{app.service}/values-{stack}.yaml"
        if ingress.class_name and app.tls.class_name != ingress.class_name:
            reader.problems.append(
                f"{values_file}: ingress.className {show_value(app.tls.class_name)} is not the stack's ingress "
                f"class {show_value(ingress.class_name)} ({PROJECT}:ingress.className)")
        if cert_manager.issuer.name and app.tls.cluster_issuer != cert_manager.issuer.name:
            reader.problems.append(
                f"{values_file}: ingress.clusterIssuer {show_value(app.tls.cluster_issuer)} is not the stack's "
                f"issuer {show_value(cert_manager.issuer.name)} ({PROJECT}:certManager.issuer.name)")


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def _merged(documents: Iterable[Optional[dict]]) -> dict:
    values: dict = {}
    for document in documents:
        values = _merge(values, document or {})
    return values


def merged_values(chart_dir: Path, value_files: Iterable[str]) -> dict:
    """A chart's values after the given value files, merged in order as Helm does."""
    return _merged(read_yaml_file(Path(chart_dir) / name, shown_path(Path(chart_dir), name)).data
                   for name in value_files)
