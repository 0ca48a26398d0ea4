"""The real-cluster tier's machinery: a control plane on loopback, the Pulumi
engine on a copy of the project, and what Argo CD and Prometheus would do there."""
