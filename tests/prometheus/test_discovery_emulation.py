"""The stand-in for endpointslice discovery gives the labels Prometheus itself gives.

Expected label sets are transcribed from Prometheus v3.13.4's own tests in
discovery/kubernetes/endpointslice_test.go, so the discovery proof rests on what Prometheus
really does, not on what this repository assumes it does.
"""
from __future__ import annotations

from testbed.discovery_proof import Cluster, endpoint_slice_targets, endpoint_slices, file_sd_groups

POD_LABELS = {
    "__meta_kubernetes_pod_host_ip": "2.3.4.5",
    "__meta_kubernetes_pod_ip": "4.3.2.1",
    "__meta_kubernetes_pod_name": "testpod",
    "__meta_kubernetes_pod_node_name": "testnode",
    "__meta_kubernetes_pod_phase": "",
    "__meta_kubernetes_pod_ready": "unknown",
    "__meta_kubernetes_pod_uid": "deadbeef",
}
GROUP_LABELS = {
    "__meta_kubernetes_endpointslice_address_type": "IPv4",
    "__meta_kubernetes_endpointslice_name": "testsidecar",
    "__meta_kubernetes_namespace": "default",
}


def sidecar_cluster() -> Cluster:
    """TestEndpointSliceDiscoverySidecarContainer's objects."""
    cluster = Cluster("default")
    cluster.pods.append({
        "metadata": {"name": "testpod", "namespace": "default", "uid": "deadbeef"},
        "spec": {
            "nodeName": "testnode",
            "initContainers": [
                {"name": "ic1", "image": "ic1:latest",
                 "ports": [{"name": "initport", "containerPort": 1111, "protocol": "TCP"}]},
                {"name": "ic2", "image": "ic2:latest",
                 "ports": [{"name": "initport", "containerPort": 9111, "protocol": "TCP"}]},
            ],
            "containers": [{"name": "c1", "image": "c1:latest",
                            "ports": [{"name": "mainport", "containerPort": 9000, "protocol": "TCP"}]}],
        },
        "status": {"hostIP": "2.3.4.5", "podIP": "4.3.2.1"},
    })
    cluster.endpoint_slices.append({
        "metadata": {"name": "testsidecar", "namespace": "default"},
        "addressType": "IPv4",
        "ports": [{"name": "testport", "port": 9000, "protocol": "TCP"},
                  {"name": "initport", "port": 9111, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["4.3.2.1"],
                       "targetRef": {"kind": "Pod", "name": "testpod", "namespace": "default"}}],
    })
    return cluster


def test_targets_match_prometheus_for_slice_ports_init_containers_and_uncovered_ports():
    cluster = sidecar_cluster()
    assert endpoint_slice_targets(cluster, cluster.endpoint_slices[0]) == [
        {**GROUP_LABELS, **POD_LABELS,
         "__address__": "4.3.2.1:9000",
         "__meta_kubernetes_endpointslice_address_target_kind": "Pod",
         "__meta_kubernetes_endpointslice_address_target_name": "testpod",
         "__meta_kubernetes_endpointslice_port": "9000",
         "__meta_kubernetes_endpointslice_port_name": "testport",
         "__meta_kubernetes_endpointslice_port_protocol": "TCP",
         "__meta_kubernetes_pod_container_image": "c1:latest",
         "__meta_kubernetes_pod_container_name": "c1",
         "__meta_kubernetes_pod_container_port_name": "mainport",
         "__meta_kubernetes_pod_container_port_number": "9000",
         "__meta_kubernetes_pod_container_port_protocol": "TCP",
         "__meta_kubernetes_pod_container_init": "false"},
        {**GROUP_LABELS, **POD_LABELS,
         "__address__": "4.3.2.1:9111",
         "__meta_kubernetes_endpointslice_address_target_kind": "Pod",
         "__meta_kubernetes_endpointslice_address_target_name": "testpod",
         "__meta_kubernetes_endpointslice_port": "9111",
         "__meta_kubernetes_endpointslice_port_name": "initport",
         "__meta_kubernetes_endpointslice_port_protocol": "TCP",
         "__meta_kubernetes_pod_container_image": "ic2:latest",
         "__meta_kubernetes_pod_container_name": "ic2",
         "__meta_kubernetes_pod_container_port_name": "initport",
         "__meta_kubernetes_pod_container_port_number": "9111",
         "__meta_kubernetes_pod_container_port_protocol": "TCP",
         "__meta_kubernetes_pod_container_init": "true"},
        {**GROUP_LABELS, **POD_LABELS,
         "__address__": "4.3.2.1:1111",
         "__meta_kubernetes_pod_container_image": "ic1:latest",
         "__meta_kubernetes_pod_container_name": "ic1",
         "__meta_kubernetes_pod_container_port_name": "initport",
         "__meta_kubernetes_pod_container_port_number": "1111",
         "__meta_kubernetes_pod_container_port_protocol": "TCP",
         "__meta_kubernetes_pod_container_init": "true"},
    ]


def test_group_labels_match_prometheus_for_a_slice_of_a_service():
    """TestEndpointSliceDiscoveryNamespaces, namespace ns1: slice labels and annotations, and the
    labels of the Service the slice names, on every target."""
    cluster = Cluster("ns1")
    cluster.services.append({"metadata": {"name": "testendpoints", "namespace": "ns1", "labels": {"app": "app1"}}})
    cluster.endpoint_slices.append({
        "metadata": {"name": "testendpoints", "namespace": "ns1",
                     "labels": {"kubernetes.io/service-name": "testendpoints"},
                     "annotations": {"test.annotation": "test"}},
        "addressType": "IPv4",
        "ports": [{"name": "testport", "port": 9000, "protocol": "TCP", "appProtocol": "http"}],
        "endpoints": [{"addresses": ["2.3.4.5"], "zone": "us-east-1b",
                       "conditions": {"ready": True, "serving": True, "terminating": False}}],
    })
    assert endpoint_slice_targets(cluster, cluster.endpoint_slices[0]) == [{
        "__meta_kubernetes_endpointslice_address_type": "IPv4",
        "__meta_kubernetes_endpointslice_name": "testendpoints",
        "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name": "testendpoints",
        "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name": "true",
        "__meta_kubernetes_endpointslice_annotation_test_annotation": "test",
        "__meta_kubernetes_endpointslice_annotationpresent_test_annotation": "true",
        "__meta_kubernetes_namespace": "ns1",
        "__meta_kubernetes_service_label_app": "app1",
        "__meta_kubernetes_service_labelpresent_app": "true",
        "__meta_kubernetes_service_name": "testendpoints",
        "__address__": "2.3.4.5:9000",
        "__meta_kubernetes_endpointslice_endpoint_conditions_ready": "true",
        "__meta_kubernetes_endpointslice_endpoint_conditions_serving": "true",
        "__meta_kubernetes_endpointslice_endpoint_conditions_terminating": "false",
        "__meta_kubernetes_endpointslice_endpoint_zone": "us-east-1b",
        "__meta_kubernetes_endpointslice_port": "9000",
        "__meta_kubernetes_endpointslice_port_name": "testport",
        "__meta_kubernetes_endpointslice_port_protocol": "TCP",
        "__meta_kubernetes_endpointslice_port_app_protocol": "http",
    }]


def _pod(name: str, ip: str, port: int, phase: str = "Running") -> dict:
    return {"metadata": {"name": name, "namespace": "default", "uid": name, "labels": {"app": "a"}},
            "spec": {"containers": [{"name": "a", "ports": [{"name": "http", "containerPort": port}]}]},
            "status": {"phase": phase, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if phase == "Running" else "False"}]}}


def test_slices_resolve_named_target_ports_per_pod_and_keep_not_ready_pods():
    service = {"metadata": {"name": "a", "namespace": "default", "labels": {"app": "a"}},
               "spec": {"selector": {"app": "a"},
                        "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                                  {"name": "metrics", "port": 3000, "targetPort": "http"}]}}
    pods = [_pod("a-1", "127.0.0.2", 3001), _pod("a-2", "127.0.0.3", 3002, phase="Pending"),
            _pod("a-3", "127.0.0.4", 3003, phase="Failed")]
    slices = endpoint_slices(service, pods)
    assert [(s["ports"], [(e["targetRef"]["name"], e["conditions"]["ready"]) for e in s["endpoints"]])
            for s in slices] == [
        ([{"name": "http", "port": 3001, "protocol": "TCP"}, {"name": "metrics", "port": 3001, "protocol": "TCP"}],
         [("a-1", True)]),
        ([{"name": "http", "port": 3002, "protocol": "TCP"}, {"name": "metrics", "port": 3002, "protocol": "TCP"}],
         [("a-2", False)]),
    ]
    cluster = Cluster("default", pods=pods, services=[service], endpoint_slices=slices)
    assert sorted((g["targets"][0], g["labels"]["__meta_kubernetes_endpointslice_port_name"])
                  for g in file_sd_groups(cluster, ["default"])) == [
        ("127.0.0.2:3001", "http"), ("127.0.0.2:3001", "metrics"),
        ("127.0.0.3:3002", "http"), ("127.0.0.3:3002", "metrics")]
    assert file_sd_groups(cluster, ["other"]) == []
