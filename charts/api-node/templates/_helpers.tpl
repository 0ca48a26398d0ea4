{{/*
api-node specifics the platform-lib templates call by chart name.
*/}}

{{- define "api-node.component" -}}
api
{{- end -}}

{{- define "api-node.containerPorts" -}}
- name: http
  containerPort: {{ .Values.port }}
  protocol: TCP
{{ include "platform-lib.metricsContainerPort" . }}
{{- end -}}

{{/*
Address of the core-go Service of release coreGo.releaseName in this namespace: the name comes from
the library's naming rule applied to that release and chart "core-go", the port from the library's
HTTP Service port, which is what the core-go chart's Service exposes as "http".
*/}}
{{- define "api-node.coreGoBaseUrl" -}}
{{- include "platform-lib.serviceUrl" (dict "release" .Values.coreGo.releaseName "chart" "core-go") -}}
{{- end -}}

{{- define "api-node.env" -}}
- name: PORT
  value: {{ .Values.port | quote }}
{{ include "platform-lib.metricsEnv" . }}
- name: ENV
  value: {{ .Values.environment | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
# The process exits at start without it.
- name: CORE_GO_BASE_URL
  value: {{ include "api-node.coreGoBaseUrl" . | quote }}
{{- end -}}

{{/*
"http" is what the Ingress routes; /metrics is served on its own "metrics" port, which no Ingress
routes (the chart checks refuse one that does).
*/}}
{{- define "api-node.servicePorts" -}}
- name: http
  port: {{ include "platform-lib.httpServicePort" . }}
  targetPort: http
  protocol: TCP
{{ include "platform-lib.metricsServicePort" . }}
{{- end -}}
