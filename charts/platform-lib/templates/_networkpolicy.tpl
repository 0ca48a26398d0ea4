{{/*
NetworkPolicies of a platform-ops application. The default-deny policy isolates the pods for
ingress and egress; each allow policy then admits exactly one flow: one kind of peer, one named
port. Named ports are resolved against the container ports of the pods that receive the traffic
(this app's for ingress, the peer's for egress), so a policy follows a port change.
*/}}

{{- define "platform-lib.networkPolicyMetadata" -}}
name: {{ printf "%s-%s" (include "platform-lib.fullname" .ctx) .suffix | trunc 63 | trimSuffix "-" }}
namespace: {{ .ctx.Release.Namespace }}
labels:
  {{- include "platform-lib.labels" .ctx | nindent 2 }}
{{- end -}}

{{- define "platform-lib.networkPolicy.defaultDeny" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "platform-lib.networkPolicyMetadata" (dict "ctx" . "suffix" "default-deny") | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
{{- end -}}

{{/*
Name resolution through the cluster DNS only: its pods (namespace AND pod labels in one peer), on
53 over UDP and over TCP (truncated answers are retried over TCP).
*/}}
{{- define "platform-lib.networkPolicy.allowDns" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "platform-lib.networkPolicyMetadata" (dict "ctx" . "suffix" "allow-dns") | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Egress
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ include "platform-lib.dnsNamespace" . }}
          podSelector:
            matchLabels:
              {{- include "platform-lib.dnsPodLabels" . | nindent 14 }}
      ports:
        - protocol: UDP
          port: {{ include "platform-lib.dnsPort" . }}
        - protocol: TCP
          port: {{ include "platform-lib.dnsPort" . }}
{{- end -}}

{{/*
Prometheus scrapes the "metrics" container port, which serves /metrics and nothing else.
Both selectors sit in one peer: pods named prometheus AND in namespace observability.
*/}}
{{- define "platform-lib.networkPolicy.allowPrometheus" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "platform-lib.networkPolicyMetadata" (dict "ctx" . "suffix" "allow-prometheus") | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ include "platform-lib.prometheusNamespace" . }}
          podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ include "platform-lib.prometheusName" . }}
      ports:
        - protocol: TCP
          port: {{ include "platform-lib.metricsPortName" . }}
{{- end -}}

{{/*
The ingress controller's pods reach the app's "http" container port.
*/}}
{{- define "platform-lib.networkPolicy.allowIngressController" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "platform-lib.networkPolicyMetadata" (dict "ctx" . "suffix" "allow-ingress-controller") | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ include "platform-lib.ingressControllerNamespace" . }}
      ports:
        - protocol: TCP
          port: http
{{- end -}}

{{/*
Pods of another platform app in the same namespace reach this app's "http" container port.
Takes a dict with "ctx" (the chart's root context) and "app" (the client's app name).
*/}}
{{- define "platform-lib.networkPolicy.allowApp" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "platform-lib.networkPolicyMetadata" (dict "ctx" .ctx "suffix" (printf "allow-%s" .app)) | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" .ctx | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ .app }}
              app.kubernetes.io/part-of: {{ include "platform-lib.partOf" .ctx }}
      ports:
        - protocol: TCP
          port: http
{{- end -}}


{{/*
This app's pods reach the "http" container port of another platform app's release in the same
namespace: the client side of a flow whose server side is that app's allowApp policy.
Takes a dict with "ctx" (the chart's root context), "app" (the server's chart name) and "release"
(the server's release name).
*/}}
{{- define "platform-lib.networkPolicy.allowEgressToApp" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "platform-lib.networkPolicyMetadata" (dict "ctx" .ctx "suffix" (printf "allow-egress-to-%s" .app)) | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" .ctx | nindent 6 }}
  policyTypes:
    - Egress
  egress:
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ .app }}
              app.kubernetes.io/instance: {{ .release }}
      ports:
        - protocol: TCP
          port: http
{{- end -}}
