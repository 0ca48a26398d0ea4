{{/*
NetworkPolicies of a platform-ops application. The default-deny policy isolates the pods for
ingress; each allow policy then admits exactly one flow: one kind of peer, one named port.
Named ports are resolved against the pod's container ports, so a policy follows a port change.
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
  {{- include "platform-lib.networkPolicyMetadata" (dict "ctx" . "suffix" "default-deny-ingress") | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
{{- end -}}

{{/*
Prometheus scrapes the container port that serves /metrics (the chart's metricsContainerPort).
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
          port: {{ include (printf "%s.metricsContainerPort" .Chart.Name) . }}
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
