"""The Pod Security Standards' restricted level, as the API server enforces it."""
from __future__ import annotations

from typing import Iterable

from platform_ops.chart_checks.manifests import all_containers, of_kind, pod_spec, ref

RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret",
}
BASELINE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
}


def check_pod_security_restricted(manifests: Iterable[dict]) -> list[str]:
    """The pod templates meet the Pod Security Standards' restricted level (which includes baseline)."""
    problems = []
    for workload in of_kind(manifests, "Deployment"):
        spec = pod_spec(workload)
        pod_sc = spec.get("securityContext") or {}
        say = lambda msg, where=ref(workload): problems.append(f"{where}: {msg}")  # noqa: E731
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                say(f"{field} must not be true")
        for volume in spec.get("volumes") or []:
            kinds = set(volume) - {"name"}
            if not kinds <= RESTRICTED_VOLUME_TYPES:
                say(f"volume {volume.get('name')} has type {', '.join(sorted(kinds - RESTRICTED_VOLUME_TYPES))}, "
                    f"not allowed by the restricted level")
        for sysctl in pod_sc.get("sysctls") or []:
            if sysctl.get("name") not in BASELINE_SYSCTLS:
                say(f"sysctl {sysctl.get('name')} is not allowed")
        if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
            say("windowsOptions.hostProcess must not be true")
        for problem in _apparmor_selinux(pod_sc):
            say(f"securityContext.{problem}")
        pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
        if pod_sc.get("runAsUser") == 0:
            say("securityContext.runAsUser must not be 0")
        if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
            say(f"securityContext.seccompProfile.type {pod_seccomp} is not allowed")
        for c in all_containers(spec):
            where = f"{ref(workload)}: container {c.get('name')}"
            sc = c.get("securityContext") or {}
            caps = sc.get("capabilities") or {}
            if sc.get("privileged"):
                say("privileged must not be true", where)
            if sc.get("allowPrivilegeEscalation") is not False:
                say("securityContext.allowPrivilegeEscalation must be false", where)
            if "ALL" not in (caps.get("drop") or []):
                say("securityContext.capabilities.drop must contain ALL", where)
            added = [cap for cap in caps.get("add") or [] if cap != "NET_BIND_SERVICE"]
            if added:
                say(f"securityContext.capabilities.add may only hold NET_BIND_SERVICE, not {', '.join(added)}", where)
            if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
                say("runAsNonRoot must be true (in the container or the pod securityContext)", where)
            if sc.get("runAsUser") == 0:
                say("securityContext.runAsUser must not be 0", where)
            seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
            if seccomp not in ("RuntimeDefault", "Localhost"):
                say("seccompProfile.type must be RuntimeDefault or Localhost (in the container or the pod)", where)
            if sc.get("procMount", "Default") != "Default":
                say("securityContext.procMount must be Default", where)
            for problem in _apparmor_selinux(sc):
                say(f"securityContext.{problem}", where)
            for port in c.get("ports") or []:
                if port.get("hostPort"):
                    say(f"port {port.get('name', port.get('containerPort'))} must not set hostPort", where)
    return problems


def _apparmor_selinux(security_context: dict) -> list[str]:
    problems = []
    apparmor = (security_context.get("appArmorProfile") or {}).get("type")
    if apparmor not in (None, "RuntimeDefault", "Localhost"):
        problems.append(f"appArmorProfile.type {apparmor} is not allowed")
    selinux = security_context.get("seLinuxOptions") or {}
    if selinux.get("type") not in (None, "", "container_t", "container_init_t", "container_kvm_t",
                                   "container_engine_t"):
        problems.append(f"seLinuxOptions.type {selinux['type']} is not allowed")
    if selinux.get("user") or selinux.get("role"):
        problems.append("seLinuxOptions.user and .role must not be set")
    return problems
