{{/*
Naming, labels and platform conventions shared by every platform-ops application chart.
Every define is namespaced "platform-lib." so it cannot collide with a chart's own helpers.
The constant defines below (partOf, the ports, the namespaces, prometheusName, dnsPodLabels) and runAsId in
_workload.tpl copy names of platform_ops/contract.py; tests/charts/test_library_contract.py keeps
them equal.
*/}}

{{/*
The platform the apps belong to. Prometheus keeps a scrape target only when the Service carries
app.kubernetes.io/part-of with this value, so it is fixed here rather than left to values.
*/}}
{{- define "platform-lib.partOf" -}}
platform-ops
{{- end -}}

{{/*
Port every HTTP Service exposes as "http". A constant of the platform, so that a client chart
(api-node calling core-go) derives the address of a peer without copying the peer's values.
*/}}
{{- define "platform-lib.httpServicePort" -}}
80
{{- end -}}

{{/*
Container port every app serves /metrics on, apart from any port an Ingress routes: Prometheus
scrapes it, the Service exposes it under the same name and number, nothing else reaches it.
*/}}
{{- define "platform-lib.metricsPortName" -}}
metrics
{{- end -}}

{{- define "platform-lib.metricsPort" -}}
9000
{{- end -}}

{{/*
The cluster DNS the apps may reach: pods labelled k8s-app=kube-dns in kube-system, port 53.
*/}}
{{- define "platform-lib.dnsNamespace" -}}
kube-system
{{- end -}}

{{- define "platform-lib.dnsPodLabels" -}}
k8s-app: kube-dns
{{- end -}}

{{- define "platform-lib.dnsPort" -}}
53
{{- end -}}

{{/*
Namespaces and pod labels of the traffic sources the NetworkPolicies admit. They mirror the
platform: the F5 NGINX Ingress Controller runs in namespace nginx-ingress, Prometheus in
namespace observability with label app.kubernetes.io/name=prometheus.
*/}}
{{- define "platform-lib.ingressControllerNamespace" -}}
nginx-ingress
{{- end -}}

{{- define "platform-lib.prometheusNamespace" -}}
observability
{{- end -}}

{{- define "platform-lib.prometheusName" -}}
prometheus
{{- end -}}

{{/*
Chart name, as used in app.kubernetes.io/name. No nameOverride: the discovery contract keys
Prometheus jobs and NetworkPolicy peers on this name.
*/}}
{{- define "platform-lib.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified name of a release's objects, computed from a release name and a chart name.
Takes a dict with "release" and "chart" so that a chart can name another chart's objects
(api-node -> core-go Service) with the same rule that names them.
*/}}
{{- define "platform-lib.fullnameFor" -}}
{{- if contains .chart .release -}}
{{- .release | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .release .chart | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "platform-lib.fullname" -}}
{{- include "platform-lib.fullnameFor" (dict "release" .Release.Name "chart" .Chart.Name) -}}
{{- end -}}

{{/*
In-cluster base URL of another platform chart's HTTP Service in the same namespace.
Takes a dict with "release" and "chart".
*/}}
{{- define "platform-lib.serviceUrl" -}}
{{- printf "http://%s:%s" (include "platform-lib.fullnameFor" .) (include "platform-lib.httpServicePort" .) -}}
{{- end -}}

{{- define "platform-lib.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The image tag as a label value: a digest's ":" is not allowed in labels and it is longer than
63 characters, so it becomes "sha256-<first 56 hex digits>".
*/}}
{{- define "platform-lib.version" -}}
{{- .Values.image.tag | toString | replace ":" "-" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Image reference: repository:tag for a commit SHA, repository@sha256:... for a digest, and
repository:tag@sha256:... when promotion wrote the digest of the tag's image beside it: the tag
names the build, the digest makes the kubelet pull exactly the bytes CI built and tested.
*/}}
{{- define "platform-lib.image" -}}
{{- $tag := required "image.tag is required: set it in values-<env>.yaml" .Values.image.tag | toString -}}
{{- $digest := .Values.image.digest | default "" | toString -}}
{{- if hasPrefix "sha256:" $tag -}}
{{- if $digest -}}
{{- fail "image.digest is set but image.tag is already a digest: keep one of them" -}}
{{- end -}}
{{- printf "%s@%s" .Values.image.repository $tag -}}
{{- else if $digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag $digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Labels that select the pods. Only name and instance: they never change over a release's life,
and a Deployment's selector is immutable.
*/}}
{{- define "platform-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "platform-lib.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{/*
Every label value is quoted: an image tag such as 1234567 or 6063e25 would otherwise be read
back as a number by YAML parsers and rejected by the API server.
*/}}
{{- define "platform-lib.labels" -}}
helm.sh/chart: {{ include "platform-lib.chart" . | quote }}
{{ include "platform-lib.selectorLabels" . }}
app.kubernetes.io/version: {{ include "platform-lib.version" . | quote }}
app.kubernetes.io/component: {{ include (printf "%s.component" .Chart.Name) . | quote }}
app.kubernetes.io/part-of: {{ include "platform-lib.partOf" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- end -}}

{{- define "platform-lib.metadata" -}}
name: {{ include "platform-lib.fullname" . }}
namespace: {{ .Release.Namespace }}
labels:
  {{- include "platform-lib.labels" . | nindent 2 }}
{{- end -}}
