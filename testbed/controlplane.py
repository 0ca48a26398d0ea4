"""A real Kubernetes control plane on loopback, with fake nodes.

etcd, kube-apiserver (RBAC, Pod Security admission), kube-controller-manager,
kube-scheduler and kwok, which plays the kubelet: pods are scheduled, become
Running and Ready, and get addresses, but no container runs. Everything
listens on 127.0.0.1 on free ports, certificates are made for the run, and
only the processes started here are stopped, by PID.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.1/16"
# What kwok marks the nodes it plays with, and manages only those.
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
# Webhooks need a process behind their Service, which fake nodes do not run:
# with them on, cert-manager's webhook would refuse every Issuer.
DISABLED_ADMISSION_PLUGINS = "MutatingAdmissionWebhook,ValidatingAdmissionWebhook"
LOG_TAIL_LINES = 15


class ControlPlaneError(Exception):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(directory: Path) -> None:
    """A CA for the run, the API server's serving certificate, an admin client
    certificate (group system:masters) and the service-account signing key."""
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=platform-ops testbed CA", cwd=directory)
    sans = f"subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:{SERVICE_IP}"
    for name, subject, extension in (
            ("apiserver", "/CN=kube-apiserver", sans),
            ("admin", "/O=system:masters/CN=platform-ops-admin", "extendedKeyUsage=clientAuth")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=directory)
        (directory / f"{name}.ext").write_text(extension + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=directory)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=directory)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)


def admin_kubeconfig(server: str, certs: Path, contexts: list[str]) -> dict:
    """A kubeconfig whose contexts all reach this control plane as admin."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testbed", "cluster": {
            "server": server, "certificate-authority": str(certs / "ca.crt")}}],
        "users": [{"name": "admin", "user": {
            "client-certificate": str(certs / "admin.crt"), "client-key": str(certs / "admin.key")}}],
        "contexts": [{"name": name, "context": {"cluster": "testbed", "user": "admin"}} for name in contexts],
        "current-context": contexts[0],
    }


def fake_node(name: str) -> dict:
    key, value = KWOK_NODE_ANNOTATION
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "annotations": {key: value},
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"}},
        "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                   "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
    }


def kwok_configuration(stages_dir: Path, server_port: int) -> str:
    key, value = KWOK_NODE_ANNOTATION
    # Given a configuration, kwok takes none of its defaults: every option is written out.
    config = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokConfiguration",
        "options": {
            "cidr": POD_CIDR,
            "nodeIP": "127.0.0.1",
            "manageAllNodes": False,
            "manageNodesWithAnnotationSelector": f"{key}={value}",
            "serverAddress": f"127.0.0.1:{server_port}",
            "podPlayStageParallelism": 4,
            "nodePlayStageParallelism": 4,
            "nodeLeaseParallelism": 4,
            "nodeLeaseDurationSeconds": 40,
            "podsOnNodeSyncParallelism": 1,
            "enablePodsOnNodeSyncListPager": True,
            "enablePodsOnNodeSyncStreamWatch": True,
        },
    }
    stages = [path.read_text() for path in sorted(stages_dir.glob("*.yaml"))]
    return "---\n".join([yaml.safe_dump(config), *stages])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path


@dataclass
class ControlPlane:
    """Start with start(), always stop(); kubectl() runs the pinned kubectl as admin."""

    tools: Path
    workdir: Path
    contexts: list[str] = field(default_factory=lambda: ["testbed"])
    nodes: int = 3
    processes: list[Process] = field(default_factory=list)
    server: str = ""

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def certs(self) -> Path:
        return self.workdir / "certs"

    def start(self, timeout: float = 90) -> "ControlPlane":
        deadline = time.monotonic() + timeout
        make_certificates(self.certs)
        etcd_port, etcd_peer_port, api_port, kwok_port = free_port(), free_port(), free_port(), free_port()
        self.server = f"https://127.0.0.1:{api_port}"
        self.kubeconfig.write_text(yaml.safe_dump(admin_kubeconfig(self.server, self.certs, self.contexts)))
        self.kubeconfig.chmod(0o600)

        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn("etcd", [
            "--name=testbed", f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer_port}",
            f"--initial-cluster=testbed=http://127.0.0.1:{etcd_peer_port}",
            "--unsafe-no-fsync", "--log-level=warn",
        ])
        certs = self.certs
        self._spawn("kube-apiserver", [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
            # The endpoint reconciler would publish 127.0.0.1 as the kubernetes Service's endpoint.
            "--endpoint-reconciler-type=none",
            f"--cert-dir={certs}", f"--tls-cert-file={certs / 'apiserver.crt'}",
            f"--tls-private-key-file={certs / 'apiserver.key'}", f"--client-ca-file={certs / 'ca.crt'}",
            "--authorization-mode=RBAC",
            f"--disable-admission-plugins={DISABLED_ADMISSION_PLUGINS}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={certs / 'sa.pub'}",
            f"--service-account-signing-key-file={certs / 'sa.key'}",
            "--profiling=false",
        ])
        self._wait_ready(deadline)
        kubeconfig = f"--kubeconfig={self.kubeconfig}"
        self._spawn("kube-controller-manager", [
            kubeconfig, "--secure-port=0", "--leader-elect=false",
            f"--service-account-private-key-file={certs / 'sa.key'}", f"--root-ca-file={certs / 'ca.crt'}",
            "--use-service-account-credentials=false", f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--controllers=*", "--profiling=false",
        ])
        self._spawn("kube-scheduler", [kubeconfig, "--secure-port=0", "--leader-elect=false", "--profiling=false"])
        kwok_config = self.workdir / "kwok.yaml"
        kwok_config.write_text(kwok_configuration(self.tools / "kwok-stages", kwok_port))
        self._spawn("kwok", [kubeconfig, f"--config={kwok_config}"])
        self.apply({"apiVersion": "v1", "kind": "List",
                    "items": [fake_node(f"kwok-node-{index}") for index in range(self.nodes)]})
        self._wait_for("nodes Ready", deadline, lambda: self._ready_nodes() == self.nodes)
        self._wait_for("the default ServiceAccount", deadline,
                       lambda: self.kubectl("get", "serviceaccount", "default", check=False).returncode == 0)
        return self

    def stop(self) -> None:
        """Stop what start() started, newest first: TERM, then KILL after a grace period."""
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                os.killpg(process.popen.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait(timeout=10)
        self.processes.clear()

    def log_tails(self, lines: int = LOG_TAIL_LINES) -> str:
        """The end of each component's log, for a failing test's report."""
        parts = []
        for process in self.processes:
            text = process.log.read_text(errors="replace").splitlines()[-lines:] if process.log.exists() else []
            parts.append(f"--- {process.name} (pid {process.popen.pid}) {process.log}\n" + "\n".join(text))
        return "\n".join(parts)

    def kubectl(self, *args: str, input: Optional[str] = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([str(self.tools / "kubectl"), f"--kubeconfig={self.kubeconfig}",
                                 f"--context={self.contexts[0]}", *args],
                                input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result

    def namespaces_left_behind(self, before: set[str]) -> list[str]:
        """Namespaces that exist now but did not in `before`, with their phase."""
        return sorted(f"{ns['metadata']['name']} ({ns['status'].get('phase', '?')})"
                      for ns in self.get("namespaces")["items"] if ns["metadata"]["name"] not in before)

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def apply(self, manifest: dict, *flags: str) -> subprocess.CompletedProcess:
        return self.kubectl("apply", "-f", "-", *flags, input=json.dumps(manifest))

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.workdir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            # A session of its own: stop() signals the process group, and the
            # tests' own terminal signals never reach it.
            popen = subprocess.Popen([str(self.tools / name), *args], stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.workdir)
        self.processes.append(Process(name, popen, log))
        with (self.workdir / "pids").open("a") as pids:
            pids.write(f"{name} {popen.pid}\n")

    def _wait_ready(self, deadline: float) -> None:
        context = ssl.create_default_context(cafile=str(self.certs / "ca.crt"))
        context.load_cert_chain(str(self.certs / "admin.crt"), str(self.certs / "admin.key"))

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{self.server}/readyz", context=context, timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        self._wait_for("kube-apiserver /readyz", deadline, ready)

    def _ready_nodes(self) -> int:
        result = self.kubectl("get", "nodes", "-o", "json", check=False)
        if result.returncode != 0:
            return 0
        return sum(1 for node in json.loads(result.stdout)["items"]
                   for condition in node.get("status", {}).get("conditions", [])
                   if condition["type"] == "Ready" and condition["status"] == "True")

    def _wait_for(self, what: str, deadline: float, check) -> None:
        while not check():
            for process in self.processes:
                if process.popen.poll() is not None:
                    raise ControlPlaneError(f"{process.name} exited with {process.popen.returncode} while "
                                            f"waiting for {what}\n{self.log_tails()}")
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"timed out waiting for {what}\n{self.log_tails()}")
            time.sleep(0.2)
